// Module entry: per-env data, tensor creation from JS buffers, global settings.
#include "common.h"
#include <ATen/Parallel.h>
#include <ATen/core/Generator.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Version.h>
#include <torch/version.h>
#include <cstring>
#include <mutex>

namespace vigil {

at::ScalarType dtypeFromInt(int64_t v) { return static_cast<at::ScalarType>(v); }

static std::vector<int64_t> shapeOf(const Napi::Value& v) {
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> s(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) s[i] = a.Get(i).As<Napi::Number>().Int64Value();
  return s;
}

// fromBuffer(typedArray, dtype, shape, device?) -> a new tensor holding a copy of the bytes.
static Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TORCH_TRY
  auto view = info[0].As<Napi::TypedArray>();
  auto dtype = dtypeFromInt(info[1].As<Napi::Number>().Int64Value());
  auto shape = shapeOf(info[2]);
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
  size_t n = t.numel() * t.element_size();
  if (view.ByteLength() != n)
    throw Napi::RangeError::New(env, "tensor(): got " + std::to_string(view.ByteLength()) + " bytes for shape of " + std::to_string(t.numel()) + " elements (" + std::to_string(n) + " bytes)");
  if (n) std::memcpy(t.data_ptr(), static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset(), n);
  if (info[3].IsString()) {
    std::string dev = info[3].As<Napi::String>().Utf8Value();
    if (dev != "cpu") t = t.to(c10::Device(dev));
  }
  return Tensor::Wrap(env, t);
  TORCH_CATCH(env, "tensor")
}

static Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TORCH_TRY
  uint64_t seed = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  auto gen = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  return env.Undefined();
  TORCH_CATCH(env, "manualSeed")
}

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw Napi::RangeError::New(info.Env(), "setNumThreads: need at least 1 thread");
  at::set_num_threads(n);
  return info.Env().Undefined();
}

static Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

static Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  o.Set("cuda", Napi::Boolean::New(env, at::hasCUDA()));
  o.Set("mkldnn", Napi::Boolean::New(env, at::hasMKLDNN()));
  o.Set("parallel", Napi::String::New(env, at::get_parallel_info()));
  return o;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallAllocator();
  auto* d = new AddonData();
  env.SetInstanceData<AddonData>(d);
  Tensor::Init(env, exports);
  exports.Set("fromBuffer", Napi::Function::New(env, FromBuffer));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("info", Napi::Function::New(env, Info));
  InitOps(env, exports);
  InitAutograd(env, exports);
  InitAllocator(env, exports);
  InitOptim(env, exports);
  InitWinograd(env, exports);
  return exports;
}

}  // namespace vigil

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) { return vigil::Init(env, exports); }
NODE_API_MODULE(vigil_torch, InitAll)
