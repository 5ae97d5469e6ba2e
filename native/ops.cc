// Generic op call through the c10 dispatcher: JS arguments are converted to IValues guided by
// the op's schema, the boxed kernel runs (autograd included), results come back as fresh handles.
#include "common.h"
#include <sstream>

namespace vigil {

static std::string typeName(const c10::TypePtr& t) { return t->str(); }

static int64_t toInt(const Napi::Value& v, const c10::Argument& a) {
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d)))
      throw Napi::TypeError::New(v.Env(), "argument '" + a.name() + "' must be an integer, got " + std::to_string(d));
    return static_cast<int64_t>(d);
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (v.IsBigInt()) { bool lossless; return v.As<Napi::BigInt>().Int64Value(&lossless); }
  throw Napi::TypeError::New(v.Env(), "argument '" + a.name() + "' must be an integer");
}

static c10::Scalar toScalar(const Napi::Value& v, const c10::Argument& a) {
  if (v.IsBoolean()) return c10::Scalar(v.As<Napi::Boolean>().Value());
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    // An integral JS number is passed as an integer Scalar, as Python passes `2` (not `2.0`).
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.007199254740992e15) return c10::Scalar(static_cast<int64_t>(d));
    return c10::Scalar(d);
  }
  if (v.IsBigInt()) { bool lossless; return c10::Scalar(v.As<Napi::BigInt>().Int64Value(&lossless)); }
  if (v.IsObject() && v.As<Napi::Object>().Has("double")) return c10::Scalar(v.As<Napi::Object>().Get("double").As<Napi::Number>().DoubleValue());
  throw Napi::TypeError::New(v.Env(), "argument '" + a.name() + "' must be a number or boolean");
}

static c10::IValue toIValue(const Napi::Value& v, const c10::TypePtr& type, const c10::Argument& a);

static c10::IValue toList(const Napi::Value& v, const c10::ListTypePtr& lt, const c10::Argument& a) {
  Napi::Env env = v.Env();
  const c10::TypePtr& el = lt->getElementType();
  auto kind = el->kind();
  if (!v.IsArray()) {
    // int[2] and friends accept a single number, broadcast to N entries as in PyTorch.
    if ((kind == c10::TypeKind::IntType || kind == c10::TypeKind::SymIntType) && v.IsNumber()) {
      int64_t x = toInt(v, a);
      size_t n = a.N() ? static_cast<size_t>(*a.N()) : 1;
      return c10::IValue(std::vector<int64_t>(n, x));
    }
    if (kind == c10::TypeKind::TensorType && Tensor::Is(env, v)) {
      return c10::IValue(c10::List<at::Tensor>({Tensor::From(v, a.name().c_str())}));
    }
    throw Napi::TypeError::New(env, "argument '" + a.name() + "' must be an array (" + typeName(lt) + ")");
  }
  auto arr = v.As<Napi::Array>();
  uint32_t n = arr.Length();
  switch (kind) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: {
      std::vector<int64_t> out(n);
      for (uint32_t i = 0; i < n; i++) out[i] = toInt(arr.Get(i), a);
      return c10::IValue(out);
    }
    case c10::TypeKind::FloatType: {
      std::vector<double> out(n);
      for (uint32_t i = 0; i < n; i++) out[i] = arr.Get(i).As<Napi::Number>().DoubleValue();
      return c10::IValue(out);
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> out;
      for (uint32_t i = 0; i < n; i++) out.push_back(arr.Get(i).ToBoolean().Value());
      return c10::IValue(out);
    }
    case c10::TypeKind::TensorType: {
      c10::List<at::Tensor> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; i++) out.push_back(Tensor::From(arr.Get(i), a.name().c_str()));
      return c10::IValue(out);
    }
    case c10::TypeKind::OptionalType: {
      c10::List<c10::optional<at::Tensor>> out;
      for (uint32_t i = 0; i < n; i++) {
        Napi::Value e = arr.Get(i);
        if (e.IsNull() || e.IsUndefined()) out.push_back(c10::nullopt);
        else out.push_back(Tensor::From(e, a.name().c_str()));
      }
      return c10::IValue(out);
    }
    case c10::TypeKind::NumberType: {
      std::vector<c10::IValue> items;
      for (uint32_t i = 0; i < n; i++) items.emplace_back(toScalar(arr.Get(i), a));
      c10::impl::GenericList out(c10::NumberType::get());
      for (auto& x : items) out.push_back(x);
      return c10::IValue(out);
    }
    default:
      throw Napi::TypeError::New(env, "argument '" + a.name() + "': unsupported list type " + typeName(lt));
  }
}

static c10::IValue toIValue(const Napi::Value& v, const c10::TypePtr& type, const c10::Argument& a) {
  Napi::Env env = v.Env();
  switch (type->kind()) {
    case c10::TypeKind::TensorType: return c10::IValue(Tensor::From(v, a.name().c_str()));
    case c10::TypeKind::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return toIValue(v, type->castRaw<c10::OptionalType>()->getElementType(), a);
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType:
      return c10::IValue(toInt(v, a));
    case c10::TypeKind::FloatType: return c10::IValue(v.As<Napi::Number>().DoubleValue());
    case c10::TypeKind::BoolType:
      if (!v.IsBoolean()) throw Napi::TypeError::New(env, "argument '" + a.name() + "' must be a boolean");
      return c10::IValue(v.As<Napi::Boolean>().Value());
    case c10::TypeKind::NumberType: return c10::IValue(toScalar(v, a));
    case c10::TypeKind::StringType: return c10::IValue(v.As<Napi::String>().Utf8Value());
    case c10::TypeKind::DeviceObjType: return c10::IValue(c10::Device(v.As<Napi::String>().Utf8Value()));
    case c10::TypeKind::ListType: return toList(v, type->cast<c10::ListType>(), a);
    case c10::TypeKind::GeneratorType: return c10::IValue();
    default:
      throw Napi::TypeError::New(env, "argument '" + a.name() + "': unsupported type " + typeName(type));
  }
}

Napi::Value ivalueToJs(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    if (!t.defined()) return env.Undefined();
    return Tensor::Wrap(env, t);
  }
  if (v.isNone()) return env.Undefined();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTensorList()) {
    auto l = v.toTensorList();
    auto a = Napi::Array::New(env, l.size());
    for (size_t i = 0; i < l.size(); i++) a.Set(static_cast<uint32_t>(i), Tensor::Wrap(env, l.get(i)));
    return a;
  }
  if (v.isIntList()) {
    auto l = v.toIntList();
    auto a = Napi::Array::New(env, l.size());
    for (size_t i = 0; i < l.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(l.get(i))));
    return a;
  }
  if (v.isDoubleList()) {
    auto l = v.toDoubleList();
    auto a = Napi::Array::New(env, l.size());
    for (size_t i = 0; i < l.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, l.get(i)));
    return a;
  }
  if (v.isTuple()) {
    const auto& el = v.toTupleRef().elements();
    auto a = Napi::Array::New(env, el.size());
    for (size_t i = 0; i < el.size(); i++) a.Set(static_cast<uint32_t>(i), ivalueToJs(env, el[i]));
    return a;
  }
  if (v.isList()) {
    auto l = v.toListRef();
    auto a = Napi::Array::New(env, l.size());
    for (size_t i = 0; i < l.size(); i++) a.Set(static_cast<uint32_t>(i), ivalueToJs(env, l[i]));
    return a;
  }
  if (v.isDevice()) return Napi::String::New(env, v.toDevice().str());
  throw Napi::Error::New(env, std::string("unsupported return type ") + v.tagKind());
}

static std::string describeArgs(const std::vector<c10::IValue>& stack, const c10::FunctionSchema& s) {
  std::ostringstream os;
  bool first = true;
  for (size_t i = 0; i < stack.size() && i < s.arguments().size(); i++) {
    const auto& v = stack[i];
    if (!v.isTensor()) continue;
    const auto& t = v.toTensor();
    if (!first) os << ", ";
    first = false;
    os << s.arguments()[i].name() << ": ";
    if (!t.defined()) { os << "undefined"; continue; }
    os << "[";
    for (size_t d = 0; d < t.sizes().size(); d++) os << (d ? "," : "") << t.sizes()[d];
    os << "] " << c10::toString(t.scalar_type());
  }
  return os.str();
}

// opHandle(name, overload) -> index used by callOp; throws when the op does not exist.
static Napi::Value OpHandle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  auto h = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!h) throw Napi::Error::New(env, "libtorch has no operator " + name + (overload.empty() ? "" : "." + overload));
  auto& ops = data(env).ops;
  ops.push_back(*h);
  return Napi::Number::New(env, static_cast<double>(ops.size() - 1));
}

// opSchema(index) -> the schema string, for diagnostics and the generator's checks.
static Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  auto& ops = data(info.Env()).ops;
  size_t i = info[0].As<Napi::Number>().Uint32Value();
  std::ostringstream os;
  os << ops.at(i).schema();
  return Napi::String::New(info.Env(), os.str());
}

// callOp(index, args[]): args are positional in schema order; undefined takes the default.
static Napi::Value CallOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& ops = data(env).ops;
  uint32_t idx = info[0].As<Napi::Number>().Uint32Value();
  if (idx >= ops.size()) throw Napi::RangeError::New(env, "callOp: bad op index");
  const c10::OperatorHandle& op = ops[idx];
  const c10::FunctionSchema& schema = op.schema();
  const auto& args = schema.arguments();
  Napi::Array js = info[1].As<Napi::Array>();
  uint32_t given = js.Length();
  auto opname = [&schema] { return schema.name() + (schema.overload_name().empty() ? "" : "." + schema.overload_name()); };
  std::vector<c10::IValue> stack;
  stack.reserve(args.size());
  try {
    for (size_t i = 0; i < args.size(); i++) {
      const c10::Argument& a = args[i];
      Napi::Value v = i < given ? js.Get(static_cast<uint32_t>(i)) : env.Undefined();
      if (v.IsUndefined()) {
        if (a.default_value()) { stack.push_back(*a.default_value()); continue; }
        if (a.type()->kind() == c10::TypeKind::OptionalType) { stack.emplace_back(); continue; }
        throw Napi::TypeError::New(env, "missing required argument '" + a.name() + "'");
      }
      stack.push_back(toIValue(v, a.type(), a));
    }
  } catch (const Napi::Error& e) {
    auto err = Napi::TypeError::New(env, opname() + ": " + e.Message());
    err.Set("op", Napi::String::New(env, opname()));
    throw err;
  }
  try {
    op.callBoxed(&stack);
  } catch (const c10::Error& e) {
    throwTorch(env, std::string(e.what_without_backtrace()) + " (in " + opname() + " with " + describeArgs(stack, schema) + ")", opname());
  } catch (const std::bad_alloc&) {
    throwTorch(env, "out of memory (in " + opname() + ")", opname());
  } catch (const std::exception& e) {
    throwTorch(env, std::string(e.what()) + " (in " + opname() + ")", opname());
  }
  size_t nret = schema.returns().size();
  if (nret == 0) return env.Undefined();
  if (nret == 1) return ivalueToJs(env, stack[0]);
  auto out = Napi::Array::New(env, nret);
  for (size_t i = 0; i < nret; i++) out.Set(static_cast<uint32_t>(i), ivalueToJs(env, stack[i]));
  return out;
}

// listOps() -> all "name.overload" registered in this libtorch, to check the generated table.
static Napi::Value ListOps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto names = c10::Dispatcher::singleton().getAllOpNames();
  auto a = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); i++)
    a.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i].name + (names[i].overload_name.empty() ? "" : "." + names[i].overload_name)));
  return a;
}

void InitOps(Napi::Env env, Napi::Object exports) {
  exports.Set("opHandle", Napi::Function::New(env, OpHandle));
  exports.Set("opSchema", Napi::Function::New(env, OpSchema));
  exports.Set("callOp", Napi::Function::New(env, CallOp));
  exports.Set("listOps", Napi::Function::New(env, ListOps));
}

}  // namespace vigil
