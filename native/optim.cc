// Fused optimiser updates: one pass over each parameter's memory instead of the ~10 elementwise
// ops of PyTorch's single-tensor Adam (each a full read and write of a parameter-sized tensor). The
// arithmetic per element is Adam's, in float32; the result can differ from the op-by-op update in
// the last bits (different rounding of the same formula), like PyTorch's own fused=True.
#include "common.h"
#include <ATen/Parallel.h>
#include <cmath>

namespace vigil {

// fusedAdam(param, grad, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, decoupled, step)
// -> true after updating param, expAvg and expAvgSq in place; false (nothing done) unless all four
// are float32 CPU tensors of one shape and one dense layout (contiguous or channels-last alike:
// the update is elementwise, so memory order is as good as any).
static Napi::Value FusedAdam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TORCH_TRY
  at::Tensor& p = Tensor::From(info[0], "fusedAdam param");
  at::Tensor& g = Tensor::From(info[1], "fusedAdam grad");
  at::Tensor& m = Tensor::From(info[2], "fusedAdam exp_avg");
  at::Tensor& v = Tensor::From(info[3], "fusedAdam exp_avg_sq");
  const double lr = info[4].ToNumber().DoubleValue(), beta1 = info[5].ToNumber().DoubleValue(), beta2 = info[6].ToNumber().DoubleValue();
  const double eps = info[7].ToNumber().DoubleValue(), wd = info[8].ToNumber().DoubleValue();
  const bool decoupled = info[9].ToBoolean().Value();
  const double step = info[10].ToNumber().DoubleValue();
  if (!p.is_non_overlapping_and_dense()) return Napi::Boolean::New(env, false);
  for (const at::Tensor* t : {&p, &g, &m, &v}) {
    if (!t->device().is_cpu() || t->scalar_type() != at::kFloat || t->sizes() != p.sizes() || t->strides() != p.strides()) return Napi::Boolean::New(env, false);
  }
  const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2);
  const float a1 = static_cast<float>(1 - beta1), a2 = static_cast<float>(1 - beta2);
  const float stepSize = static_cast<float>(lr / (1 - std::pow(beta1, step)));
  const float bc2Sqrt = static_cast<float>(std::sqrt(1 - std::pow(beta2, step)));
  const float e = static_cast<float>(eps), l2 = decoupled ? 0.f : static_cast<float>(wd);
  const float shrink = decoupled ? static_cast<float>(1 - lr * wd) : 1.f;
  float* pp = p.data_ptr<float>();
  const float* gp = g.data_ptr<float>();
  float* mp = m.data_ptr<float>();
  float* vp = v.data_ptr<float>();
  at::parallel_for(0, p.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      float pi = pp[i] * shrink;
      const float gi = gp[i] + l2 * pi;
      const float mi = mp[i] * b1 + a1 * gi;
      const float vi = vp[i] * b2 + a2 * gi * gi;
      mp[i] = mi;
      vp[i] = vi;
      pp[i] = pi - stepSize * (mi / (std::sqrt(vi) / bc2Sqrt + e));
    }
  });
  // In-place updates: bump the version counters as the ATen ops would.
  for (at::Tensor* t : {&p, &m, &v}) t->unsafeGetTensorImpl()->bump_version();
  return Napi::Boolean::New(env, true);
  TORCH_CATCH(env, "fusedAdam")
}

void InitOptim(Napi::Env env, Napi::Object exports) {
  exports.Set("fusedAdam", Napi::Function::New(env, FusedAdam));
}

}  // namespace vigil
