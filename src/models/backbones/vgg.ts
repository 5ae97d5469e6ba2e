// VGG (Simonyan & Zisserman, 2015) as torchvision builds its `features` module: per config entry
// a 3×3/pad-1 conv [+ BatchNorm2d] + ReLU, or a 2×2/stride-2 max pool for 'M'. Parameter names are
// torchvision's (`features.0.weight`, `features.1.running_mean` in the _bn variants), so official
// `.pth` files load by name. The classifier (and avgpool) are not built: feature extraction never
// uses them, and loadBackbone drops a torchvision file's `classifier.*` keys by name, reporting them
// (VGG.loadStateDict itself stays strict).
//
// Tap names are the indices of `features` as strings, as torchvision's `features[i]`: for vgg16
// '1' is relu1_1, '4' pool1, '30' pool5 (KDAD's teacher taps 1, 4, 6, 9, …, 30). Aliases in the
// paper's style name the same outputs: conv{s}_{k}, bn{s}_{k}, relu{s}_{k} (stage s, k-th conv of
// the stage, from 1) and pool{s}.
import * as torch from '../../torch/index.js';
import { nn, type Tensor } from '../../torch/index.js';
import { Backbone, disposeFolded, fold, runFolded, type Folded } from './backbone.js';

export type VggConfig = readonly (number | 'M')[];

/** torchvision's `cfgs`: A = vgg11, B = vgg13, D = vgg16, E = vgg19. */
export const VGG_CONFIGS = {
  A: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  B: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  D: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  E: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
} as const satisfies Record<string, VggConfig>;

export type VggName = 'vgg11' | 'vgg11_bn' | 'vgg13' | 'vgg13_bn' | 'vgg16' | 'vgg16_bn' | 'vgg19' | 'vgg19_bn';

const ARCHS: Record<VggName, { cfg: keyof typeof VGG_CONFIGS; batchNorm: boolean }> = {
  vgg11: { cfg: 'A', batchNorm: false }, vgg11_bn: { cfg: 'A', batchNorm: true },
  vgg13: { cfg: 'B', batchNorm: false }, vgg13_bn: { cfg: 'B', batchNorm: true },
  vgg16: { cfg: 'D', batchNorm: false }, vgg16_bn: { cfg: 'D', batchNorm: true },
  vgg19: { cfg: 'E', batchNorm: false }, vgg19_bn: { cfg: 'E', batchNorm: true },
};

export const VGG_NAMES = Object.keys(ARCHS) as VggName[];

export function isVggName(name: string): name is VggName {
  return Object.prototype.hasOwnProperty.call(ARCHS, name);
}

export interface VggOptions {
  /**
   * BatchNorm2d after each conv (true: torchvision's *_bn), none (false), or 'notBeforePool': only
   * when the next config entry is not 'M' (KDAD's cloner). Not allowed with an architecture name.
   */
  batchNorm?: boolean | 'notBeforePool';
  /** Conv biases (torchvision: true; KDAD's cloner: false). Not allowed with an architecture name. */
  bias?: boolean;
  /** Default 3. Not allowed with an architecture name. */
  inChannels?: number;
  /**
   * 'torchvision' (default): kaiming-normal fan_out convs, zero biases, BN 1/0; 'xavierUniform':
   * xavier_uniform_ conv weights (KDAD's cloner), other tensors at PyTorch's layer defaults;
   * false: PyTorch's layer defaults (weights about to be loaded).
   */
  init?: 'torchvision' | 'xavierUniform' | false;
  /** Name of a custom config (default 'vgg'). */
  name?: string;
}

export class VGG extends Backbone<string> {
  declare features: nn.Sequential;
  readonly name: string;
  readonly inChannels: number;
  /** '0', '1', … one per module of `features`. */
  readonly layers: readonly string[];
  readonly channels: Readonly<Record<string, number>>;
  /** Alias → features index ('relu1_1' → '1'). */
  readonly aliases: Readonly<Record<string, string>>;
  readonly config: VggConfig;
  /** Per features index: the conv+BN folded at that conv, while fused. */
  #folded: (Folded | null)[] | null = null;

  constructor(arch: VggName | VggConfig, options: VggOptions = {}) {
    super();
    let cfg: VggConfig;
    let batchNorm: boolean | 'notBeforePool';
    if (typeof arch === 'string') {
      if (!isVggName(arch)) throw new Error(`VGG: unknown architecture '${arch}' (use ${VGG_NAMES.join(', ')}, or pass a config)`);
      for (const k of ['batchNorm', 'bias', 'inChannels', 'name'] as const) {
        if (options[k] !== undefined) throw new Error(`VGG('${arch}'): option ${k} is fixed by the architecture; pass a config (VGG_CONFIGS.${ARCHS[arch].cfg}) to change it`);
      }
      cfg = VGG_CONFIGS[ARCHS[arch].cfg];
      batchNorm = ARCHS[arch].batchNorm;
      this.name = arch;
    } else {
      if (!Array.isArray(arch) || arch.length === 0 || arch.some((v) => v !== 'M' && !(Number.isInteger(v) && (v as number) > 0))) {
        throw new Error(`VGG: a config is a non-empty list of positive channel counts and 'M' (max pool), got ${JSON.stringify(arch)}`);
      }
      cfg = arch;
      batchNorm = options.batchNorm ?? false;
      this.name = options.name ?? 'vgg';
    }
    this.config = [...cfg];
    const bias = options.bias ?? true;
    this.inChannels = options.inChannels ?? 3;
    const features = new nn.Sequential();
    const channels: Record<string, number> = {};
    const aliases: Record<string, string> = {};
    let c = this.inChannels;
    let stage = 1;
    let k = 0;
    const add = (m: nn.Module, alias: string): void => {
      const idx = String(features.length);
      features.append(m);
      channels[idx] = c;
      aliases[alias] = idx;
    };
    cfg.forEach((v, i) => {
      if (v === 'M') {
        add(new nn.MaxPool2d(2, { stride: 2 }), `pool${stage}`);
        stage++;
        k = 0;
        return;
      }
      k++;
      const conv = new nn.Conv2d(c, v, 3, { padding: 1, bias });
      c = v;
      add(conv, `conv${stage}_${k}`);
      if (batchNorm === true || (batchNorm === 'notBeforePool' && cfg[i + 1] !== 'M')) add(new nn.BatchNorm2d(v), `bn${stage}_${k}`);
      add(new nn.ReLU(), `relu${stage}_${k}`);
    });
    this.registerModule('features', features);
    this.layers = Object.keys(channels);
    for (const [a, idx] of Object.entries(aliases)) channels[a] = channels[idx]!;
    this.channels = channels;
    this.aliases = aliases;
    const init = options.init ?? 'torchvision';
    if (init !== false) {
      torch.noGrad(() => {
        for (const m of features) {
          if (m instanceof nn.Conv2d) {
            if (init === 'torchvision') {
              nn.init.kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
              if (m.bias) nn.init.zeros_(m.bias);
            } else nn.init.xavierUniform_(m.weight);
          }
          // BatchNorm2d starts at weight 1, bias 0 (torchvision's init) already.
        }
      });
    }
  }

  /** Folds each conv+BatchNorm pair (eval mode, frozen weights); a no-op without BN. unfuse() reverts. */
  fuse(): this {
    this.eval();
    this.unfuse();
    const mods = [...this.features];
    this.#folded = mods.map((m, i) => {
      const next = mods[i + 1];
      return m instanceof nn.Conv2d && next instanceof nn.BatchNorm2d ? fold(m, next) : null;
    });
    return this;
  }

  unfuse(): this {
    for (const f of this.#folded ?? []) disposeFolded(f);
    this.#folded = null;
    return this;
  }

  get fused(): boolean { return this.#folded !== null; }

  protected runTaps(x: Tensor, layers: readonly string[]): Map<string, Tensor> {
    const index = layers.map((l) => Number(this.aliases[l] ?? l));
    const folded = this.#folded;
    for (const [j, i] of index.entries()) {
      if (folded?.[i]) throw new Error(`${this.name}.forward: layer '${layers[j]}' is a conv whose BatchNorm is folded into it (fused); tap '${i + 1}' (the BN output) or call unfuse()`);
    }
    const last = Math.max(...index);
    const mods = [...this.features];
    const out = new Map<string, Tensor>();
    const tapped = new Set<Tensor>();
    let h = x;
    for (let i = 0; i <= last; i++) {
      const m = mods[i]!;
      const f = folded?.[i];
      let next: Tensor;
      if (f) {
        next = runFolded(f, h, false);
        i++; // the BN at i + 1 is inside the folded conv
      } else if (m instanceof nn.ReLU && h !== x && !tapped.has(h)) {
        torch.relu_(h).dispose(); // in place, as torchvision's ReLU(inplace=True)
        next = h;
      } else {
        next = nn.callForward(m, h);
      }
      if (next !== h && h !== x && !tapped.has(h)) h.dispose();
      h = next;
      index.forEach((t, j) => {
        if (t !== i || out.has(layers[j]!)) return;
        // A layer asked for twice (an index and its alias) gets its own handle.
        out.set(layers[j]!, tapped.has(h) ? torch.alias(h) : h);
        tapped.add(h);
      });
    }
    return out;
  }
}

/** A torchvision VGG by name (vgg16, vgg19_bn, …), feature part only. */
export function vgg(name: VggName, options: Pick<VggOptions, 'init'> = {}): VGG { return new VGG(name, options); }
