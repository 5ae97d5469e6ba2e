// torchvision's ResNet family (resnet18…152, wide_resnet50_2/101_2) with torchvision's parameter
// names, so official `.pth` files load with strict keys. As a FeatureExtractor its taps are the
// stages layer1..layer4; forward(x) alone is torchvision's classifier forward (logits).
import * as torch from '../../torch/index.js';
import { nn, type Tensor } from '../../torch/index.js';
import { Backbone, disposeFolded, fold, runFolded, type Folded } from './backbone.js';
import type { ForwardOptions } from './types.js';

export type ResNetName = 'resnet18' | 'resnet34' | 'resnet50' | 'resnet101' | 'resnet152' | 'wide_resnet50_2' | 'wide_resnet101_2';
export type ResNetLayer = 'layer1' | 'layer2' | 'layer3' | 'layer4';
export const RESNET_LAYERS: readonly ResNetLayer[] = ['layer1', 'layer2', 'layer3', 'layer4'];

interface Spec { block: 'basic' | 'bottleneck'; layers: [number, number, number, number]; widthPerGroup: number }

const SPECS: Record<ResNetName, Spec> = {
  resnet18: { block: 'basic', layers: [2, 2, 2, 2], widthPerGroup: 64 },
  resnet34: { block: 'basic', layers: [3, 4, 6, 3], widthPerGroup: 64 },
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3], widthPerGroup: 64 },
  resnet101: { block: 'bottleneck', layers: [3, 4, 23, 3], widthPerGroup: 64 },
  resnet152: { block: 'bottleneck', layers: [3, 8, 36, 3], widthPerGroup: 64 },
  wide_resnet50_2: { block: 'bottleneck', layers: [3, 4, 6, 3], widthPerGroup: 128 },
  wide_resnet101_2: { block: 'bottleneck', layers: [3, 4, 23, 3], widthPerGroup: 128 },
};

export const RESNET_NAMES = Object.keys(SPECS) as ResNetName[];

export function isResNetName(name: string): name is ResNetName {
  return Object.prototype.hasOwnProperty.call(SPECS, name);
}

function conv(inC: number, outC: number, k: number, stride = 1): nn.Conv2d {
  return new nn.Conv2d(inC, outC, k, { stride, padding: (k - 1) / 2, bias: false });
}

abstract class Block extends nn.Module {
  declare downsample: nn.Sequential | undefined;
  protected folded: Folded[] | null = null;
  protected foldedDown: Folded | null = null;
  abstract fuse(): void;
  abstract override forward(x: Tensor): Tensor;
  unfuse(): void {
    for (const f of this.folded ?? []) disposeFolded(f);
    disposeFolded(this.foldedDown);
    this.folded = null;
    this.foldedDown = null;
  }
  protected foldDown(): void {
    if (this.downsample) this.foldedDown = fold(this.downsample.at(0) as nn.Conv2d, this.downsample.at(1) as nn.BatchNorm2d);
  }
  protected identity(x: Tensor): Tensor {
    if (this.foldedDown) return runFolded(this.foldedDown, x, false);
    return this.downsample ? this.downsample.forward(x) : x;
  }
}

class BasicBlock extends Block {
  static readonly expansion = 1;
  declare conv1: nn.Conv2d; declare bn1: nn.BatchNorm2d; declare conv2: nn.Conv2d; declare bn2: nn.BatchNorm2d;
  constructor(inplanes: number, planes: number, stride: number, downsample: nn.Sequential | null) {
    super();
    this.registerModule('conv1', conv(inplanes, planes, 3, stride));
    this.registerModule('bn1', new nn.BatchNorm2d(planes));
    this.registerModule('conv2', conv(planes, planes, 3));
    this.registerModule('bn2', new nn.BatchNorm2d(planes));
    if (downsample) this.registerModule('downsample', downsample);
  }
  fuse(): void {
    this.unfuse();
    this.folded = [fold(this.conv1, this.bn1), fold(this.conv2, this.bn2)];
    this.foldDown();
  }
  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      let out: Tensor;
      if (this.folded) {
        out = runFolded(this.folded[1]!, runFolded(this.folded[0]!, x, true), false);
      } else {
        out = this.bn2.forward(this.conv2.forward(torch.relu(this.bn1.forward(this.conv1.forward(x)))));
      }
      out.add_(this.identity(x)).dispose();
      torch.relu_(out).dispose();
      return out;
    });
  }
}

class Bottleneck extends Block {
  static readonly expansion = 4;
  declare conv1: nn.Conv2d; declare bn1: nn.BatchNorm2d; declare conv2: nn.Conv2d; declare bn2: nn.BatchNorm2d;
  declare conv3: nn.Conv2d; declare bn3: nn.BatchNorm2d;
  constructor(inplanes: number, planes: number, stride: number, downsample: nn.Sequential | null, widthPerGroup: number) {
    super();
    const width = Math.floor(planes * (widthPerGroup / 64));
    this.registerModule('conv1', conv(inplanes, width, 1));
    this.registerModule('bn1', new nn.BatchNorm2d(width));
    this.registerModule('conv2', conv(width, width, 3, stride));
    this.registerModule('bn2', new nn.BatchNorm2d(width));
    this.registerModule('conv3', conv(width, planes * 4, 1));
    this.registerModule('bn3', new nn.BatchNorm2d(planes * 4));
    if (downsample) this.registerModule('downsample', downsample);
  }
  fuse(): void {
    this.unfuse();
    this.folded = [fold(this.conv1, this.bn1), fold(this.conv2, this.bn2), fold(this.conv3, this.bn3)];
    this.foldDown();
  }
  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      let out: Tensor;
      if (this.folded) {
        const [a, b, c] = this.folded as [Folded, Folded, Folded];
        out = runFolded(c, runFolded(b, runFolded(a, x, true), true), false);
      } else {
        const h1 = torch.relu(this.bn1.forward(this.conv1.forward(x)));
        const h2 = torch.relu(this.bn2.forward(this.conv2.forward(h1)));
        out = this.bn3.forward(this.conv3.forward(h2));
      }
      out.add_(this.identity(x)).dispose();
      torch.relu_(out).dispose();
      return out;
    });
  }
}

export interface ResNetOptions {
  numClasses?: number;
  /** Initialise as torchvision does (kaiming-normal fan_out convs, BN 1/0). Default true. */
  init?: boolean;
}

export class ResNet extends Backbone<ResNetLayer> {
  declare conv1: nn.Conv2d; declare bn1: nn.BatchNorm2d;
  declare layer1: nn.Sequential; declare layer2: nn.Sequential; declare layer3: nn.Sequential; declare layer4: nn.Sequential;
  declare fc: nn.Linear;
  readonly name: ResNetName;
  readonly inChannels = 3;
  readonly layers = RESNET_LAYERS;
  /** Output channels of layer1..layer4. */
  readonly channels: Record<ResNetLayer, number>;
  #stem: Folded | null = null;

  constructor(name: ResNetName, options: ResNetOptions = {}) {
    super();
    if (!isResNetName(name)) throw new Error(`ResNet: unknown architecture '${String(name)}' (use ${RESNET_NAMES.join(', ')})`);
    this.name = name;
    const spec = SPECS[name];
    const expansion = spec.block === 'basic' ? 1 : 4;
    this.registerModule('conv1', new nn.Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false }));
    this.registerModule('bn1', new nn.BatchNorm2d(64));
    let inplanes = 64;
    const planes = [64, 128, 256, 512];
    const channels = {} as Record<ResNetLayer, number>;
    RESNET_LAYERS.forEach((lname, li) => {
      const p = planes[li]!;
      const stride = li === 0 ? 1 : 2;
      const seq = new nn.Sequential();
      for (let b = 0; b < spec.layers[li]!; b++) {
        const s = b === 0 ? stride : 1;
        let down: nn.Sequential | null = null;
        if (b === 0 && (s !== 1 || inplanes !== p * expansion)) {
          down = new nn.Sequential(conv(inplanes, p * expansion, 1, s), new nn.BatchNorm2d(p * expansion));
        }
        seq.append(spec.block === 'basic' ? new BasicBlock(inplanes, p, s, down) : new Bottleneck(inplanes, p, s, down, spec.widthPerGroup));
        inplanes = p * expansion;
      }
      this.registerModule(lname, seq);
      channels[lname] = inplanes;
    });
    this.channels = channels;
    this.registerModule('fc', new nn.Linear(512 * expansion, options.numClasses ?? 1000));
    if (options.init ?? true) {
      torch.noGrad(() => {
        for (const m of this.modules()) {
          if (m instanceof nn.Conv2d) nn.init.kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
        }
      });
    }
  }

  #blocks(layer: ResNetLayer): Block[] {
    return [...this[layer]] as Block[];
  }

  /**
   * Folds every BatchNorm into the preceding conv (eval mode, frozen weights): fewer passes over
   * the activations at inference. Refolded after loadStateDict()/to(); unfuse() reverts.
   */
  fuse(): this {
    this.eval();
    this.unfuse();
    this.#stem = fold(this.conv1, this.bn1);
    for (const l of RESNET_LAYERS) for (const b of this.#blocks(l)) b.fuse();
    return this;
  }

  unfuse(): this {
    disposeFolded(this.#stem);
    this.#stem = null;
    for (const l of RESNET_LAYERS) for (const b of this.#blocks(l)) b.unfuse();
    return this;
  }

  get fused(): boolean { return this.#stem !== null; }

  /** forward(x): classifier logits, as torchvision's; forward(x, layers, options): the stage outputs. */
  override forward(x: Tensor): Tensor;
  override forward(x: Tensor, layers: readonly ResNetLayer[], options?: ForwardOptions): Map<ResNetLayer, Tensor>;
  override forward(x: Tensor, layers?: readonly ResNetLayer[], options?: ForwardOptions): Tensor | Map<ResNetLayer, Tensor> {
    return layers === undefined ? this.logits(x) : super.forward(x, layers, options);
  }

  /** The same as forward(x, layers) (no grad); kept for existing callers. */
  forwardFeatures(x: Tensor, layers: readonly ResNetLayer[]): Map<ResNetLayer, Tensor> {
    return super.forward(x, layers);
  }

  /** Classifier logits (N×numClasses). */
  logits(x: Tensor): Tensor {
    return torch.tidy(() => {
      const h = super.forward(x, ['layer4']).get('layer4')!;
      const pooled = torch.flatten(torch.adaptive_avg_pool2d(h, [1, 1]), 1);
      return this.fc.forward(pooled);
    });
  }

  protected runTaps(x: Tensor, layers: readonly ResNetLayer[]): Map<ResNetLayer, Tensor> {
    const last = Math.max(...layers.map((l) => RESNET_LAYERS.indexOf(l)));
    // Intermediate activations are freed as soon as the next block has run (peak memory).
    const out = new Map<ResNetLayer, Tensor>();
    const stem = this.#stem ? runFolded(this.#stem, x, true) : torch.tidy(() => torch.relu(this.bn1.forward(this.conv1.forward(x))));
    let h = torch.max_pool2d(stem, 3, { stride: 2, padding: 1 });
    stem.dispose();
    for (let i = 0; i <= last; i++) {
      const name = RESNET_LAYERS[i]!;
      for (const b of this.#blocks(name)) {
        const next = b.forward(h);
        if (![...out.values()].includes(h)) h.dispose();
        h = next;
      }
      if (layers.includes(name)) out.set(name, h);
    }
    return out;
  }
}

export function resnet(name: ResNetName, options: ResNetOptions = {}): ResNet { return new ResNet(name, options); }
export const resnet18 = (options: ResNetOptions = {}): ResNet => new ResNet('resnet18', options);
export const resnet50 = (options: ResNetOptions = {}): ResNet => new ResNet('resnet50', options);
export const wideResnet50_2 = (options: ResNetOptions = {}): ResNet => new ResNet('wide_resnet50_2', options);
