// Gradients beyond loss.backward(): gradients w.r.t. arbitrary inputs (KDAD's localisation needs
// d loss / d image), grad-mode switches and autocast. Both modes are per thread, like PyTorch's.
import { native } from './native.js';
import { Tensor } from './tensor.js';

export interface GradOptions {
  gradOutputs?: (Tensor | null)[];
  retainGraph?: boolean;
  createGraph?: boolean;
  allowUnused?: boolean;
}

/** torch.autograd.grad: gradients of outputs w.r.t. inputs (undefined where unused and allowUnused). */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], options: GradOptions = {}): (Tensor | undefined)[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const ins = Array.isArray(inputs) ? inputs : [inputs];
  const res = native.grad(outs.map((t) => t.native), ins.map((t) => t.native), options.gradOutputs?.map((t) => (t ? t.native : null)),
    options.retainGraph, options.createGraph ?? false, options.allowUnused ?? false);
  return res.map((h) => (h ? new Tensor(h) : undefined));
}

/** torch.autograd.backward over several tensors at once. */
export function backward(tensors: Tensor[], gradTensors?: (Tensor | null)[], options: { retainGraph?: boolean; createGraph?: boolean; inputs?: Tensor[] } = {}): void {
  native.backward(tensors.map((t) => t.native), gradTensors?.map((g) => (g ? g.native : null)), options.retainGraph ?? false, options.createGraph ?? false, options.inputs?.map((t) => t.native));
}

function withGradMode<T>(on: boolean, fn: () => T): T {
  const prev = native.setGradEnabled(on);
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error('noGrad/enableGrad: fn returned a Promise; grad mode is synchronous and per thread');
    return r;
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs fn without recording operations for autograd (torch.no_grad). */
export function noGrad<T>(fn: () => T): T { return withGradMode(false, fn); }
/** Runs fn with autograd recording on, even inside noGrad (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T { return withGradMode(true, fn); }
export function isGradEnabled(): boolean { return native.isGradEnabled(); }
export function setGradEnabled(on: boolean): boolean { return native.setGradEnabled(on); }

export type AutocastDtype = 'bfloat16' | 'float16';
export interface AutocastOptions {
  /** Whose ops are cast: 'cpu' (default) or 'cuda' tensors. */
  device?: 'cpu' | 'cuda';
  /** Default bfloat16 (float16 on a CPU is slow and loses range). */
  dtype?: AutocastDtype;
  /** false turns autocast off inside the region, as torch.autocast(enabled=False) (e.g. for a loss that needs float32). */
  enabled?: boolean;
}

/**
 * Runs fn under libtorch's autocast (torch.autocast): ops on its lower-precision list
 * (convolutions, matmuls, linear) run in `dtype`, ops on its float32 list (losses such as
 * mse_loss, reductions that need range) in float32, the rest in their inputs' type. Weights stay
 * float32; their casts are cached while the outermost region is open and dropped when it closes.
 * As in PyTorch, run backward() outside the region.
 */
export function autocast<T>(options: AutocastOptions, fn: () => T): T {
  const device = options.device ?? 'cpu';
  const on = options.enabled ?? true;
  const prev = native.setAutocast(device, on, options.dtype ?? 'bfloat16');
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error('autocast: fn returned a Promise; autocast is synchronous and per thread');
    return r;
  } finally {
    native.setAutocast(device, prev, options.dtype ?? 'bfloat16');
    if (on && !prev) native.clearAutocastCache();
  }
}
