// Shared declarations of the addon: per-env data, the tensor handle, error mapping.
#pragma once
#include <napi.h>
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <string>
#include <vector>

namespace vigil {

// Per-env state (a worker_thread gets its own env): never keep Napi references in statics.
struct AddonData {
  std::vector<c10::OperatorHandle> ops;  // op handles by the index returned from opHandle()
};

inline AddonData& data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

// A tensor handle is a type-tagged napi External owning one refcount on a TensorImpl (cheaper to
// create than an ObjectWrap: no JS constructor call). Every op result gets a fresh handle.
struct Handle {
  at::Tensor t;
  int64_t accounted = 0;  // bytes reported to V8 as external memory
};

namespace Tensor {
Napi::Value Wrap(Napi::Env env, at::Tensor t);
bool Is(Napi::Env env, const Napi::Value& v);
Handle* GetHandle(const Napi::Value& v, const char* what);
at::Tensor& From(const Napi::Value& v, const char* what);
void Init(Napi::Env env, Napi::Object exports);
}  // namespace Tensor

// Throws a JS Error named TorchError with libtorch's message minus the C++ backtrace.
[[noreturn]] void throwTorch(Napi::Env env, const std::string& msg, const std::string& op = "");

#define TORCH_TRY try {
#define TORCH_CATCH(env, opname)                                              \
  }                                                                           \
  catch (const Napi::Error&) { throw; }                                       \
  catch (const c10::Error& e) { ::vigil::throwTorch(env, e.what_without_backtrace(), opname); } \
  catch (const std::bad_alloc&) { ::vigil::throwTorch(env, "out of memory", opname); } \
  catch (const std::exception& e) { ::vigil::throwTorch(env, e.what(), opname); }

// Module parts.
void InitOps(Napi::Env env, Napi::Object exports);
void InitAutograd(Napi::Env env, Napi::Object exports);
void InitAllocator(Napi::Env env, Napi::Object exports);
void InstallAllocator();
void InitOptim(Napi::Env env, Napi::Object exports);
void InitWinograd(Napi::Env env, Napi::Object exports);

at::ScalarType dtypeFromInt(int64_t v);
Napi::Value ivalueToJs(Napi::Env env, const c10::IValue& v);

}  // namespace vigil
