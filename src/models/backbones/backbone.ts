// What ResNet and VGG share: tap-name checks, the grad switch of forward(), freezing, and keeping
// the folded BN weights in step with the parameters (to(), loadStateDict(), dispose()).
import * as torch from '../../torch/index.js';
import { nn, type MemoryFormat, type Tensor } from '../../torch/index.js';
import type { FeatureExtractor, ForwardOptions } from './types.js';

/** A conv followed by eval-mode BN, folded into one conv with bias (inference only). */
export interface Folded { weight: Tensor; bias: Tensor; stride: number; padding: number }

export function fold(conv: nn.Conv2d, bn: nn.BatchNorm2d): Folded {
  const pad = conv.padding === 'valid' ? [0, 0] : conv.padding;
  if (pad === 'same' || pad[0] !== pad[1] || conv.groups !== 1 || conv.dilation.some((d) => d !== 1) || conv.stride[0] !== conv.stride[1] || conv.paddingMode !== 'zeros') {
    throw new Error('fold: only plain convs (groups 1, dilation 1, square stride, symmetric zero padding) can absorb a BatchNorm');
  }
  return torch.noGrad(() => torch.tidy(() => {
    const scale = bn.weight!.div(bn.running_var!.add(bn.eps).sqrt());
    const weight = conv.weight.mul(scale.reshape([-1, 1, 1, 1])).contiguous();
    // γ(conv(x) + b − μ)/σ + β; ResNet convs have no b.
    const bias = conv.bias === null ? bn.bias!.sub(bn.running_mean!.mul(scale)) : bn.bias!.add(conv.bias.sub(bn.running_mean!).mul(scale));
    torch.keep(weight);
    torch.keep(bias);
    return { weight, bias, stride: conv.stride[0], padding: pad[0] };
  }));
}

export function runFolded(f: Folded, x: Tensor, relu: boolean): Tensor {
  const y = torch.conv2d(x, f.weight, { bias: f.bias, stride: f.stride, padding: f.padding });
  if (relu) torch.relu_(y).dispose();
  return y;
}

export function disposeFolded(f: Folded | null | undefined): void {
  if (f) { f.weight.dispose(); f.bias.dispose(); }
}

export abstract class Backbone<L extends string = string> extends nn.Module implements FeatureExtractor<L> {
  abstract readonly name: string;
  abstract readonly inChannels: number;
  abstract readonly layers: readonly L[];
  abstract readonly channels: Readonly<Record<L, number>>;
  #frozen = false;

  /** The taps (names already checked), run under the grad mode forward() chose. */
  protected abstract runTaps(x: Tensor, layers: readonly L[]): Map<L, Tensor>;
  abstract fuse(): this;
  abstract unfuse(): this;
  abstract get fused(): boolean;

  forward(x: Tensor, layers: readonly L[], options: ForwardOptions = {}): Map<L, Tensor> {
    if (x.ndim !== 4 || x.shape[1] !== this.inChannels) throw new RangeError(`${this.name}.forward: expected an N×${this.inChannels}×H×W input, got [${x.shape.join(', ')}]`);
    if (layers.length === 0) throw new Error(`${this.name}.forward: no layers requested (use ${this.layers.join(', ')})`);
    for (const l of layers) {
      if (!Object.prototype.hasOwnProperty.call(this.channels, l)) throw new Error(`${this.name}.forward: unknown layer '${String(l)}' (use ${this.layers.join(', ')})`);
    }
    const out = options.grad ? torch.enableGrad(() => this.runTaps(x, layers)) : torch.noGrad(() => this.runTaps(x, layers));
    // In the order asked for, whatever order the network produced them in.
    return new Map(layers.map((l) => [l, out.get(l)!]));
  }

  freeze(): this {
    this.eval();
    for (const p of this.parameters()) p.requiresGrad_(false);
    this.#frozen = true;
    return this;
  }

  get frozen(): boolean { return this.#frozen; }

  /** nn.Module.to, then the folded weights are rebuilt from the converted parameters. */
  override to(target: string | { memoryFormat: MemoryFormat }): this {
    const wasFused = this.fused;
    this.unfuse();
    super.to(target);
    // Module.to re-registers parameters, which turns requiresGrad back on.
    if (this.#frozen) for (const p of this.parameters()) p.requiresGrad_(false);
    if (wasFused) this.fuse();
    return this;
  }

  override loadStateDict(sd: Map<string, Tensor> | Record<string, Tensor>, options: { strict?: boolean } = {}): nn.LoadResult {
    const wasFused = this.fused;
    const r = super.loadStateDict(sd, options);
    if (wasFused) this.fuse();
    return r;
  }

  override dispose(): void {
    this.unfuse();
    super.dispose();
  }
}
