// torch.nn.init: PyTorch 1.13's formulas and fan computation, drawing from libtorch's generator so
// torch.manualSeed(s) gives the same values as torch.manual_seed(s) in Python. Each function fills
// the tensor in place without recording autograd and returns it.
import type { Tensor } from '../tensor.js';
import { noGrad } from '../autograd.js';

export type Nonlinearity = 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose1d' | 'conv_transpose2d' | 'conv_transpose3d'
  | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';
export type FanMode = 'fan_in' | 'fan_out';

const LINEAR = new Set(['linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d', 'conv_transpose3d', 'sigmoid']);

/** The recommended gain for a nonlinearity (param: leaky_relu's negative slope, default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number | null): number {
  if (LINEAR.has(nonlinearity)) return 1;
  switch (nonlinearity) {
    case 'tanh': return 5.0 / 3;
    case 'relu': return Math.sqrt(2.0);
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      if (typeof slope !== 'number' || !Number.isFinite(slope)) throw new TypeError(`calculateGain: negative_slope ${String(param)} is not a valid number`);
      return Math.sqrt(2.0 / (1 + slope * slope));
    }
    case 'selu': return 3.0 / 4;
    default: throw new RangeError(`calculateGain: unsupported nonlinearity '${String(nonlinearity)}'`);
  }
}

/** [fanIn, fanOut] as PyTorch computes them: dims 1 and 0 times the receptive field (dims 2…). */
export function calculateFanInAndFanOut(t: Tensor): [number, number] {
  const s = t.shape;
  if (s.length < 2) throw new RangeError('Fan in and fan out can not be computed for tensor with fewer than 2 dimensions');
  let receptive = 1;
  for (let i = 2; i < s.length; i++) receptive *= s[i]!;
  return [s[1]! * receptive, s[0]! * receptive];
}

function correctFan(t: Tensor, mode: FanMode): number {
  if (mode !== 'fan_in' && mode !== 'fan_out') throw new RangeError(`Mode ${String(mode)} not supported, please use one of fan_in, fan_out`);
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  return mode === 'fan_in' ? fanIn : fanOut;
}

function fill(t: Tensor, f: () => Tensor): Tensor {
  noGrad(() => f().dispose());
  return t;
}

const empty = (t: Tensor): boolean => t.shape.includes(0);

/** U(a, b). */
export function uniform_(t: Tensor, a = 0, b = 1): Tensor {
  return fill(t, () => t.uniform_({ from: a, to: b }));
}

/** N(mean, std²). */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  return fill(t, () => t.normal_({ mean, std }));
}

export function constant_(t: Tensor, val: number): Tensor {
  return fill(t, () => t.fill_(val));
}

export function zeros_(t: Tensor): Tensor { return fill(t, () => t.zero_()); }
export function ones_(t: Tensor): Tensor { return fill(t, () => t.fill_(1)); }

export interface KaimingOptions {
  /** Negative slope of the rectifier after this layer (leaky_relu only). Default 0. */
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
}

/** He et al. (2015), uniform: U(−b, b) with b = gain·√(3 / fan). */
export function kaimingUniform_(t: Tensor, options: KaimingOptions = {}): Tensor {
  if (empty(t)) return t;
  const fan = correctFan(t, options.mode ?? 'fan_in');
  const gain = calculateGain(options.nonlinearity ?? 'leaky_relu', options.a ?? 0);
  const std = gain / Math.sqrt(fan);
  const bound = Math.sqrt(3.0) * std;
  return uniform_(t, -bound, bound);
}

/** He et al. (2015), normal: N(0, std²) with std = gain / √fan. */
export function kaimingNormal_(t: Tensor, options: KaimingOptions = {}): Tensor {
  if (empty(t)) return t;
  const fan = correctFan(t, options.mode ?? 'fan_in');
  const gain = calculateGain(options.nonlinearity ?? 'leaky_relu', options.a ?? 0);
  return normal_(t, 0, gain / Math.sqrt(fan));
}

/** Glorot & Bengio (2010), uniform: U(−a, a) with a = gain·√(6 / (fanIn + fanOut)). */
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const std = gain * Math.sqrt(2.0 / (fanIn + fanOut));
  const a = Math.sqrt(3.0) * std;
  return uniform_(t, -a, a);
}

/** Glorot & Bengio (2010), normal: N(0, std²) with std = gain·√(2 / (fanIn + fanOut)). */
export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const std = gain * Math.sqrt(2.0 / (fanIn + fanOut));
  return normal_(t, 0, std);
}
