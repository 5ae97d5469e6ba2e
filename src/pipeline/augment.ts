// Train-time augmentation / anomaly synthesis (MethodInputs.trainAugment), run in worker threads
// so that it overlaps the optimisation step instead of sitting on its critical path. A method
// names a module and an export:
//
//   export async function synthesize(batch: AugmentInput, ctx: AugmentContext, options: O): Promise<AugmentOutput>
//
// which gets plain typed arrays (the batch as the loader made it) and returns named arrays (e.g.
// DRAEM's augmented image, mask, has-anomaly flag); they reach fit() as tensors in ImageBatch.extra.
// Randomness must come from (ctx.seed, ctx.epoch, ctx.positions[k]) so that results do not depend on
// the number of workers or on batching.
import { TorchWorker } from '../torch/index.js';
import type { AugmentContext, AugmentFn, AugmentInput, AugmentOutput, TrainAugmentation } from '../methods/types.js';

export type { AugmentInput, AugmentContext, AugmentOutput, AugmentFn } from '../methods/types.js';

/** Round-robin over `workers` TorchWorkers (one libtorch thread each); 0 = run in this thread (tests, debugging). */
export class AugmentPool {
  readonly #workers: TorchWorker[] = [];
  #local: Promise<AugmentFn> | null = null;
  #next = 0;

  constructor(readonly def: TrainAugmentation, workers: number) {
    if (!Number.isInteger(workers) || workers < 0) throw new RangeError(`AugmentPool: workers must be an integer >= 0, got ${workers}`);
    for (let i = 0; i < workers; i++) this.#workers.push(new TorchWorker(def.module, { numThreads: 1 }));
  }

  get size(): number { return this.#workers.length; }

  run(batch: AugmentInput, ctx: AugmentContext): Promise<AugmentOutput> {
    if (this.#workers.length === 0) {
      this.#local ??= import(this.def.module).then((m: Record<string, unknown>) => {
        const f = m[this.def.export];
        if (typeof f !== 'function') throw new Error(`trainAugment: ${this.def.module} has no exported function '${this.def.export}'`);
        return f as AugmentFn;
      });
      return this.#local.then((f) => f(batch, ctx, this.def.options));
    }
    const w = this.#workers[this.#next++ % this.#workers.length]!;
    return w.call<AugmentOutput>(this.def.export, batch, ctx, this.def.options);
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.splice(0).map((w) => w.terminate()));
  }
}
