// Tensor handles: metadata, data in/out, explicit dispose with a GC finalizer as backstop.
#include "common.h"
#include <atomic>
#include <cstring>
#include <torch/csrc/autograd/function.h>

namespace vigil {

std::atomic<int64_t> liveHandles{0};  // handles holding a tensor, for memory().numTensors

void throwTorch(Napi::Env env, const std::string& msg, const std::string& op) {
  auto err = Napi::Error::New(env, msg);
  err.Set("name", Napi::String::New(env, "TorchError"));
  if (!op.empty()) err.Set("op", Napi::String::New(env, op));
  throw err;
}

namespace {

const napi_type_tag kTensorTag = {0x8d1f0c4a2b6e4f17ULL, 0xa53c9e07d4b21f68ULL};

int64_t storageBytes(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return 0;
  return static_cast<int64_t>(t.storage().nbytes());
}

void release(napi_env env, Handle* h) {
  if (h->t.defined()) liveHandles--;
  h->t.reset();
  if (h->accounted) {
    int64_t r;
    napi_adjust_external_memory(env, -h->accounted, &r);
    h->accounted = 0;
  }
}

void finalize(napi_env env, void* data, void*) {
  auto* h = static_cast<Handle*>(data);
  release(env, h);
  delete h;
}

}  // namespace

namespace Tensor {

Napi::Value Wrap(Napi::Env env, at::Tensor tensor) {
  auto* h = new Handle{std::move(tensor), 0};
  napi_value ext;
  if (napi_create_external(env, h, finalize, nullptr, &ext) != napi_ok) {
    delete h;
    throw Napi::Error::New(env, "could not create a tensor handle");
  }
  napi_type_tag_object(env, ext, &kTensorTag);
  if (h->t.defined()) liveHandles++;
  h->accounted = storageBytes(h->t);
  if (h->accounted) {
    int64_t r;
    napi_adjust_external_memory(env, h->accounted, &r);
  }
  return Napi::Value(env, ext);
}

bool Is(Napi::Env env, const Napi::Value& v) {
  if (!v.IsExternal()) return false;
  bool tagged = false;
  napi_check_object_type_tag(env, v, &kTensorTag, &tagged);
  return tagged;
}

Handle* GetHandle(const Napi::Value& v, const char* what) {
  Napi::Env env = v.Env();
  if (!Is(env, v)) throw Napi::TypeError::New(env, std::string(what) + ": expected a Tensor");
  void* p = nullptr;
  napi_get_value_external(env, v, &p);
  return static_cast<Handle*>(p);
}

at::Tensor& From(const Napi::Value& v, const char* what) {
  Handle* h = GetHandle(v, what);
  if (!h->t.defined()) throw Napi::Error::New(v.Env(), std::string(what) + ": tensor is disposed");
  return h->t;
}

}  // namespace Tensor

namespace {

Napi::Array intArray(Napi::Env env, c10::IntArrayRef v) {
  auto a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(v[i])));
  return a;
}

#define T0() at::Tensor& t = Tensor::From(info[0], "tensor")

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  release(info.Env(), Tensor::GetHandle(info[0], "dispose"));
  return info.Env().Undefined();
}
Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !Tensor::GetHandle(info[0], "isDisposed")->t.defined());
}
Napi::Value IsTensor(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), Tensor::Is(info.Env(), info[0])); }
Napi::Value Shape(const Napi::CallbackInfo& info) { T0(); return intArray(info.Env(), t.sizes()); }
Napi::Value Strides(const Napi::CallbackInfo& info) { T0(); return intArray(info.Env(), t.strides()); }
Napi::Value DType(const Napi::CallbackInfo& info) { T0(); return Napi::Number::New(info.Env(), static_cast<int>(t.scalar_type())); }
Napi::Value Device(const Napi::CallbackInfo& info) { T0(); return Napi::String::New(info.Env(), t.device().str()); }
Napi::Value Numel(const Napi::CallbackInfo& info) { T0(); return Napi::Number::New(info.Env(), static_cast<double>(t.numel())); }
Napi::Value Dim(const Napi::CallbackInfo& info) { T0(); return Napi::Number::New(info.Env(), static_cast<double>(t.dim())); }
Napi::Value RequiresGrad(const Napi::CallbackInfo& info) { T0(); return Napi::Boolean::New(info.Env(), t.requires_grad()); }
Napi::Value IsLeaf(const Napi::CallbackInfo& info) { T0(); return Napi::Boolean::New(info.Env(), t.is_leaf()); }
Napi::Value Nbytes(const Napi::CallbackInfo& info) { T0(); return Napi::Number::New(info.Env(), static_cast<double>(storageBytes(t))); }
Napi::Value IsContiguous(const Napi::CallbackInfo& info) { T0(); return Napi::Boolean::New(info.Env(), t.is_contiguous()); }

Napi::Value GradFn(const Napi::CallbackInfo& info) {
  T0();
  const auto& fn = t.grad_fn();
  if (!fn) return info.Env().Null();
  return Napi::String::New(info.Env(), fn->name());
}

Napi::Value Grad(const Napi::CallbackInfo& info) {
  T0();
  TORCH_TRY
  const at::Tensor& g = t.grad();
  if (!g.defined()) return info.Env().Null();
  return Tensor::Wrap(info.Env(), g);
  TORCH_CATCH(info.Env(), "grad")
}

Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  T0();
  TORCH_TRY
  if (info[1].IsNull() || info[1].IsUndefined()) t.mutable_grad().reset();
  else t.mutable_grad() = Tensor::From(info[1], "setGrad");
  return info.Env().Undefined();
  TORCH_CATCH(info.Env(), "setGrad")
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  T0();
  TORCH_TRY
  if (t.numel() != 1) throw Napi::Error::New(info.Env(), "item(): tensor has " + std::to_string(t.numel()) + " elements, expected exactly 1");
  c10::Scalar s = t.item();
  if (s.isBoolean()) return Napi::Boolean::New(info.Env(), s.toBool());
  if (s.isIntegral(false)) return Napi::Number::New(info.Env(), static_cast<double>(s.toLong()));
  return Napi::Number::New(info.Env(), s.toDouble());
  TORCH_CATCH(info.Env(), "item")
}

// Copies the tensor's values into a new ArrayBuffer (contiguous, row-major, on the CPU).
Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  T0();
  TORCH_TRY
  at::Tensor c = t.detach();
  if (!c.device().is_cpu()) c = c.to(at::kCPU);
  c = c.contiguous();
  size_t n = c.numel() * c.element_size();
  auto buf = Napi::ArrayBuffer::New(info.Env(), n);
  if (n) std::memcpy(buf.Data(), c.data_ptr(), n);
  return buf;
  TORCH_CATCH(info.Env(), "toBuffer")
}

// Overwrites a contiguous CPU tensor's values from a typed array of the same byte length.
Napi::Value CopyFromBuffer(const Napi::CallbackInfo& info) {
  T0();
  auto view = info[1].As<Napi::TypedArray>();
  size_t n = t.numel() * t.element_size();
  if (view.ByteLength() != n) throw Napi::RangeError::New(info.Env(), "copyFromBuffer: byte length " + std::to_string(view.ByteLength()) + " does not match tensor bytes " + std::to_string(n));
  if (!t.is_contiguous() || !t.device().is_cpu()) throw Napi::Error::New(info.Env(), "copyFromBuffer: tensor must be contiguous and on the CPU");
  auto ab = view.ArrayBuffer();
  if (n) std::memcpy(t.data_ptr(), static_cast<uint8_t*>(ab.Data()) + view.ByteOffset(), n);
  return info.Env().Undefined();
}

Napi::Value SameStorage(const Napi::CallbackInfo& info) {
  T0();
  at::Tensor& o = Tensor::From(info[1], "sameStorage");
  return Napi::Boolean::New(info.Env(), t.has_storage() && o.has_storage() && t.storage().is_alias_of(o.storage()));
}

}  // namespace

void Tensor::Init(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Napi::Function::Callback> fns[] = {
    {"dispose", Dispose}, {"isDisposed", IsDisposed}, {"isTensor", IsTensor}, {"shape", Shape}, {"strides", Strides},
    {"dtype", DType}, {"device", Device}, {"numel", Numel}, {"dim", Dim}, {"requiresGrad", RequiresGrad},
    {"isLeaf", IsLeaf}, {"gradFn", GradFn}, {"gradOf", Grad}, {"setGrad", SetGrad}, {"item", Item},
    {"toBuffer", ToBuffer}, {"copyFromBuffer", CopyFromBuffer}, {"sameStorage", SameStorage}, {"nbytes", Nbytes},
    {"isContiguous", IsContiguous},
  };
  for (const auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace vigil
