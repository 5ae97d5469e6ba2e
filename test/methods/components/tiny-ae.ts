// A method written only against the public contract (methods/types.ts, methods/components, torch):
// a tiny denoising conv autoencoder trained by the shared trainer. Its training draws from
// libtorch's RNG every batch (Gaussian input noise, Dropout2d), takes speckled inputs from a
// train-time augmentation that runs in the loader's worker threads (tiny-ae-augment.ts), samples
// with replacement, and has BatchNorm buffers, Adam moments and an lr schedule, so an exact resume
// needs everything the trainer and the data side reproduce.
// Loaded by the CLI through VIGIL_PLUGINS. TINYAE_HOLD_AT=<epoch>:<batch> (0-based) makes that
// step log a line and block, so a test can SIGKILL the process mid-epoch without timing guesses.
import * as torch from '../../../src/torch/index.js';
import { nn, type Tensor } from '../../../src/torch/index.js';
import type { Detector, FitContext, MethodDefinition, ScoreResult, TrainData } from '../../../src/methods/types.js';
import { trainStage } from '../../../src/methods/components/index.js';

export interface TinyAeConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  milestones: number[];
  gamma: number;
  /** Standard deviation of the Gaussian noise added to the inputs while training. */
  noise: number;
  channels: number;
  /** Speckle the inputs in the loader workers (share of pixels set to 0 or 1); 0 = off. */
  speckle: number;
  sampling: 'shuffle' | 'replacement';
}

type Shape3 = readonly [number, number, number];

class TinyAe extends nn.Module {
  readonly body: nn.Sequential;
  constructor(c: number, ch: number) {
    super();
    this.body = this.registerModule('body', new nn.Sequential(
      new nn.Conv2d(c, ch, 3, { stride: 2, padding: 1 }), new nn.BatchNorm2d(ch), new nn.ReLU(), new nn.Dropout2d(0.2),
      new nn.Conv2d(ch, ch, 3, { padding: 1 }), new nn.ReLU(),
      new nn.Upsample({ scaleFactor: 2, mode: 'nearest' }), new nn.Conv2d(ch, c, 3, { padding: 1 }),
    ));
  }
  forward(x: Tensor): Tensor { return this.body.forward(x); }
}

function holdPoint(): [number, number] | null {
  const m = /^(\d+):(\d+)$/.exec(process.env.TINYAE_HOLD_AT ?? '');
  return m ? [Number(m[1]), Number(m[2])] : null;
}

class TinyAeDetector implements Detector {
  readonly method = 'tinyae';
  readonly net: TinyAe;
  constructor(readonly config: TinyAeConfig, readonly shape: Shape3) {
    this.net = new TinyAe(shape[0], config.channels);
  }

  async fit(data: TrainData, ctx: FitContext): Promise<void> {
    const c = this.config;
    const hold = holdPoint();
    await trainStage({
      name: 'train', epochs: c.epochs, batchSize: c.batchSize, modules: { ae: this.net },
      optimizer: { type: 'adam', lr: c.lr }, schedule: { milestones: c.milestones, gamma: c.gamma },
      sampling: c.sampling, augment: c.speckle > 0,
      step: (b, { epoch, batch }) => {
        if (hold && hold[0] === epoch && hold[1] === batch) {
          ctx.log(`tinyae: holding at epoch ${epoch}, batch ${batch}`);
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000);
          throw new Error('tinyae: TINYAE_HOLD_AT held for 120 s without being killed');
        }
        const x = b.images;
        const input = b.extra?.speckled ?? x;
        if (c.speckle > 0 && !b.extra?.speckled) throw new Error('tinyae: the augmented batch lacks extra.speckled');
        const rec = this.net.forward(input.add(torch.randn_like(x).mul(c.noise)));
        const mse = rec.sub(x).pow(2).mean();
        return { loss: mse, parts: { l1: rec.sub(x).abs().mean() } };
      },
    }, data, ctx);
  }

  /** Score = mean squared reconstruction error; map = squared error per pixel, mean over channels. */
  score(images: Tensor): ScoreResult {
    this.net.eval();
    return torch.tidy(() => torch.noGrad(() => {
      const err = this.net.forward(images).sub(images).pow(2).mean([1]);
      return { scores: err.flatten(1).mean([1]).toTypedArray() as Float32Array, maps: err.contiguous().toTypedArray() as Float32Array };
    }));
  }

  state(): { tensors: Map<string, Tensor>; meta: Record<string, unknown> } {
    return { tensors: this.net.stateDict(), meta: {} };
  }

  dispose(): void { this.net.dispose(); }
}

export const tinyae: MethodDefinition<TinyAeConfig> = {
  name: 'tinyae',
  description: 'test fixture: a tiny denoising conv autoencoder on the shared trainer',
  defaults: { epochs: 5, batchSize: 4, lr: 3e-3, milestones: [3], gamma: 0.5, noise: 0.1, channels: 8, speckle: 0.05, sampling: 'replacement' },
  inputs: (c) => (c.speckle > 0 ? { trainAugment: { module: new URL('./tiny-ae-augment.js', import.meta.url).href, export: 'speckle', options: { amount: c.speckle } } } : {}),
  create: (c, s) => new TinyAeDetector(c, s),
  load: (c, s, state) => {
    const d = new TinyAeDetector(c, s);
    d.net.loadStateDict(state.tensors);
    d.net.eval();
    return d;
  },
};
