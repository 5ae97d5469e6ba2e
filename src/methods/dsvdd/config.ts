// Configuration of the DCAE and Deep SVDD methods: one zod schema each (types, validation and
// defaults). The published settings are the YAML presets in configs/dsvdd and configs/dcae.
import { z } from 'zod';
import { parseOrThrow } from '../schema.js';
import { MethodInputError } from '../types.js';
import { DSVDD_NETWORKS } from './networks.js';

interface StageDefaults { epochs: number; lr: number; milestones: number[]; weightDecay: number; batchSize: number }

/** One optimisation stage: Adam (L2 weight decay added to the gradient) + MultiStepLR(γ). */
function stageSchema(d: StageDefaults, minEpochs: 0 | 1) {
  return z.strictObject({
    epochs: z.int().min(minEpochs).default(d.epochs),
    lr: z.number().positive().default(d.lr),
    /**
     * Epoch indices (0-based) from which the lr is multiplied by `gamma`, as the authors' CLI option
     * `--lr_milestone`: epoch e trains with lr · gamma^(number of milestones ≤ e). This is what
     * Deep-SVDD-PyTorch does under its pinned torch 0.4.1, where `scheduler.step()` at the START of
     * each epoch sets last_epoch = e (the 0.4 constructor resets last_epoch to −1). Under PyTorch ≥ 1.1
     * that same placement drops the lr one epoch early (at e = m − 1) and warns. Here the scheduler
     * is stepped at the END of each epoch, the modern placement with the 0.4.1 result.
     */
    milestones: z.array(z.int().min(0)).default(d.milestones),
    /** The lr factor at each milestone (the authors' 0.1). */
    gamma: z.number().positive().default(0.1),
    weightDecay: z.number().min(0).default(d.weightDecay),
    /** BatchNorm needs at least 2 samples per batch. */
    batchSize: z.int().min(2).default(d.batchSize),
    /** The authors' `optimizer_name == 'amsgrad'`. */
    amsgrad: z.boolean().default(false),
  });
}

/**
 * Reconstruction loss: 'sum' = mean over the batch of the per-image sum of squared errors
 * (Deep SVDD's AETrainer); 'mean' = mean over all elements (Deep SAD's AETrainer, MSELoss).
 * The anomaly score is always the per-image sum (a per-image mean ranks identically).
 */
const aeLoss = z.enum(['sum', 'mean']);
export type AeLoss = z.infer<typeof aeLoss>;

const common = {
  network: z.enum(DSVDD_NETWORKS).default('fmnist'),
  /** Stride-1 transposed convolutions as convolutions (same result, oneDNN speed). */
  fastDeconv: z.boolean().default(true),
  /** 4-D weights and activations channels-last (same result up to summation order, faster on CPU; networks.ts useChannelsLast). */
  channelsLast: z.boolean().default(true),
  /** Parameter and compute precision; 'float64' exists for numerical checks (inputs are cast). */
  dtype: z.enum(['float32', 'float64']).default('float32'),
};

export const dcaeSchema = z.strictObject({
  ...common,
  train: stageSchema({ epochs: 150, lr: 1e-4, milestones: [50], weightDecay: 0.5e-3, batchSize: 128 }, 1).prefault({}),
  loss: aeLoss.default('mean'),
});

export const dsvddSchema = z.strictObject({
  ...common,
  objective: z.enum(['one-class', 'soft-boundary']).default('one-class'),
  /** Soft-boundary ν ∈ (0, 1]: the fraction of training points allowed outside the sphere. */
  nu: z.number().gt(0).max(1).default(0.1),
  /** Soft-boundary: R is updated once per batch from this epoch on (the authors' warm_up_n_epochs = 10). */
  warmUpEpochs: z.int().min(0).default(10),
  /** Center components with |c_i| < centerEps are pushed to ±centerEps (the authors' eps = 0.1). */
  centerEps: z.number().min(0).default(0.1),
  /** DCAE pretraining; epochs 0 = no pretraining (the network keeps its default initialisation). */
  pretrain: stageSchema({ epochs: 150, lr: 1e-4, milestones: [50], weightDecay: 0.5e-3, batchSize: 128 }, 0).extend({ loss: aeLoss.default('mean') }).prefault({}),
  train: stageSchema({ epochs: 150, lr: 1e-4, milestones: [50], weightDecay: 0.5e-6, batchSize: 128 }, 1).prefault({}),
  /**
   * Initialise from a trained autoencoder instead of pretraining (OpenOOD's pretrain → train as
   * two runs): a DCAE run directory, or a .safetensors / .pth autoencoder state dict (a
   * Deep-SVDD-PyTorch checkpoint's `ae_net_dict` too). Relative paths resolve against the working
   * directory. null (or '') = pretrain as configured.
   */
  initFrom: z.string().nullable().default(null),
});

export type StageConfig = z.infer<ReturnType<typeof stageSchema>>;
export type DcaeConfig = z.infer<typeof dcaeSchema>;
export type DsvddConfig = z.infer<typeof dsvddSchema>;
export type DsvddObjective = DsvddConfig['objective'];

export const DCAE_DEFAULTS: DcaeConfig = dcaeSchema.parse({});
export const DSVDD_DEFAULTS: DsvddConfig = dsvddSchema.parse({});

/** Fills defaults and validates; errors name every bad field and what it must be. */
export function resolveDcaeConfig(c: unknown = {}): DcaeConfig {
  return parseOrThrow(dcaeSchema, c, 'dcae', (m) => new MethodInputError(m));
}

export function resolveDsvddConfig(c: unknown = {}): DsvddConfig {
  const r = parseOrThrow(dsvddSchema, c, 'dsvdd', (m) => new MethodInputError(m));
  return r.initFrom === '' ? { ...r, initFrom: null } : r;
}
