// The inference pool: N TorchWorkers (each with every model loaded and cores/N libtorch threads),
// a bounded FIFO of images, and micro-batching (a free worker takes up to maxBatch queued images
// of one model, from any requests). A full queue refuses at once (the caller answers 503), a
// request past its deadline leaves the queue, and a crashed worker is replaced.
import { performance } from 'node:perf_hooks';
import { TorchWorker } from '../torch/worker.js';
import type { ItemResult, LoadSpec, WorkItem } from './infer-worker.js';

export interface PoolOptions {
  workers: number;
  threadsPerWorker: number;
  device: string;
  /** Images that may wait for a worker; one more is refused. */
  queueLimit: number;
  /** Images per worker call. */
  maxBatch: number;
  onLog?: (m: string) => void;
}

export type PoolResult = ItemResult & { queueMs: number };

export class QueueFullError extends Error {
  constructor(readonly retryAfterS: number, depth: number, limit: number) {
    super(`the inference queue is full (${depth} of ${limit} images waiting); retry after ${retryAfterS} s`);
    this.name = 'QueueFullError';
  }
}

export class PoolClosedError extends Error {
  constructor() { super('the server is shutting down and takes no new work'); this.name = 'PoolClosedError'; }
}

interface Job {
  model: string;
  items: WorkItem[];
  render: boolean;
  threshold: () => number;
  results: Array<PoolResult | undefined>;
  left: number;
  enqueued: number;
  cancelled: boolean;
  resolve: (r: PoolResult[]) => void;
  reject: (e: Error) => void;
}

interface Slice { job: Job; k: number }

interface Slot { worker: TorchWorker; busy: boolean; ready: boolean; id: number }

const WORKER_URL = new URL('./infer-worker.js', import.meta.url);

export class InferencePool {
  #slots: Slot[] = [];
  #queue: Slice[] = [];
  #inFlight = 0;
  #closing = false;
  #idleWaiters: Array<() => void> = [];
  #msPerImage = 50;
  #nextId = 1;
  readonly loadSeconds = new Map<string, number>();

  constructor(readonly models: readonly LoadSpec[], readonly o: PoolOptions) {
    if (!Number.isInteger(o.workers) || o.workers < 1) throw new Error(`pool: workers must be a positive integer, got ${o.workers}`);
  }

  get queueDepth(): number { return this.#queue.length; }
  get inFlight(): number { return this.#inFlight; }
  get liveWorkers(): number { return this.#slots.filter((s) => s.ready).length; }
  get ready(): boolean { return !this.#closing && this.#slots.length === this.o.workers && this.#slots.every((s) => s.ready); }

  /** Starts the workers and loads every model in each; rejects with the first load error. */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.o.workers }, () => this.#spawn()));
  }

  // Loads run one worker at a time: libtorch's default CPU generator is process-wide, and a model
  // whose weights are re-drawn from a seed at load (a backbone with random weights) came out
  // different in each of two workers loading at once (measured: PatchCore scores 101.9 and 54.7
  // instead of 3.7). Scoring draws no random numbers and runs in parallel.
  #loading: Promise<unknown> = Promise.resolve();

  async #spawn(): Promise<Slot> {
    const slot: Slot = { worker: new TorchWorker(WORKER_URL, { numThreads: this.o.threadsPerWorker }), busy: true, ready: false, id: this.#nextId++ };
    this.#slots.push(slot);
    try {
      const load = this.#loading.then(() => slot.worker.call<Array<{ name: string; seconds: number }>>('load', this.models, this.o.device));
      this.#loading = load.catch(() => undefined);
      const loaded = await load;
      for (const l of loaded) this.loadSeconds.set(l.name, Math.max(this.loadSeconds.get(l.name) ?? 0, l.seconds));
    } catch (e) {
      this.#slots = this.#slots.filter((s) => s !== slot);
      await slot.worker.terminate().catch(() => undefined);
      throw e;
    }
    slot.ready = true;
    slot.busy = false;
    this.#pump();
    return slot;
  }

  /**
   * Queues the images of one request. The threshold is read when a worker takes them, so a
   * PATCH applies to everything still waiting.
   */
  submit(model: string, items: WorkItem[], threshold: () => number, render: boolean): { done: Promise<PoolResult[]>; cancel: () => void } {
    if (this.#closing) throw new PoolClosedError();
    if (this.#queue.length + items.length > this.o.queueLimit) throw new QueueFullError(this.retryAfterSeconds(), this.#queue.length, this.o.queueLimit);
    let job!: Job;
    const done = new Promise<PoolResult[]>((resolve, reject) => {
      job = { model, items, render, threshold, results: new Array<PoolResult | undefined>(items.length), left: items.length, enqueued: performance.now(), cancelled: false, resolve, reject };
    });
    for (let k = 0; k < items.length; k++) this.#queue.push({ job, k });
    this.#pump();
    const cancel = (): void => {
      if (job.cancelled) return;
      job.cancelled = true;
      this.#queue = this.#queue.filter((s) => s.job !== job);
      this.#checkIdle();
    };
    return { done, cancel };
  }

  /** Seconds a client should wait before retrying: the queue's expected drain time. */
  retryAfterSeconds(): number {
    const s = (this.#queue.length / Math.max(1, this.o.workers)) * this.#msPerImage / 1000;
    return Math.min(60, Math.max(1, Math.ceil(s)));
  }

  #pump(): void {
    for (const slot of this.#slots) {
      if (!slot.ready || slot.busy || this.#queue.length === 0) continue;
      const first = this.#queue.shift()!;
      const batch: Slice[] = [first];
      for (let i = 0; i < this.#queue.length && batch.length < this.o.maxBatch;) {
        const s = this.#queue[i]!;
        if (s.job.model === first.job.model && s.job.render === first.job.render) { batch.push(s); this.#queue.splice(i, 1); } else i++;
      }
      void this.#run(slot, batch);
    }
  }

  async #run(slot: Slot, batch: Slice[]): Promise<void> {
    slot.busy = true;
    this.#inFlight += batch.length;
    const t0 = performance.now();
    const { model, render } = batch[0]!.job;
    try {
      const out = await slot.worker.call<ItemResult[]>('predict', model, batch[0]!.job.threshold(), batch.map((s) => s.job.items[s.k]!), render);
      const ms = performance.now() - t0;
      this.#msPerImage = 0.8 * this.#msPerImage + 0.2 * (ms / batch.length);
      for (const [j, s] of batch.entries()) this.#settle(s, { ...out[j]!, queueMs: t0 - s.job.enqueued });
    } catch (e) {
      for (const s of batch) if (!s.job.cancelled) { s.job.cancelled = true; s.job.reject(e as Error); }
      if (/torch worker exited/.test((e as Error).message)) void this.#replace(slot);
    } finally {
      this.#inFlight -= batch.length;
      slot.busy = false;
      this.#pump();
      this.#checkIdle();
    }
  }

  #settle(s: Slice, r: PoolResult): void {
    const job = s.job;
    if (job.cancelled) return;
    job.results[s.k] = r;
    if (--job.left === 0) job.resolve(job.results as PoolResult[]);
  }

  async #replace(slot: Slot): Promise<void> {
    // Synchronous part first: the dead slot must leave the list before the next #pump.
    this.#slots = this.#slots.filter((s) => s !== slot);
    if (this.#closing) return;
    this.o.onLog?.(`serve: worker ${slot.id} died; starting a replacement`);
    await this.#spawn().catch((e: Error) => this.o.onLog?.(`serve: replacement worker failed to load: ${e.message}`));
  }

  #checkIdle(): void {
    if (this.#queue.length > 0 || this.#inFlight > 0) return;
    const w = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const f of w) f();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((r) => this.#idleWaiters.push(r));
  }

  /** Refuses new work from now on (running and queued work continues). */
  stopAccepting(): void { this.#closing = true; }

  /** Ends the workers; anything still queued is rejected. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const s of this.#queue.splice(0)) if (!s.job.cancelled) { s.job.cancelled = true; s.job.reject(new PoolClosedError()); }
    await Promise.all(this.#slots.map(async (s) => {
      await s.worker.call('dispose').catch(() => undefined);
      await s.worker.terminate();
    }));
    this.#slots = [];
  }
}
