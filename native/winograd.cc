// vigil::conv2d_winograd: a 3×3, stride-1 convolution through oneDNN's Winograd F(4×4, 3×3)
// kernels, forward and both backward passes: the same convolution in float32 with a different
// summation (relative error ~1e-6, as cuDNN's Winograd algorithms on a GPU). Where it is not
// faster, or does not apply (no oneDNN headers at build time, no AVX-512, not float32 CPU,
// autocast on, another kernel size, stride, dilation or groups), it is at::conv2d, so callers may
// use it everywhere.
#include "common.h"
#include <torch/csrc/autograd/custom_function.h>
#include <ATen/autocast_mode.h>
#include <c10/core/GradMode.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#ifdef VIGIL_DNNL
#include <dnnl.hpp>
#include <mutex>
#endif
#include <atomic>

namespace vigil {

// Forward calls that ran Winograd kernels (tests check that a path really took them).
static std::atomic<int64_t> winogradCalls{0};

#ifdef VIGIL_DNNL
namespace {

using dnnl::memory;
using Dims = memory::dims;

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// A oneDNN view of a dense float32 tensor in its own memory order (NCHW, channels-last or any other).
memory::desc descOf(const at::Tensor& t) {
  return memory::desc(Dims(t.sizes().begin(), t.sizes().end()), memory::data_type::f32, Dims(t.strides().begin(), t.strides().end()));
}
memory::desc anyDesc(const Dims& d) { return memory::desc(d, memory::data_type::f32, memory::format_tag::any); }

// `t` as memory of layout `want`: the tensor itself when it already has it, else a reordered copy
// (kept alive by `keep`).
memory asLayout(dnnl::stream& s, const at::Tensor& t, const memory::desc& want, std::vector<at::Tensor>& keep) {
  memory user(descOf(t), engine(), t.data_ptr());
  if (user.get_desc() == want) return user;
  keep.push_back(at::empty({static_cast<int64_t>(want.get_size())}, at::kByte));
  memory m(want, engine(), keep.back().data_ptr());
  dnnl::reorder(user, m).execute(s, user, m);
  return m;
}

// Memory of layout `have` to be copied into `t` afterwards by `finish`, or `t` itself.
struct Out {
  memory m;
  bool copy = false;
  at::Tensor buffer;
};
Out outLayout(const at::Tensor& t, const memory::desc& have) {
  memory user(descOf(t), engine(), t.data_ptr());
  if (user.get_desc() == have) return {user, false, {}};
  at::Tensor b = at::empty({static_cast<int64_t>(have.get_size())}, at::kByte);
  return {memory(have, engine(), b.data_ptr()), true, b};
}
void finish(dnnl::stream& s, const Out& o, const at::Tensor& t) {
  if (!o.copy) return;
  memory user(descOf(t), engine(), t.data_ptr());
  dnnl::reorder(o.m, user).execute(s, const_cast<memory&>(o.m), user);
}

struct Geometry {
  Dims src, wei, bia, dst, stride{1, 1}, padL, padR;
};
Geometry geometry(const at::Tensor& x, const at::Tensor& w, int64_t ph, int64_t pw) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3), k = w.size(0);
  return {{n, c, h, wd}, {k, c, 3, 3}, {k}, {n, k, h + 2 * ph - 2, wd + 2 * pw - 2}, {1, 1}, {ph, pw}, {ph, pw}};
}

dnnl::convolution_forward::primitive_desc forwardPd(const Geometry& g) {
  auto d = dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_winograd, anyDesc(g.src), anyDesc(g.wei),
                                           memory::desc(g.bia, memory::data_type::f32, memory::format_tag::x), anyDesc(g.dst), g.stride, g.padL, g.padR);
  return dnnl::convolution_forward::primitive_desc(d, engine());
}

// Memory layouts follow the inputs: a channels-last input gives a channels-last result.
at::Tensor emptyLike(const at::Tensor& like, at::IntArrayRef sizes) {
  return at::empty(sizes, like.options().memory_format(like.suggest_memory_format()));
}

at::Tensor dense(const at::Tensor& t) {
  return t.is_non_overlapping_and_dense() ? t : t.contiguous(t.suggest_memory_format());
}

// Whether oneDNN has Winograd kernels for this CPU (it reports "could not create" otherwise); probed once.
bool available() {
  static int ok = -1;
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  if (ok < 0) {
    try {
      Geometry g{{1, 16, 8, 8}, {16, 16, 3, 3}, {16}, {1, 16, 8, 8}, {1, 1}, {1, 1}, {1, 1}};
      forwardPd(g);
      ok = 1;
    } catch (const dnnl::error&) { ok = 0; }
  }
  return ok == 1;
}

at::Tensor forwardImpl(const at::Tensor& x0, const at::Tensor& w0, const at::Tensor& bias, int64_t ph, int64_t pw) {
  at::Tensor x = dense(x0), w = dense(w0);
  const Geometry g = geometry(x, w, ph, pw);
  auto pd = forwardPd(g);
  winogradCalls++;
  dnnl::stream s(engine());
  std::vector<at::Tensor> keep;
  at::Tensor b = bias.contiguous();
  at::Tensor y = emptyLike(x, {g.dst[0], g.dst[1], g.dst[2], g.dst[3]});
  memory src = asLayout(s, x, pd.src_desc(), keep), wei = asLayout(s, w, pd.weights_desc(), keep);
  memory bm(pd.bias_desc(), engine(), b.data_ptr());
  Out dst = outLayout(y, pd.dst_desc());
  dnnl::convolution_forward(pd).execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_BIAS, bm}, {DNNL_ARG_DST, dst.m}});
  finish(s, dst, y);
  s.wait();
  return y;
}

struct WinogradConv : public torch::autograd::Function<WinogradConv> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, int64_t ph, int64_t pw) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["ph"] = ph;
    ctx->saved_data["pw"] = pw;
    return forwardImpl(x, w, b, ph, pw);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    // The gradients come from oneDNN, not from differentiable ops: a graph of them cannot be built.
    TORCH_CHECK(!c10::GradMode::is_enabled(), "conv2d_winograd: no double backward (createGraph); use the 'direct' algorithm for higher-order gradients");
    at::init_num_threads();  // the thread backward runs on
    auto saved = ctx->get_saved_variables();
    at::Tensor x = dense(saved[0]), w = dense(saved[1]);
    at::Tensor gy = dense(grads[0]);
    const int64_t ph = ctx->saved_data["ph"].toInt(), pw = ctx->saved_data["pw"].toInt();
    const Geometry g = geometry(x, w, ph, pw);
    auto fpd = forwardPd(g);
    dnnl::stream s(engine());
    std::vector<at::Tensor> keep;
    at::Tensor gx, gw, gb;
    c10::optional<memory> dyData;
    if (ctx->needs_input_grad(0)) {
      auto d = dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_winograd, anyDesc(g.src), anyDesc(g.wei), anyDesc(g.dst), g.stride, g.padL, g.padR);
      dnnl::convolution_backward_data::primitive_desc pd(d, engine(), fpd);
      gx = emptyLike(x, x.sizes());
      dyData = asLayout(s, gy, pd.diff_dst_desc(), keep);
      memory wei = asLayout(s, w, pd.weights_desc(), keep);
      Out dx = outLayout(gx, pd.diff_src_desc());
      dnnl::convolution_backward_data(pd).execute(s, {{DNNL_ARG_DIFF_DST, *dyData}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, dx.m}});
      finish(s, dx, gx);
    }
    if (ctx->needs_input_grad(1) || ctx->needs_input_grad(2)) {
      auto d = dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_winograd, anyDesc(g.src), anyDesc(g.wei),
                                                        memory::desc(g.bia, memory::data_type::f32, memory::format_tag::x), anyDesc(g.dst), g.stride, g.padL, g.padR);
      dnnl::convolution_backward_weights::primitive_desc pd(d, engine(), fpd);
      gw = emptyLike(w, w.sizes());
      gb = at::empty({w.size(0)}, w.options());
      // The output gradient in the layout backward-data already reordered it to, where they agree.
      memory src = asLayout(s, x, pd.src_desc(), keep);
      memory dy = dyData && dyData->get_desc() == pd.diff_dst_desc() ? *dyData : asLayout(s, gy, pd.diff_dst_desc(), keep);
      Out dw = outLayout(gw, pd.diff_weights_desc());
      memory db(pd.diff_bias_desc(), engine(), gb.data_ptr());
      dnnl::convolution_backward_weights(pd).execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, dw.m}, {DNNL_ARG_DIFF_BIAS, db}});
      finish(s, dw, gw);
    }
    s.wait();
    return {gx, ctx->needs_input_grad(1) ? gw : at::Tensor(), ctx->needs_input_grad(2) ? gb : at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace
#endif

static bool applies(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b, at::IntArrayRef padding) {
#ifdef VIGIL_DNNL
  if (x.dim() != 4 || w.dim() != 4 || w.size(2) != 3 || w.size(3) != 3 || w.size(1) != x.size(1) || padding.size() != 2) return false;
  // Where Winograd is faster, forward + backward, batch 2, 2 threads, Xeon with AVX-512 (bench
  // grid in docs/engine.md): from 64×64 pixels and 64 channels in and out, 0.5–0.9 of the direct
  // time (0.5 at 128 channels and 128²–256²); smaller images or channel counts, and 1024 channels
  // at 16²–32², were slower, up to 2.7×.
  if (x.size(2) * x.size(3) < 64 * 64 || std::min(x.size(1), w.size(0)) < 64) return false;
  if (padding[0] < 0 || padding[0] > 1 || padding[1] < 0 || padding[1] > 1) return false;
  for (const at::Tensor* t : {&x, &w}) if (!t->device().is_cpu() || t->scalar_type() != at::kFloat || t->is_sparse() || t->is_mkldnn()) return false;
  if (b.has_value() && b->defined() && (b->scalar_type() != at::kFloat || !b->device().is_cpu())) return false;
  if (at::autocast::is_cpu_enabled()) return false;
  return available();
#else
  return false;
#endif
}

static at::Tensor conv2dWinograd(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias, at::IntArrayRef padding) {
  if (!applies(x, w, bias, padding)) return at::conv2d(x, w, bias, 1, padding);
#ifdef VIGIL_DNNL
  // No bias: zeros that need no gradient (libtorch 1.13's custom functions take no undefined tensors).
  at::Tensor b = bias.has_value() && bias->defined() ? *bias : at::zeros({w.size(0)}, w.options().requires_grad(false));
  // oneDNN's OpenMP regions take this thread's thread count: libtorch's setting, as its own ops do.
  at::init_num_threads();
  try {
    return WinogradConv::apply(x, w, b, padding[0], padding[1]);
  } catch (const dnnl::error&) {
    return at::conv2d(x, w, bias, 1, padding);  // a shape oneDNN's Winograd declines
  }
#else
  return at::Tensor();
#endif
}

static bool winogradAvailable() {
#ifdef VIGIL_DNNL
  return available();
#else
  return false;
#endif
}

TORCH_LIBRARY(vigil, m) {
  m.def("conv2d_winograd(Tensor input, Tensor weight, Tensor? bias=None, int[2] padding=0) -> Tensor", &conv2dWinograd);
}

static Napi::Value WinogradAvailable(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), winogradAvailable()); }
static Napi::Value WinogradCalls(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(winogradCalls.load())); }

void InitWinograd(Napi::Env env, Napi::Object exports) {
  exports.Set("winogradAvailable", Napi::Function::New(env, WinogradAvailable));
  exports.Set("winogradCalls", Napi::Function::New(env, WinogradCalls));
}

}  // namespace vigil
