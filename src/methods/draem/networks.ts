// DRAEM's two sub-networks (Zavrtanik et al., ICCV 2021), built as the authors' model_unet.py
// (VitjanZ/DRAEM @ 2dbf673): same module tree, so the state-dict keys are theirs
// (`encoder.block1.0.weight`, `decoder_segment.fin_out.0.bias`, …) and their released .pckl
// checkpoints load; same construction order, so torch.manualSeed(s) followed by
// {@link weightsInit} gives the weights of torch.manual_seed(s) + their constructor + `apply(weights_init)`.
// Every conv is 3×3, padding 1, with bias; BatchNorm2d has PyTorch's defaults; upsampling is
// bilinear ×2 with align_corners=True; pooling is MaxPool2d(2).
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { nn } from '../../torch/index.js';

/** The authors' widths: ReconstructiveSubNetwork base_width, DiscriminativeSubNetwork base_channels. */
export const RECONSTRUCTIVE_WIDTH = 128;
export const DISCRIMINATIVE_WIDTH = 64;

const conv = (i: number, o: number): nn.Conv2d => new nn.Conv2d(i, o, 3, { padding: 1 });

/**
 * ReLU(inplace=True), as the authors': every ReLU here follows a BatchNorm, whose output nothing
 * else reads, so rectifying it in place saves one activation-sized buffer and pass per layer.
 */
class InplaceReLU extends nn.Module {
  forward(x: Tensor): Tensor { return x.relu_(); }
}

/** conv(a→b), BN, ReLU, conv(b→c), BN, ReLU (`c` defaults to b): the authors' "block". */
function block(a: number, b: number, c = b): nn.Sequential {
  return new nn.Sequential(conv(a, b), new nn.BatchNorm2d(b), new InplaceReLU(), conv(b, c), new nn.BatchNorm2d(c), new InplaceReLU());
}

/** Upsample ×2 (bilinear, align_corners), conv(a→b), BN, ReLU. */
function up(a: number, b: number): nn.Sequential {
  return new nn.Sequential(new nn.Upsample({ scaleFactor: 2, mode: 'bilinear', alignCorners: true }), conv(a, b), new nn.BatchNorm2d(b), new InplaceReLU());
}

const pool = (): nn.Sequential => new nn.Sequential(new nn.MaxPool2d(2));

/** Runs a child Sequential by name. */
function run(m: nn.Module, name: string, x: Tensor): Tensor {
  return (m as unknown as Record<string, nn.Sequential>)[name]!.forward(x);
}

/** EncoderReconstructive: block1, mp1, block2, mp2 (unused, as theirs), block3, mp3, block4, mp4, block5. */
export class EncoderReconstructive extends nn.Module {
  constructor(inChannels: number, w: number) {
    super();
    this.registerModule('block1', block(inChannels, w));
    this.registerModule('mp1', pool());
    this.registerModule('block2', block(w, 2 * w));
    this.registerModule('mp2', pool());
    this.registerModule('block3', block(2 * w, 4 * w));
    this.registerModule('mp3', pool());
    this.registerModule('block4', block(4 * w, 8 * w));
    this.registerModule('mp4', pool());
    this.registerModule('block5', block(8 * w, 8 * w));
  }

  /** Returns b5 (N, 8w, H/16, W/16). The authors pool after block2 and block3 with mp3; mp2 equals it. */
  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      let h = run(this, 'mp1', run(this, 'block1', x));
      h = run(this, 'mp3', run(this, 'block2', h));
      h = run(this, 'mp3', run(this, 'block3', h));
      h = run(this, 'mp4', run(this, 'block4', h));
      return run(this, 'block5', h);
    });
  }
}

/** DecoderReconstructive: four (up, db) stages without skips, then fin_out (no output activation). */
export class DecoderReconstructive extends nn.Module {
  constructor(w: number, outChannels: number) {
    super();
    this.registerModule('up1', up(8 * w, 8 * w));
    this.registerModule('db1', block(8 * w, 8 * w, 4 * w));
    this.registerModule('up2', up(4 * w, 4 * w));
    this.registerModule('db2', block(4 * w, 4 * w, 2 * w));
    this.registerModule('up3', up(2 * w, 2 * w));
    this.registerModule('db3', block(2 * w, 2 * w, w));
    this.registerModule('up4', up(w, w));
    this.registerModule('db4', block(w, w));
    this.registerModule('fin_out', new nn.Sequential(conv(w, outChannels)));
  }

  forward(b5: Tensor): Tensor {
    return torch.tidy(() => {
      let h = b5;
      for (const s of ['1', '2', '3', '4']) h = run(this, `db${s}`, run(this, `up${s}`, h));
      return run(this, 'fin_out', h);
    });
  }
}

/** G: augmented image (N, 3, H, W) → reconstruction (N, 3, H, W); H and W multiples of 16. */
export class ReconstructiveSubNetwork extends nn.Module {
  declare readonly encoder: EncoderReconstructive;
  declare readonly decoder: DecoderReconstructive;

  constructor(readonly inChannels = 3, readonly outChannels = 3, readonly baseWidth = RECONSTRUCTIVE_WIDTH) {
    super();
    this.registerModule('encoder', new EncoderReconstructive(inChannels, baseWidth));
    this.registerModule('decoder', new DecoderReconstructive(baseWidth, outChannels));
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => this.decoder.forward(this.encoder.forward(x)));
  }
}

/** EncoderDiscriminative: six blocks with pooling between them; returns every block's output. */
export class EncoderDiscriminative extends nn.Module {
  constructor(inChannels: number, w: number) {
    super();
    const widths = [w, 2 * w, 4 * w, 8 * w, 8 * w, 8 * w];
    let c = inChannels;
    for (const [i, o] of widths.entries()) {
      this.registerModule(`block${i + 1}`, block(c, o));
      if (i < 5) this.registerModule(`mp${i + 1}`, pool());
      c = o;
    }
  }

  /** [b1 … b6]; as the authors', the pool after block2 is mp3 (mp2 is identical and unused). */
  forward(x: Tensor): Tensor[] {
    return torch.tidy(() => {
      const out = [run(this, 'block1', x)];
      for (let i = 2; i <= 6; i++) out.push(run(this, `block${i}`, run(this, i === 3 ? 'mp3' : `mp${i - 1}`, out[i - 2]!)));
      return out;
    });
  }
}

/** DecoderDiscriminative: U-Net decoder, each up-sampled map concatenated with the matching skip (up first). */
export class DecoderDiscriminative extends nn.Module {
  constructor(w: number, outChannels: number) {
    super();
    this.registerModule('up_b', up(8 * w, 8 * w));
    this.registerModule('db_b', block(16 * w, 8 * w));
    this.registerModule('up1', up(8 * w, 4 * w));
    this.registerModule('db1', block(12 * w, 4 * w));
    this.registerModule('up2', up(4 * w, 2 * w));
    this.registerModule('db2', block(6 * w, 2 * w));
    this.registerModule('up3', up(2 * w, w));
    this.registerModule('db3', block(3 * w, w));
    this.registerModule('up4', up(w, w));
    this.registerModule('db4', block(2 * w, w));
    this.registerModule('fin_out', new nn.Sequential(conv(w, outChannels)));
  }

  forward(skips: readonly Tensor[]): Tensor {
    const [b1, b2, b3, b4, b5, b6] = skips as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
    return torch.tidy(() => {
      let h = b6;
      for (const [s, skip] of [['_b', b5], ['1', b4], ['2', b3], ['3', b2], ['4', b1]] as const) {
        h = run(this, `db${s}`, torch.cat([run(this, `up${s}`, h), skip], 1));
      }
      return run(this, 'fin_out', h);
    });
  }
}

/** D: cat(reconstruction, augmented) (N, 6, H, W) → logits (N, 2, H, W); H and W multiples of 32. */
export class DiscriminativeSubNetwork extends nn.Module {
  declare readonly encoder_segment: EncoderDiscriminative;
  declare readonly decoder_segment: DecoderDiscriminative;

  constructor(readonly inChannels = 6, readonly outChannels = 2, readonly baseChannels = DISCRIMINATIVE_WIDTH) {
    super();
    this.registerModule('encoder_segment', new EncoderDiscriminative(inChannels, baseChannels));
    this.registerModule('decoder_segment', new DecoderDiscriminative(baseChannels, outChannels));
  }

  forward(x: Tensor): Tensor {
    const skips = this.encoder_segment.forward(x);
    try {
      return this.decoder_segment.forward(skips);
    } finally {
      for (const s of skips) s.dispose();
    }
  }
}

/**
 * The authors' `weights_init`, applied to every module in `apply()` order: Conv2d weight ~ N(0, 0.02)
 * (bias keeps PyTorch's default U(±1/√fanIn)); BatchNorm2d weight ~ N(1, 0.02), bias = 0.
 */
export function weightsInit(m: nn.Module): void {
  for (const d of m.modules()) {
    if (d instanceof nn.Conv2d) nn.init.normal_(d.weight, 0, 0.02);
    else if (d instanceof nn.BatchNorm2d) {
      nn.init.normal_(d.weight!, 1, 0.02);
      nn.init.zeros_(d.bias!);
    }
  }
}

export interface DraemNetworks {
  reconstructive: ReconstructiveSubNetwork;
  discriminative: DiscriminativeSubNetwork;
}

export interface BuildOptions {
  /** ReconstructiveSubNetwork base_width (default 128). */
  reconstructiveWidth?: number;
  /** DiscriminativeSubNetwork base_channels (default 64). */
  discriminativeWidth?: number;
  /**
   * Lay the conv weights out channels-last (NHWC): oneDNN then runs NHWC kernels end to end on CPU
   * (see src/methods/dsvdd/networks.ts). Same values up to summation order. Default false.
   */
  channelsLast?: boolean;
  /**
   * How the 3×3 convolutions run on the CPU: 'direct' (libtorch's kernels, as PyTorch) or
   * 'winograd' (oneDNN's Winograd kernels, forward and backward: the same convolution up to
   * float32 rounding, ~2.5× faster on AVX-512; see nn.F.conv2dWinograd). Default 'direct'.
   */
  convolution?: nn.ConvAlgorithm;
}

/**
 * Both sub-networks, built and initialised as train_DRAEM.py does: G, weights_init(G), then D,
 * weights_init(D) — the RNG order of `ReconstructiveSubNetwork(); apply(); DiscriminativeSubNetwork(); apply()`.
 */
export function buildNetworks(options: BuildOptions = {}): DraemNetworks {
  const rw = options.reconstructiveWidth ?? RECONSTRUCTIVE_WIDTH;
  const dw = options.discriminativeWidth ?? DISCRIMINATIVE_WIDTH;
  for (const [k, v] of [['reconstructiveWidth', rw], ['discriminativeWidth', dw]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer, got ${v}`);
  }
  const reconstructive = new ReconstructiveSubNetwork(3, 3, rw);
  weightsInit(reconstructive);
  const discriminative = new DiscriminativeSubNetwork(6, 2, dw);
  weightsInit(discriminative);
  const algorithm = options.convolution ?? 'direct';
  for (const m of [...reconstructive.modules(), ...discriminative.modules()]) if (m instanceof nn.Conv2d) m.algorithm = algorithm;
  if (options.channelsLast) {
    reconstructive.to({ memoryFormat: 'channels_last' });
    discriminative.to({ memoryFormat: 'channels_last' });
  }
  return { reconstructive, discriminative };
}
