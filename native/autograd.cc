// Autograd entry points and global switches (grad mode is thread-local: set where ops run).
#include "common.h"
#include <torch/csrc/autograd/autograd.h>
#include <c10/core/GradMode.h>
#include <ATen/autocast_mode.h>

namespace vigil {

static std::vector<at::Tensor> tensorList(const Napi::Value& v, const char* what) {
  std::vector<at::Tensor> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  auto a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (e.IsUndefined() || e.IsNull()) out.emplace_back();
    else out.push_back(Tensor::From(e, what));
  }
  return out;
}

// backward(tensors[], grads[]|undefined, retainGraph, createGraph, inputs[]|undefined)
static Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TORCH_TRY
  auto tensors = tensorList(info[0], "backward");
  auto grads = tensorList(info[1], "backward grad");
  bool retain = info[2].ToBoolean().Value();
  bool create = info[3].ToBoolean().Value();
  auto inputs = tensorList(info[4], "backward inputs");
  torch::autograd::backward(tensors, grads, retain ? c10::optional<bool>(true) : c10::nullopt, create, inputs);
  return env.Undefined();
  TORCH_CATCH(env, "backward")
}

// grad(outputs[], inputs[], gradOutputs[]|undefined, retainGraph, createGraph, allowUnused)
static Napi::Value Grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TORCH_TRY
  auto outputs = tensorList(info[0], "grad outputs");
  auto inputs = tensorList(info[1], "grad inputs");
  auto gradOut = tensorList(info[2], "grad gradOutputs");
  bool create = info[4].ToBoolean().Value();
  c10::optional<bool> retain;
  if (info[3].IsBoolean()) retain = info[3].As<Napi::Boolean>().Value();
  bool allowUnused = info[5].ToBoolean().Value();
  auto res = torch::autograd::grad(outputs, inputs, gradOut, retain, create, allowUnused);
  auto a = Napi::Array::New(env, res.size());
  for (size_t i = 0; i < res.size(); i++) a.Set(static_cast<uint32_t>(i), res[i].defined() ? Napi::Value(Tensor::Wrap(env, res[i])) : env.Undefined());
  return a;
  TORCH_CATCH(env, "autograd.grad")
}

static Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TORCH_TRY
  at::Tensor& t = Tensor::From(info[0], "requiresGrad_");
  t.set_requires_grad(info[1].ToBoolean().Value());
  return env.Undefined();
  TORCH_CATCH(env, "requiresGrad_")
}

static Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

static Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

// setAutocast(device 'cpu'|'cuda', enabled, dtype 'bfloat16'|'float16') -> previous enabled state.
// Autocast is thread-local, like grad mode. The 1.13 API (kept, deprecated, in 2.x).
static Napi::Value SetAutocast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TORCH_TRY
  std::string device = info[0].As<Napi::String>().Utf8Value();
  bool enabled = info[1].ToBoolean().Value();
  std::string dt = info[2].As<Napi::String>().Utf8Value();
  if (dt != "bfloat16" && dt != "float16") throw Napi::TypeError::New(env, "setAutocast: dtype must be bfloat16 or float16, got " + dt);
  at::ScalarType dtype = dt == "bfloat16" ? at::kBFloat16 : at::kHalf;
  bool prev;
  if (device == "cpu") {
    prev = at::autocast::is_cpu_enabled();
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  } else if (device == "cuda") {
    prev = at::autocast::is_enabled();
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    throw Napi::TypeError::New(env, "setAutocast: device must be cpu or cuda, got " + device);
  }
  return Napi::Boolean::New(env, prev);
  TORCH_CATCH(env, "setAutocast")
}

// Drops the casts of leaf tensors (weights) that autocast keeps while a region is open.
static Napi::Value ClearAutocastCache(const Napi::CallbackInfo& info) {
  at::autocast::clear_cache();
  return info.Env().Undefined();
}

void InitAutograd(Napi::Env env, Napi::Object exports) {
  exports.Set("setAutocast", Napi::Function::New(env, SetAutocast));
  exports.Set("clearAutocastCache", Napi::Function::New(env, ClearAutocastCache));
  exports.Set("backward", Napi::Function::New(env, Backward));
  exports.Set("grad", Napi::Function::New(env, Grad));
  exports.Set("setRequiresGrad", Napi::Function::New(env, SetRequiresGrad));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled));
}

}  // namespace vigil
