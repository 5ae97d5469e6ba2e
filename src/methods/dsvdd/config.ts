// Configuration of the DCAE and Deep SVDD methods, validation, and the published presets.
import { checkNetworkName, type DsvddNetworkName } from './networks.js';
import type { OneClassDatasetName } from '../../data/oneclass.js';

/** One optimisation stage: Adam (L2 weight decay added to the gradient) + MultiStepLR(γ). */
export interface StageConfig {
  epochs: number;
  lr: number;
  /**
   * Epoch indices (0-based) from which the lr is multiplied by `gamma`, as the authors' CLI option
   * `--lr_milestone`: epoch e trains with lr · gamma^(number of milestones ≤ e). This is what
   * Deep-SVDD-PyTorch does under its pinned torch 0.4.1, where `scheduler.step()` at the START of
   * each epoch sets last_epoch = e (the 0.4 constructor resets last_epoch to −1). Under PyTorch ≥ 1.1
   * that same placement drops the lr one epoch early (at e = m − 1) and warns. Here the scheduler
   * is stepped at the END of each epoch, the modern placement with the 0.4.1 result.
   */
  milestones: number[];
  /** The lr factor at each milestone (the authors' 0.1). */
  gamma: number;
  weightDecay: number;
  batchSize: number;
  /** The authors' `optimizer_name == 'amsgrad'`. */
  amsgrad: boolean;
}

/**
 * Reconstruction loss: 'sum' = mean over the batch of the per-image sum of squared errors
 * (Deep SVDD's AETrainer); 'mean' = mean over all elements (Deep SAD's AETrainer, MSELoss).
 * The anomaly score is always the per-image sum (a per-image mean ranks identically).
 */
export type AeLoss = 'sum' | 'mean';

export interface DcaeConfig {
  network: DsvddNetworkName;
  train: StageConfig;
  loss: AeLoss;
  /** Stride-1 transposed convolutions as convolutions (same result, oneDNN speed). */
  fastDeconv: boolean;
  /** 4-D weights and activations channels-last (same result up to summation order, faster on CPU; networks.ts useChannelsLast). */
  channelsLast: boolean;
  /** Parameter and compute precision; 'float64' exists for numerical checks (inputs are cast). */
  dtype?: 'float32' | 'float64';
}

export type DsvddObjective = 'one-class' | 'soft-boundary';

export interface DsvddConfig {
  network: DsvddNetworkName;
  objective: DsvddObjective;
  /** Soft-boundary ν ∈ (0, 1]: the fraction of training points allowed outside the sphere. */
  nu: number;
  /** Soft-boundary: R is updated once per batch from this epoch on (the authors' warm_up_n_epochs = 10). */
  warmUpEpochs: number;
  /** Center components with |c_i| < centerEps are pushed to ±centerEps (the authors' eps = 0.1). */
  centerEps: number;
  /** DCAE pretraining; epochs 0 = no pretraining (the network keeps its default initialisation). */
  pretrain: StageConfig & { loss: AeLoss };
  train: StageConfig;
  fastDeconv: boolean;
  channelsLast: boolean;
  dtype?: 'float32' | 'float64';
  /**
   * Initialise from a trained autoencoder instead of pretraining (OpenOOD's pretrain → train as
   * two runs): a DCAE run directory, or a .safetensors / .pth autoencoder state dict (a
   * Deep-SVDD-PyTorch checkpoint's `ae_net_dict` too). Relative paths resolve against the working
   * directory. null = pretrain as configured.
   */
  initFrom?: string | null;
}

const stage = (epochs: number, lr: number, milestones: number[], weightDecay: number, batchSize: number): StageConfig =>
  ({ epochs, lr, milestones, gamma: 0.1, weightDecay, batchSize, amsgrad: false });

export const DCAE_DEFAULTS: DcaeConfig = {
  network: 'fmnist',
  train: stage(150, 1e-4, [50], 0.5e-3, 128),
  loss: 'mean',
  fastDeconv: true,
  channelsLast: true,
};

export const DSVDD_DEFAULTS: DsvddConfig = {
  network: 'fmnist',
  objective: 'one-class',
  nu: 0.1,
  warmUpEpochs: 10,
  centerEps: 0.1,
  pretrain: { ...stage(150, 1e-4, [50], 0.5e-3, 128), loss: 'mean' },
  train: stage(150, 1e-4, [50], 0.5e-6, 128),
  fastDeconv: true,
  channelsLast: true,
  initFrom: null,
};

function fail(field: string, msg: string): never {
  throw new Error(`dsvdd config: ${field} ${msg}`);
}

function num(v: unknown, field: string, ok: (x: number) => boolean, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(field, `must be ${what}, got ${JSON.stringify(v)}`);
  return v;
}

export function checkStage(s: unknown, field: string, allowZeroEpochs: boolean): StageConfig {
  if (typeof s !== 'object' || s === null) fail(field, 'must be an object { epochs, lr, milestones, weightDecay, batchSize }');
  const o = s as Record<string, unknown>;
  const epochs = num(o.epochs, `${field}.epochs`, (x) => Number.isInteger(x) && (allowZeroEpochs ? x >= 0 : x >= 1), allowZeroEpochs ? 'an integer ≥ 0' : 'an integer ≥ 1');
  const lr = num(o.lr, `${field}.lr`, (x) => x > 0, 'a positive number');
  const weightDecay = num(o.weightDecay, `${field}.weightDecay`, (x) => x >= 0, 'a number ≥ 0');
  const batchSize = num(o.batchSize, `${field}.batchSize`, (x) => Number.isInteger(x) && x >= 2, 'an integer ≥ 2 (BatchNorm needs 2 samples)');
  const ms = o.milestones ?? [];
  if (!Array.isArray(ms) || !ms.every((m) => Number.isInteger(m) && m >= 0)) fail(`${field}.milestones`, `must be a list of epoch indices ≥ 0, got ${JSON.stringify(ms)}`);
  const gamma = num(o.gamma ?? 0.1, `${field}.gamma`, (x) => x > 0, 'a positive number');
  const amsgrad = o.amsgrad ?? false;
  if (typeof amsgrad !== 'boolean') fail(`${field}.amsgrad`, 'must be true or false');
  return { epochs, lr, milestones: [...(ms as number[])], gamma, weightDecay, batchSize, amsgrad };
}

function checkLoss(v: unknown, field: string): AeLoss {
  if (v !== 'sum' && v !== 'mean') fail(field, `must be 'sum' (Deep SVDD) or 'mean' (Deep SAD), got ${JSON.stringify(v)}`);
  return v;
}

function checkBool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') fail(field, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function checkDtype(v: unknown): 'float32' | 'float64' {
  if (v === undefined || v === 'float32') return 'float32';
  if (v === 'float64') return v;
  return fail('dtype', `must be 'float32' or 'float64', got ${JSON.stringify(v)}`);
}

/** Fills defaults and validates; errors name the field and the allowed values. */
export function resolveDcaeConfig(c: Partial<DcaeConfig>): DcaeConfig {
  const m = { ...DCAE_DEFAULTS, ...c };
  return {
    network: checkNetworkName(m.network, 'dcae config: network'),
    train: checkStage({ ...DCAE_DEFAULTS.train, ...m.train }, 'train', false),
    loss: checkLoss(m.loss, 'loss'),
    fastDeconv: checkBool(m.fastDeconv, 'fastDeconv'),
    channelsLast: checkBool(m.channelsLast, 'channelsLast'),
    dtype: checkDtype(m.dtype),
  };
}

export function resolveDsvddConfig(c: Partial<DsvddConfig>): DsvddConfig {
  const m = { ...DSVDD_DEFAULTS, ...c };
  if (m.objective !== 'one-class' && m.objective !== 'soft-boundary') fail('objective', `must be 'one-class' or 'soft-boundary', got ${JSON.stringify(m.objective)}`);
  const pre = { ...DSVDD_DEFAULTS.pretrain, ...m.pretrain };
  return {
    network: checkNetworkName(m.network, 'dsvdd config: network'),
    objective: m.objective,
    nu: num(m.nu, 'nu', (x) => x > 0 && x <= 1, 'in (0, 1]'),
    warmUpEpochs: num(m.warmUpEpochs, 'warmUpEpochs', (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0'),
    centerEps: num(m.centerEps, 'centerEps', (x) => x >= 0, 'a number ≥ 0'),
    pretrain: { ...checkStage(pre, 'pretrain', true), loss: checkLoss(pre.loss, 'pretrain.loss') },
    train: checkStage({ ...DSVDD_DEFAULTS.train, ...m.train }, 'train', false),
    fastDeconv: checkBool(m.fastDeconv, 'fastDeconv'),
    channelsLast: checkBool(m.channelsLast, 'channelsLast'),
    dtype: checkDtype(m.dtype),
    initFrom: checkInitFrom(m.initFrom),
  };
}

function checkInitFrom(v: unknown): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') fail('initFrom', `must be a path (a DCAE run directory or a .safetensors/.pth autoencoder file) or null, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Input preprocessing a preset expects (applied by the data side, before the method):
 * 'gcn-l1-minmax' = ToTensor → GCN (L1) → min-max with the normal class's constants
 * (Deep SVDD; src/data/dsvdd-preprocess.ts); 'unit' = ToTensor only, pixels / 255 (Deep SAD).
 */
export type DsvddPreprocessing = 'gcn-l1-minmax' | 'unit';

export interface DsvddPreset {
  readonly description: string;
  readonly dataset: OneClassDatasetName;
  readonly preprocessing: DsvddPreprocessing;
  /** Normal class the setting was published for, when it is class-specific. */
  readonly normalClass?: number;
  readonly dsvdd: DsvddConfig;
  readonly dcae: DcaeConfig;
}

function preset(
  description: string, dataset: OneClassDatasetName, preprocessing: DsvddPreprocessing, network: DsvddNetworkName,
  pre: StageConfig & { loss: AeLoss }, train: StageConfig, normalClass?: number,
): DsvddPreset {
  const dsvdd: DsvddConfig = { ...DSVDD_DEFAULTS, network, pretrain: pre, train };
  const { loss, ...aeStage } = pre;
  const dcae: DcaeConfig = { network, train: aeStage, loss, fastDeconv: true, channelsLast: true };
  return { description, dataset, preprocessing, dsvdd, dcae, ...(normalClass === undefined ? {} : { normalClass }) };
}

export const DSVDD_PRESETS = {
  // lukasruff/Deep-SVDD-PyTorch README, "MNIST example": --lr 0.0001 --n_epochs 150 --lr_milestone 50
  // --batch_size 200 --weight_decay 0.5e-6 --ae_lr 0.0001 --ae_n_epochs 150 --ae_lr_milestone 50
  // --ae_batch_size 200 --ae_weight_decay 0.5e-3; src/datasets/mnist.py: GCN-L1 + min-max.
  mnist: preset('Deep SVDD paper, MNIST (authors\' README command)', 'mnist', 'gcn-l1-minmax', 'mnist',
    { ...stage(150, 1e-4, [50], 0.5e-3, 200), loss: 'sum' }, stage(150, 1e-4, [50], 0.5e-6, 200)),
  // lukasruff/Deep-SVDD-PyTorch README, "CIFAR-10 example": --lr 0.0001 --n_epochs 150 --lr_milestone 50
  // --batch_size 200 --weight_decay 0.5e-6 --ae_lr 0.0001 --ae_n_epochs 350 --ae_lr_milestone 250
  // --ae_batch_size 200 --ae_weight_decay 0.5e-6; src/datasets/cifar10.py: GCN-L1 + min-max.
  cifar10: preset('Deep SVDD paper, CIFAR-10 (authors\' README command)', 'cifar10', 'gcn-l1-minmax', 'cifar10',
    { ...stage(350, 1e-4, [250], 0.5e-6, 200), loss: 'sum' }, stage(150, 1e-4, [50], 0.5e-6, 200)),
  // OpenOOD DSVDD (openood-ad.md §2.1, configs train_dcae.yml / train_dsvdd.yml): class 3 (cat),
  // 150 + 150 epochs, lr 1e-4, weight_decay 5e-7, batch 200, milestone 50 — applied per EPOCH as
  // the original (OpenOOD stepped per batch), and the CORRECT class-3 normalisation: GCN-L1 then
  // Normalize(min = −10.599173, max − min = 21.692361) (OpenOOD's −31.7975 / 42.8907 is 3·min, a
  // transcription error). No flip/crop augmentation; c computed once, before training.
  'cifar10-3-openood': preset('OpenOOD CIFAR-10 class 3 (cat) schedule, corrected', 'cifar10', 'gcn-l1-minmax', 'cifar10',
    { ...stage(150, 1e-4, [50], 5e-7, 200), loss: 'sum' }, stage(150, 1e-4, [50], 5e-7, 200), 3),
  // Deep SAD (Ruff et al., ICLR 2020) with γ_l = 0 = Deep SVDD, the 89.2 ± 6.2 F-MNIST row
  // (numbers.md §0.2): lukasruff/Deep-SAD-PyTorch README command: --lr 0.0001 --n_epochs 150
  // --lr_milestone 50 --batch_size 128 --weight_decay 0.5e-6 --ae_lr 0.0001 --ae_n_epochs 150
  // --ae_batch_size 128 --ae_weight_decay 0.5e-3; AE milestone 50 from the paper's two-phase
  // schedule (the README command gives none). src/datasets/fmnist.py: ToTensor only;
  // src/optim/ae_trainer.py: MSELoss mean; network FashionMNIST_LeNet (rep 64).
  fmnist: preset('Deep SAD paper (γ_l = 0), Fashion-MNIST', 'fashion-mnist', 'unit', 'fmnist',
    { ...stage(150, 1e-4, [50], 0.5e-3, 128), loss: 'mean' }, stage(150, 1e-4, [50], 0.5e-6, 128)),
  // Quick runs (ours, not published), as configs/{dsvdd,dcae}/fmnist-short.yaml (the demo's preset;
  // those files also limit the data to 3000 train / 2000 test images): 4 + 4 epochs, no lr drop,
  // GCN-L1 + min-max with Vigil's Fashion-MNIST constants.
  'fmnist-short': preset('Fashion-MNIST, 4 + 4 epochs (quick check, not a published setting)', 'fashion-mnist', 'gcn-l1-minmax', 'fmnist',
    { ...stage(4, 1e-4, [], 0.5e-3, 128), loss: 'mean' }, stage(4, 1e-4, [], 0.5e-6, 128)),
} as const satisfies Record<string, DsvddPreset>;

export type DsvddPresetName = keyof typeof DSVDD_PRESETS;
