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
  Napi::FunctionReference tensorCtor;
  std::vector<c10::OperatorHandle> ops;  // op handles by the index returned from opHandle()
};

inline AddonData& data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

// One JS handle = one refcount on a TensorImpl. Every op result gets a fresh handle.
class Tensor : public Napi::ObjectWrap<Tensor> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, at::Tensor t);
  static bool Is(Napi::Env env, const Napi::Value& v);
  static at::Tensor& From(const Napi::Value& v, const char* what);

  explicit Tensor(const Napi::CallbackInfo& info);
  ~Tensor() override;
  void Finalize(Napi::Env env) override;

  at::Tensor t;
  int64_t accounted = 0;
  void release(napi_env env);

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Strides(const Napi::CallbackInfo& info);
  Napi::Value DType(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Numel(const Napi::CallbackInfo& info);
  Napi::Value Dim(const Napi::CallbackInfo& info);
  Napi::Value RequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value IsLeaf(const Napi::CallbackInfo& info);
  Napi::Value GradFn(const Napi::CallbackInfo& info);
  Napi::Value Grad(const Napi::CallbackInfo& info);
  Napi::Value SetGrad(const Napi::CallbackInfo& info);
  Napi::Value Item(const Napi::CallbackInfo& info);
  Napi::Value ToBuffer(const Napi::CallbackInfo& info);
  Napi::Value CopyFromBuffer(const Napi::CallbackInfo& info);
  Napi::Value SameStorage(const Napi::CallbackInfo& info);
  Napi::Value Nbytes(const Napi::CallbackInfo& info);
  Napi::Value IsContiguous(const Napi::CallbackInfo& info);
};

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

at::ScalarType dtypeFromInt(int64_t v);
Napi::Value ivalueToJs(Napi::Env env, const c10::IValue& v);

}  // namespace vigil
