// torchvision's ResNet family (resnet18, resnet50, wide_resnet50_2) with torchvision's parameter
// names, so official `.pth` files load with strict keys. forwardFeatures() returns the outputs of
// the requested stages and does not run the stages after the last one.
import * as torch from '../../torch/index.js';
import { nn, type Tensor } from '../../torch/index.js';

export type ResNetName = 'resnet18' | 'resnet34' | 'resnet50' | 'wide_resnet50_2';
export type ResNetLayer = 'layer1' | 'layer2' | 'layer3' | 'layer4';
export const RESNET_LAYERS: readonly ResNetLayer[] = ['layer1', 'layer2', 'layer3', 'layer4'];

interface Spec { block: 'basic' | 'bottleneck'; layers: [number, number, number, number]; widthPerGroup: number }

const SPECS: Record<ResNetName, Spec> = {
  resnet18: { block: 'basic', layers: [2, 2, 2, 2], widthPerGroup: 64 },
  resnet34: { block: 'basic', layers: [3, 4, 6, 3], widthPerGroup: 64 },
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3], widthPerGroup: 64 },
  wide_resnet50_2: { block: 'bottleneck', layers: [3, 4, 6, 3], widthPerGroup: 128 },
};

export const RESNET_NAMES = Object.keys(SPECS) as ResNetName[];

export function isResNetName(name: string): name is ResNetName {
  return Object.prototype.hasOwnProperty.call(SPECS, name);
}

/** A conv followed by eval-mode BN, folded into one conv with bias (inference only). */
interface Folded { weight: Tensor; bias: Tensor; stride: number; padding: number }

function fold(conv: nn.Conv2d, bn: nn.BatchNorm2d): Folded {
  return torch.noGrad(() => torch.tidy(() => {
    const scale = bn.weight!.div(bn.running_var!.add(bn.eps).sqrt());
    const weight = conv.weight.mul(scale.reshape([-1, 1, 1, 1])).contiguous();
    const bias = bn.bias!.sub(bn.running_mean!.mul(scale));
    torch.keep(weight);
    torch.keep(bias);
    return { weight, bias, stride: conv.stride[0], padding: (conv.padding as [number, number])[0] };
  }));
}

function runFolded(f: Folded, x: Tensor, relu: boolean): Tensor {
  const y = torch.conv2d(x, f.weight, { bias: f.bias, stride: f.stride, padding: f.padding });
  if (relu) torch.relu_(y).dispose();
  return y;
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
    for (const f of this.folded ?? []) { f.weight.dispose(); f.bias.dispose(); }
    if (this.foldedDown) { this.foldedDown.weight.dispose(); this.foldedDown.bias.dispose(); }
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

export class ResNet extends nn.Module {
  declare conv1: nn.Conv2d; declare bn1: nn.BatchNorm2d;
  declare layer1: nn.Sequential; declare layer2: nn.Sequential; declare layer3: nn.Sequential; declare layer4: nn.Sequential;
  declare fc: nn.Linear;
  readonly name: ResNetName;
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
   * the activations at inference. Call again after changing weights; unfuse() reverts.
   */
  fuse(): this {
    this.eval();
    this.unfuse();
    this.#stem = fold(this.conv1, this.bn1);
    for (const l of RESNET_LAYERS) for (const b of this.#blocks(l)) b.fuse();
    return this;
  }

  unfuse(): this {
    if (this.#stem) { this.#stem.weight.dispose(); this.#stem.bias.dispose(); this.#stem = null; }
    for (const l of RESNET_LAYERS) for (const b of this.#blocks(l)) b.unfuse();
    return this;
  }

  get fused(): boolean { return this.#stem !== null; }

  override loadStateDict(sd: Map<string, Tensor> | Record<string, Tensor>, options: { strict?: boolean } = {}): nn.LoadResult {
    const wasFused = this.fused;
    const r = super.loadStateDict(sd, options);
    if (wasFused) this.fuse();
    return r;
  }

  /** The outputs of the requested stages; stages after the last requested one are not run. */
  forwardFeatures(x: Tensor, layers: readonly ResNetLayer[]): Map<ResNetLayer, Tensor> {
    if (x.ndim !== 4 || x.shape[1] !== 3) throw new RangeError(`${this.name}.forwardFeatures: expected an N×3×H×W input, got [${x.shape.join(', ')}]`);
    for (const l of layers) if (!RESNET_LAYERS.includes(l)) throw new Error(`${this.name}.forwardFeatures: unknown layer '${String(l)}' (use ${RESNET_LAYERS.join(', ')})`);
    const last = Math.max(...layers.map((l) => RESNET_LAYERS.indexOf(l)));
    // Intermediate activations are freed as soon as the next block has run (peak memory).
    return torch.noGrad(() => {
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
    });
  }

  /** Classifier logits (N×numClasses). */
  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const h = this.forwardFeatures(x, ['layer4']).get('layer4')!;
      const pooled = torch.flatten(torch.adaptive_avg_pool2d(h, [1, 1]), 1);
      return this.fc.forward(pooled);
    });
  }

  override dispose(): void {
    this.unfuse();
    super.dispose();
  }
}

export function resnet(name: ResNetName, options: ResNetOptions = {}): ResNet { return new ResNet(name, options); }
export const resnet18 = (options: ResNetOptions = {}): ResNet => new ResNet('resnet18', options);
export const resnet50 = (options: ResNetOptions = {}): ResNet => new ResNet('resnet50', options);
export const wideResnet50_2 = (options: ResNetOptions = {}): ResNet => new ResNet('wide_resnet50_2', options);
