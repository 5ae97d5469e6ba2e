// The LeNet-type networks of Deep SVDD (lukasruff/Deep-SVDD-PyTorch @ 1901612, src/networks/) and
// Deep SAD (lukasruff/Deep-SAD-PyTorch, src/networks/fmnist_LeNet.py), with the same module names,
// parameter shapes, construction order (so torch.manualSeed(s) gives the same initial weights as
// torch.manual_seed(s) before the authors' constructor) and initialisation. No layer has a bias;
// every BatchNorm is eps=1e-4, affine=false, momentum 0.1.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { nn } from '../../torch/index.js';

const F = nn.F;

export type DsvddNetworkName = 'mnist' | 'fmnist' | 'cifar10' | 'cifar10-elu';
export const DSVDD_NETWORKS: readonly DsvddNetworkName[] = ['mnist', 'fmnist', 'cifar10', 'cifar10-elu'];

/** The input shape (C, H, W) each network is built for. */
export const NETWORK_INPUT: Readonly<Record<DsvddNetworkName, readonly [number, number, number]>> = {
  mnist: [1, 28, 28],
  fmnist: [1, 28, 28],
  cifar10: [3, 32, 32],
  'cifar10-elu': [3, 32, 32],
};

/** The authors' class names, for messages and the Python side of tests. */
export const NETWORK_CLASSES: Readonly<Record<DsvddNetworkName, { net: string; ae: string }>> = {
  mnist: { net: 'MNIST_LeNet', ae: 'MNIST_LeNet_Autoencoder' },
  fmnist: { net: 'FashionMNIST_LeNet', ae: 'FashionMNIST_LeNet_Autoencoder' },
  cifar10: { net: 'CIFAR10_LeNet', ae: 'CIFAR10_LeNet_Autoencoder' },
  'cifar10-elu': { net: 'CIFAR10_LeNet_ELU', ae: 'CIFAR10_LeNet_ELU_Autoencoder' },
};

type Activation = (x: Tensor) => Tensor;
const leaky: Activation = (x) => F.leakyRelu(x);
const elu: Activation = (x) => F.elu(x);
const up2 = (x: Tensor): Tensor => F.interpolate(x, { scaleFactor: 2 });
const pool = (x: Tensor): Tensor => F.maxPool2d(x, 2, { stride: 2 });

const bn2d = (c: number): nn.BatchNorm2d => new nn.BatchNorm2d(c, { eps: 1e-4, affine: false });
const bn1d = (c: number): nn.BatchNorm1d => new nn.BatchNorm1d(c, { eps: 1e-4, affine: false });
const conv5 = (i: number, o: number): nn.Conv2d => new nn.Conv2d(i, o, 5, { padding: 2, bias: false });

/**
 * A stride-1 transposed convolution computed as an ordinary convolution: for weight W [in, out, k, k]
 * and padding p, conv_transpose2d(x, W, p) = conv2d(x, flip(Wᵀ), k − 1 − p), where Wᵀ swaps the
 * first two dimensions and flip reverses both spatial axes. libtorch 1.13 runs conv_transpose2d on
 * CPU through slow_conv_transpose2d (im2col + GEMM, single-threaded col2im); the convolution takes
 * the oneDNN path, forward and backward. Gradients flow to W through flip/transpose.
 */
export function convTranspose2dViaConv(x: Tensor, weight: Tensor, padding: readonly [number, number], options: { channelsLast?: boolean } = {}): Tensor {
  const [, , kh, kw] = weight.shape as [number, number, number, number];
  const ph = kh - 1 - padding[0];
  const pw = kw - 1 - padding[1];
  if (ph < 0 || pw < 0) throw new RangeError(`convTranspose2dViaConv: padding (${padding.join(', ')}) is larger than kernel − 1; use conv_transpose2d`);
  return torch.tidy(() => {
    let w = weight.transpose(0, 1).flip([2, 3]);
    if (options.channelsLast) w = w.contiguous({ memoryFormat: 'channels_last' });
    return F.conv2d(x, w, { padding: [ph, pw] });
  });
}

/**
 * nn.ConvTranspose2d (same parameter name, shape and default initialisation) whose stride-1 forward
 * can go through {@link convTranspose2dViaConv}. `fast` may be switched at any time.
 */
export class Deconv2d extends nn.ConvTranspose2d {
  fast = true;
  /** The fast path's flipped weight is laid out channels-last (set by {@link useChannelsLast}). */
  channelsLast = false;
  constructor(inC: number, outC: number, kernel: number, padding: number) {
    super(inC, outC, kernel, { padding, bias: false });
  }

  get fastApplicable(): boolean {
    return this.stride.every((s) => s === 1) && this.dilation.every((d) => d === 1) && this.groups === 1
      && this.outputPadding.every((p) => p === 0) && this.bias === null
      && this.padding[0] <= this.kernelSize[0] - 1 && this.padding[1] <= this.kernelSize[1] - 1;
  }

  override forward(x: Tensor): Tensor {
    if (this.fast && this.fastApplicable) return convTranspose2dViaConv(x, this.weight, this.padding, { channelsLast: this.channelsLast });
    return super.forward(x);
  }
}

/**
 * Lays the 4-D weights out channels-last (NHWC). A convolution whose weight is channels-last runs
 * oneDNN's NHWC kernels and returns channels-last activations, which BatchNorm, pooling, activations
 * and nearest upsampling keep; the NCHW layout instead reorders every activation to oneDNN's blocked
 * format and back, forward and backward. Same values up to summation order. Measured on this
 * project's 2-core machine, libtorch 1.13, 1 thread, batch 128: FashionMNIST_LeNet encoder step
 * 45 → 31 ms, its autoencoder step 143 → 85 ms (bench/dsvdd-fmnist reports the end-to-end effect).
 */
export function useChannelsLast(m: nn.Module): void {
  m.to({ memoryFormat: 'channels_last' });
  for (const d of m.modules()) if (d instanceof Deconv2d) d.channelsLast = true;
}

function xavierLeaky(w: Tensor): void { nn.init.xavierUniform_(w, nn.init.calculateGain('leaky_relu')); }

/** A Deep SVDD network φ: images → rep_dim features. */
export abstract class DsvddNet extends nn.Module {
  abstract readonly repDim: number;
  abstract readonly name: DsvddNetworkName;
  abstract override forward(x: Tensor): Tensor;
}

/** An autoencoder whose encoder is a {@link DsvddNet}'s layers; forward returns the sigmoid reconstruction. */
export abstract class DsvddAutoencoder extends nn.Module {
  abstract readonly repDim: number;
  abstract readonly name: DsvddNetworkName;
  abstract override forward(x: Tensor): Tensor;
  /** The prefix of the encoder's keys in this state dict ('' when the layers sit at the top level). */
  readonly encoderPrefix: string = '';
  /** Switches every transposed convolution between the conv-based fast path and ConvTranspose2d. */
  setFastDeconv(on: boolean): void {
    for (const m of this.modules()) if (m instanceof Deconv2d) m.fast = on;
  }
}

// ---- MNIST (Deep SVDD src/networks/mnist_LeNet.py) ---------------------------------------------
// The autoencoder repeats the encoder's layers at its top level (keys conv1, bn1, …), as the authors'.

interface MnistEncoderLayers {
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly conv2: nn.Conv2d;
  readonly bn2: nn.BatchNorm2d;
  readonly fc1: nn.Linear;
}

function addMnistEncoder(m: nn.Module): void {
  m.registerModule('conv1', conv5(1, 8));
  m.registerModule('bn1', bn2d(8));
  m.registerModule('conv2', conv5(8, 4));
  m.registerModule('bn2', bn2d(4));
  m.registerModule('fc1', new nn.Linear(4 * 7 * 7, 32, { bias: false }));
}

function mnistEncode(m: MnistEncoderLayers, x: Tensor): Tensor {
  const h = pool(leaky(m.bn1.forward(m.conv1.forward(x))));
  return m.fc1.forward(pool(leaky(m.bn2.forward(m.conv2.forward(h)))).flatten(1));
}

export interface MnistLeNet extends MnistEncoderLayers {}
export class MnistLeNet extends DsvddNet {
  readonly repDim = 32;
  readonly name = 'mnist' as const;

  constructor() {
    super();
    addMnistEncoder(this);
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => mnistEncode(this, x));
  }
}

export interface MnistLeNetAutoencoder extends MnistEncoderLayers {
  readonly deconv1: Deconv2d;
  readonly bn3: nn.BatchNorm2d;
  readonly deconv2: Deconv2d;
  readonly bn4: nn.BatchNorm2d;
  readonly deconv3: Deconv2d;
}
export class MnistLeNetAutoencoder extends DsvddAutoencoder {
  readonly repDim = 32;
  readonly name = 'mnist' as const;

  constructor() {
    super();
    addMnistEncoder(this);
    this.registerModule('deconv1', new Deconv2d(2, 4, 5, 2));
    this.registerModule('bn3', bn2d(4));
    this.registerModule('deconv2', new Deconv2d(4, 8, 5, 3));
    this.registerModule('bn4', bn2d(8));
    this.registerModule('deconv3', new Deconv2d(8, 1, 5, 2));
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const z = mnistEncode(this, x);
      let h = up2(leaky(z.view([z.shape[0]!, 2, 4, 4])));
      h = up2(leaky(this.bn3.forward(this.deconv1.forward(h))));
      h = up2(leaky(this.bn4.forward(this.deconv2.forward(h))));
      return torch.sigmoid(this.deconv3.forward(h));
    });
  }
}

// ---- Fashion-MNIST (Deep SAD src/networks/fmnist_LeNet.py) -------------------------------------

export class FashionMnistLeNet extends DsvddNet {
  readonly repDim = 64;
  readonly name = 'fmnist' as const;
  declare readonly conv1: nn.Conv2d;
  declare readonly bn2d1: nn.BatchNorm2d;
  declare readonly conv2: nn.Conv2d;
  declare readonly bn2d2: nn.BatchNorm2d;
  declare readonly fc1: nn.Linear;
  declare readonly bn1d1: nn.BatchNorm1d;
  declare readonly fc2: nn.Linear;

  constructor() {
    super();
    this.registerModule('conv1', conv5(1, 16));
    this.registerModule('bn2d1', bn2d(16));
    this.registerModule('conv2', conv5(16, 32));
    this.registerModule('bn2d2', bn2d(32));
    this.registerModule('fc1', new nn.Linear(32 * 7 * 7, 128, { bias: false }));
    this.registerModule('bn1d1', bn1d(128));
    this.registerModule('fc2', new nn.Linear(128, 64, { bias: false }));
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      let h = pool(leaky(this.bn2d1.forward(this.conv1.forward(x))));
      h = pool(leaky(this.bn2d2.forward(this.conv2.forward(h))));
      h = leaky(this.bn1d1.forward(this.fc1.forward(h.flatten(1))));
      return this.fc2.forward(h);
    });
  }
}

export class FashionMnistLeNetDecoder extends nn.Module {
  declare readonly fc3: nn.Linear;
  declare readonly bn1d2: nn.BatchNorm1d;
  declare readonly deconv1: Deconv2d;
  declare readonly bn2d3: nn.BatchNorm2d;
  declare readonly deconv2: Deconv2d;
  declare readonly bn2d4: nn.BatchNorm2d;
  declare readonly deconv3: Deconv2d;

  constructor() {
    super();
    this.registerModule('fc3', new nn.Linear(64, 128, { bias: false }));
    this.registerModule('bn1d2', bn1d(128));
    this.registerModule('deconv1', new Deconv2d(8, 32, 5, 2));
    this.registerModule('bn2d3', bn2d(32));
    this.registerModule('deconv2', new Deconv2d(32, 16, 5, 3));
    this.registerModule('bn2d4', bn2d(16));
    this.registerModule('deconv3', new Deconv2d(16, 1, 5, 2));
  }

  forward(z: Tensor): Tensor {
    return torch.tidy(() => {
      let h = this.bn1d2.forward(this.fc3.forward(z));
      h = up2(leaky(h.view([h.shape[0]!, 8, 4, 4])));
      h = up2(leaky(this.bn2d3.forward(this.deconv1.forward(h))));
      h = up2(leaky(this.bn2d4.forward(this.deconv2.forward(h))));
      return torch.sigmoid(this.deconv3.forward(h));
    });
  }
}

/** Keys `encoder.*` and `decoder.*`, as Deep SAD's FashionMNIST_LeNet_Autoencoder. */
export class FashionMnistLeNetAutoencoder extends DsvddAutoencoder {
  readonly repDim = 64;
  readonly name = 'fmnist' as const;
  override readonly encoderPrefix = 'encoder.';
  declare readonly encoder: FashionMnistLeNet;
  declare readonly decoder: FashionMnistLeNetDecoder;

  constructor() {
    super();
    this.registerModule('encoder', new FashionMnistLeNet());
    this.registerModule('decoder', new FashionMnistLeNetDecoder());
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => this.decoder.forward(this.encoder.forward(x)));
  }
}

// ---- CIFAR-10 (Deep SVDD src/networks/cifar10_LeNet.py, cifar10_LeNet_elu.py) ------------------
// As for MNIST, the autoencoder repeats the encoder's layers at its top level.

interface Cifar10EncoderLayers {
  readonly conv1: nn.Conv2d;
  readonly bn2d1: nn.BatchNorm2d;
  readonly conv2: nn.Conv2d;
  readonly bn2d2: nn.BatchNorm2d;
  readonly conv3: nn.Conv2d;
  readonly bn2d3: nn.BatchNorm2d;
  readonly fc1: nn.Linear;
}

/** Registers the encoder layers; `init` re-initialises each conv weight right after it is built (the AE's order). */
function addCifar10Encoder(m: nn.Module, init: (w: Tensor) => void = () => {}): void {
  const c = (conv: nn.Conv2d): nn.Conv2d => { init(conv.weight); return conv; };
  m.registerModule('conv1', c(conv5(3, 32)));
  m.registerModule('bn2d1', bn2d(32));
  m.registerModule('conv2', c(conv5(32, 64)));
  m.registerModule('bn2d2', bn2d(64));
  m.registerModule('conv3', c(conv5(64, 128)));
  m.registerModule('bn2d3', bn2d(128));
  m.registerModule('fc1', new nn.Linear(128 * 4 * 4, 128, { bias: false }));
}

function cifar10Encode(m: Cifar10EncoderLayers, act: Activation, x: Tensor): Tensor {
  let h = pool(act(m.bn2d1.forward(m.conv1.forward(x))));
  h = pool(act(m.bn2d2.forward(m.conv2.forward(h))));
  h = pool(act(m.bn2d3.forward(m.conv3.forward(h))));
  return m.fc1.forward(h.flatten(1));
}

interface Cifar10Encoder extends Cifar10EncoderLayers {}
class Cifar10Encoder extends DsvddNet {
  readonly repDim = 128;
  readonly #act: Activation;

  constructor(readonly name: 'cifar10' | 'cifar10-elu') {
    super();
    this.#act = name === 'cifar10' ? leaky : elu;
    addCifar10Encoder(this);
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => cifar10Encode(this, this.#act, x));
  }
}

export class Cifar10LeNet extends Cifar10Encoder {
  constructor() { super('cifar10'); }
}

export class Cifar10LeNetElu extends Cifar10Encoder {
  constructor() { super('cifar10-elu'); }
}

interface Cifar10Autoencoder extends Cifar10EncoderLayers {
  readonly bn1d: nn.BatchNorm1d;
  readonly deconv1: Deconv2d;
  readonly bn2d4: nn.BatchNorm2d;
  readonly deconv2: Deconv2d;
  readonly bn2d5: nn.BatchNorm2d;
  readonly deconv3: Deconv2d;
  readonly bn2d6: nn.BatchNorm2d;
  readonly deconv4: Deconv2d;
}
class Cifar10Autoencoder extends DsvddAutoencoder {
  readonly repDim = 128;
  readonly #act: Activation;

  constructor(readonly name: 'cifar10' | 'cifar10-elu') {
    super();
    this.#act = name === 'cifar10' ? leaky : elu;
    // leaky-ReLU nets: xavier_uniform_ with gain calculate_gain('leaky_relu'); ELU nets: gain 1.
    const init = name === 'cifar10' ? xavierLeaky : (w: Tensor): void => { nn.init.xavierUniform_(w); };
    const c = (m: Deconv2d): Deconv2d => { init(m.weight); return m; };
    addCifar10Encoder(this, init);
    this.registerModule('bn1d', bn1d(128));
    this.registerModule('deconv1', c(new Deconv2d(8, 128, 5, 2)));
    this.registerModule('bn2d4', bn2d(128));
    this.registerModule('deconv2', c(new Deconv2d(128, 64, 5, 2)));
    this.registerModule('bn2d5', bn2d(64));
    this.registerModule('deconv3', c(new Deconv2d(64, 32, 5, 2)));
    this.registerModule('bn2d6', bn2d(32));
    this.registerModule('deconv4', c(new Deconv2d(32, 3, 5, 2)));
  }

  forward(x: Tensor): Tensor {
    const act = this.#act;
    return torch.tidy(() => {
      let h = this.bn1d.forward(cifar10Encode(this, act, x));
      h = act(h.view([h.shape[0]!, 8, 4, 4]));
      h = up2(act(this.bn2d4.forward(this.deconv1.forward(h))));
      h = up2(act(this.bn2d5.forward(this.deconv2.forward(h))));
      h = up2(act(this.bn2d6.forward(this.deconv3.forward(h))));
      return torch.sigmoid(this.deconv4.forward(h));
    });
  }
}

export class Cifar10LeNetAutoencoder extends Cifar10Autoencoder {
  constructor() { super('cifar10'); }
}

export class Cifar10LeNetEluAutoencoder extends Cifar10Autoencoder {
  constructor() { super('cifar10-elu'); }
}

export function checkNetworkName(name: unknown, field = 'network'): DsvddNetworkName {
  if (typeof name !== 'string' || !(DSVDD_NETWORKS as readonly string[]).includes(name)) {
    throw new Error(`${field}: unknown network ${JSON.stringify(name)}; use one of ${DSVDD_NETWORKS.map((n) => `'${n}'`).join(', ')}`);
  }
  return name as DsvddNetworkName;
}

/** A fresh Deep SVDD network φ, initialised as the authors' constructor does. */
export function buildNetwork(name: DsvddNetworkName, options: { channelsLast?: boolean } = {}): DsvddNet {
  let net: DsvddNet;
  switch (checkNetworkName(name)) {
    case 'mnist': net = new MnistLeNet(); break;
    case 'fmnist': net = new FashionMnistLeNet(); break;
    case 'cifar10': net = new Cifar10LeNet(); break;
    case 'cifar10-elu': net = new Cifar10LeNetElu(); break;
  }
  if (options.channelsLast) useChannelsLast(net);
  return net;
}

/** A fresh autoencoder for the network, initialised as the authors' constructor does. */
export function buildAutoencoder(name: DsvddNetworkName, options: { fastDeconv?: boolean; channelsLast?: boolean } = {}): DsvddAutoencoder {
  let ae: DsvddAutoencoder;
  switch (checkNetworkName(name)) {
    case 'mnist': ae = new MnistLeNetAutoencoder(); break;
    case 'fmnist': ae = new FashionMnistLeNetAutoencoder(); break;
    case 'cifar10': ae = new Cifar10LeNetAutoencoder(); break;
    case 'cifar10-elu': ae = new Cifar10LeNetEluAutoencoder(); break;
  }
  ae.setFastDeconv(options.fastDeconv ?? true);
  if (options.channelsLast) useChannelsLast(ae);
  return ae;
}

/**
 * The autoencoder → network weight transfer of the authors' `init_network_weights_from_pretraining`:
 * every encoder entry of the AE state dict (conv/linear weights and the BN buffers running_mean,
 * running_var, num_batches_tracked) whose key exists in the network is copied; decoder keys are
 * dropped. For Deep SAD's Fashion-MNIST AE the encoder keys carry the prefix `encoder.`; the
 * authors' filter (`k in net_dict`) matches none of them, so their pretraining silently had no
 * effect (Deep-SAD-PyTorch issue #9 / PR #11). Here the prefix is stripped, which is the intent.
 * Returns the copied keys (network names). Throws if a network key is not covered.
 */
export function transferEncoderWeights(ae: DsvddAutoencoder, net: DsvddNet): string[] {
  if (ae.name !== net.name) throw new Error(`transferEncoderWeights: autoencoder is '${ae.name}', network is '${net.name}'`);
  return torch.tidy(() => {
    const aeSd = ae.stateDict();
    const netSd = net.stateDict();
    const copy = new Map<string, Tensor>();
    for (const [k, v] of aeSd) {
      if (!k.startsWith(ae.encoderPrefix)) continue;
      const nk = k.slice(ae.encoderPrefix.length);
      if (netSd.has(nk)) copy.set(nk, v);
    }
    const missing = [...netSd.keys()].filter((k) => !copy.has(k));
    if (missing.length) throw new Error(`transferEncoderWeights: the autoencoder has no weights for ${missing.join(', ')}`);
    net.loadStateDict(copy);
    return [...copy.keys()];
  });
}
