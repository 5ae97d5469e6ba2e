// The one interface every backbone offers to the methods: named taps in, a Map of activations out.
import type { Tensor } from '../../torch/index.js';

export interface ForwardOptions {
  /**
   * Record autograd so gradients reach the input (KDAD's gradient maps). Default false: the
   * forward runs under noGrad. Frozen parameters (freeze(), loadBackbone) get no gradient either way.
   * true also works inside an outer noGrad (it enables grad for this call, as torch.enable_grad).
   */
  grad?: boolean;
}

/** A network cut into named taps; `L` is the union of valid tap names. */
export interface FeatureExtractor<L extends string = string> {
  /** Architecture name ('resnet18', 'vgg16_bn', … or a custom name). */
  readonly name: string;
  /** Input channels the first layer expects. */
  readonly inChannels: number;
  /** Canonical tap names, in forward order. */
  readonly layers: readonly L[];
  /** Output channels of every name forward() accepts (canonical names and aliases). */
  readonly channels: Readonly<Record<L, number>>;
  /**
   * The outputs of the requested taps, keyed by the names as requested, in that order. Nothing
   * after the last requested tap is run. The caller owns (disposes) the returned tensors.
   */
  forward(x: Tensor, layers: readonly L[], options?: ForwardOptions): Map<L, Tensor>;
  /** Folds eval-mode BatchNorm into the preceding convs (inference only); unfuse() reverts. */
  fuse(): this;
  unfuse(): this;
  readonly fused: boolean;
  /** Eval mode and requiresGrad(false) on every parameter; kept across to(). */
  freeze(): this;
  readonly frozen: boolean;
  /** Moves (or casts) parameters and buffers, refolding BN if fused; as nn.Module.to. */
  to(target: string): this;
  eval(): this;
  dispose(): void;
}
