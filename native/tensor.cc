// The tensor handle: metadata, data in/out, explicit dispose with a GC backstop.
#include "common.h"
#include <atomic>
#include <cstring>
#include <torch/csrc/autograd/function.h>

namespace vigil {

std::atomic<int64_t> liveHandles{0};  // JS handles holding a tensor, for memory().numTensors

void throwTorch(Napi::Env env, const std::string& msg, const std::string& op) {
  auto err = Napi::Error::New(env, msg);
  err.Set("name", Napi::String::New(env, "TorchError"));
  if (!op.empty()) err.Set("op", Napi::String::New(env, op));
  throw err;
}

static int64_t storageBytes(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return 0;
  return static_cast<int64_t>(t.storage().nbytes());
}

Napi::Function Tensor::Init(Napi::Env env) {
  return DefineClass(env, "NativeTensor", {
    InstanceMethod<&Tensor::Dispose>("dispose"),
    InstanceMethod<&Tensor::IsDisposed>("isDisposed"),
    InstanceMethod<&Tensor::Shape>("shape"),
    InstanceMethod<&Tensor::Strides>("strides"),
    InstanceMethod<&Tensor::DType>("dtype"),
    InstanceMethod<&Tensor::Device>("device"),
    InstanceMethod<&Tensor::Numel>("numel"),
    InstanceMethod<&Tensor::Dim>("dim"),
    InstanceMethod<&Tensor::RequiresGrad>("requiresGrad"),
    InstanceMethod<&Tensor::IsLeaf>("isLeaf"),
    InstanceMethod<&Tensor::GradFn>("gradFn"),
    InstanceMethod<&Tensor::Grad>("grad"),
    InstanceMethod<&Tensor::SetGrad>("setGrad"),
    InstanceMethod<&Tensor::Item>("item"),
    InstanceMethod<&Tensor::ToBuffer>("toBuffer"),
    InstanceMethod<&Tensor::CopyFromBuffer>("copyFromBuffer"),
    InstanceMethod<&Tensor::SameStorage>("sameStorage"),
    InstanceMethod<&Tensor::Nbytes>("nbytes"),
    InstanceMethod<&Tensor::IsContiguous>("isContiguous"),
  });
}

Tensor::Tensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tensor>(info) {}
Tensor::~Tensor() {
  if (t.defined()) liveHandles--;
  t.reset();
}

void Tensor::release(napi_env env) {
  if (!t.defined() && accounted == 0) return;
  if (t.defined()) liveHandles--;
  t.reset();
  if (accounted) {
    int64_t r;
    napi_adjust_external_memory(env, -accounted, &r);
    accounted = 0;
  }
}

void Tensor::Finalize(Napi::Env env) { release(env); }

Napi::Object Tensor::Wrap(Napi::Env env, at::Tensor tensor) {
  Napi::Object obj = data(env).tensorCtor.New({});
  Tensor* self = Napi::ObjectWrap<Tensor>::Unwrap(obj);
  self->t = std::move(tensor);
  if (self->t.defined()) liveHandles++;
  self->accounted = storageBytes(self->t);
  if (self->accounted) {
    int64_t r;
    napi_adjust_external_memory(env, self->accounted, &r);
  }
  return obj;
}

bool Tensor::Is(Napi::Env env, const Napi::Value& v) {
  return v.IsObject() && v.As<Napi::Object>().InstanceOf(data(env).tensorCtor.Value());
}

at::Tensor& Tensor::From(const Napi::Value& v, const char* what) {
  Napi::Env env = v.Env();
  if (!Is(env, v)) throw Napi::TypeError::New(env, std::string(what) + ": expected a Tensor");
  Tensor* self = Napi::ObjectWrap<Tensor>::Unwrap(v.As<Napi::Object>());
  if (!self->t.defined()) throw Napi::Error::New(env, std::string(what) + ": tensor is disposed");
  return self->t;
}

#define SELF_CHECK()                                                              \
  if (!t.defined()) throw Napi::Error::New(info.Env(), "Tensor is disposed");

Napi::Value Tensor::Dispose(const Napi::CallbackInfo& info) {
  release(info.Env());
  return info.Env().Undefined();
}
Napi::Value Tensor::IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !t.defined()); }

static Napi::Array intArray(Napi::Env env, c10::IntArrayRef v) {
  auto a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(v[i])));
  return a;
}

Napi::Value Tensor::Shape(const Napi::CallbackInfo& info) { SELF_CHECK(); return intArray(info.Env(), t.sizes()); }
Napi::Value Tensor::Strides(const Napi::CallbackInfo& info) { SELF_CHECK(); return intArray(info.Env(), t.strides()); }
Napi::Value Tensor::DType(const Napi::CallbackInfo& info) { SELF_CHECK(); return Napi::Number::New(info.Env(), static_cast<int>(t.scalar_type())); }
Napi::Value Tensor::Device(const Napi::CallbackInfo& info) { SELF_CHECK(); return Napi::String::New(info.Env(), t.device().str()); }
Napi::Value Tensor::Numel(const Napi::CallbackInfo& info) { SELF_CHECK(); return Napi::Number::New(info.Env(), static_cast<double>(t.numel())); }
Napi::Value Tensor::Dim(const Napi::CallbackInfo& info) { SELF_CHECK(); return Napi::Number::New(info.Env(), static_cast<double>(t.dim())); }
Napi::Value Tensor::RequiresGrad(const Napi::CallbackInfo& info) { SELF_CHECK(); return Napi::Boolean::New(info.Env(), t.requires_grad()); }
Napi::Value Tensor::IsLeaf(const Napi::CallbackInfo& info) { SELF_CHECK(); return Napi::Boolean::New(info.Env(), t.is_leaf()); }
Napi::Value Tensor::Nbytes(const Napi::CallbackInfo& info) { SELF_CHECK(); return Napi::Number::New(info.Env(), static_cast<double>(storageBytes(t))); }
Napi::Value Tensor::IsContiguous(const Napi::CallbackInfo& info) { SELF_CHECK(); return Napi::Boolean::New(info.Env(), t.is_contiguous()); }

Napi::Value Tensor::GradFn(const Napi::CallbackInfo& info) {
  SELF_CHECK();
  const auto& fn = t.grad_fn();
  if (!fn) return info.Env().Null();
  return Napi::String::New(info.Env(), fn->name());
}

Napi::Value Tensor::Grad(const Napi::CallbackInfo& info) {
  SELF_CHECK();
  TORCH_TRY
  const at::Tensor& g = t.grad();
  if (!g.defined()) return info.Env().Null();
  return Wrap(info.Env(), g);
  TORCH_CATCH(info.Env(), "grad")
}

Napi::Value Tensor::SetGrad(const Napi::CallbackInfo& info) {
  SELF_CHECK();
  TORCH_TRY
  if (info[0].IsNull() || info[0].IsUndefined()) t.mutable_grad().reset();
  else t.mutable_grad() = From(info[0], "setGrad");
  return info.Env().Undefined();
  TORCH_CATCH(info.Env(), "setGrad")
}

Napi::Value Tensor::Item(const Napi::CallbackInfo& info) {
  SELF_CHECK();
  TORCH_TRY
  if (t.numel() != 1) throw Napi::Error::New(info.Env(), "item(): tensor has " + std::to_string(t.numel()) + " elements, expected exactly 1");
  c10::Scalar s = t.item();
  if (s.isBoolean()) return Napi::Boolean::New(info.Env(), s.toBool());
  if (s.isIntegral(false)) return Napi::Number::New(info.Env(), static_cast<double>(s.toLong()));
  return Napi::Number::New(info.Env(), s.toDouble());
  TORCH_CATCH(info.Env(), "item")
}

// Copies the tensor's values into a new ArrayBuffer (contiguous, row-major, on the CPU).
Napi::Value Tensor::ToBuffer(const Napi::CallbackInfo& info) {
  SELF_CHECK();
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
Napi::Value Tensor::CopyFromBuffer(const Napi::CallbackInfo& info) {
  SELF_CHECK();
  auto view = info[0].As<Napi::TypedArray>();
  size_t n = t.numel() * t.element_size();
  if (view.ByteLength() != n) throw Napi::RangeError::New(info.Env(), "copyFromBuffer: byte length " + std::to_string(view.ByteLength()) + " does not match tensor bytes " + std::to_string(n));
  if (!t.is_contiguous() || !t.device().is_cpu()) throw Napi::Error::New(info.Env(), "copyFromBuffer: tensor must be contiguous and on the CPU");
  auto ab = view.ArrayBuffer();
  if (n) std::memcpy(t.data_ptr(), static_cast<uint8_t*>(ab.Data()) + view.ByteOffset(), n);
  return info.Env().Undefined();
}

Napi::Value Tensor::SameStorage(const Napi::CallbackInfo& info) {
  SELF_CHECK();
  at::Tensor& o = From(info[0], "sameStorage");
  return Napi::Boolean::New(info.Env(), t.has_storage() && o.has_storage() && t.storage().is_alias_of(o.storage()));
}

}  // namespace vigil
