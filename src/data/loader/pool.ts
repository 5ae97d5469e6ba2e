import { Worker } from 'node:worker_threads';
import type { Sample } from '../transforms/pipeline.js';
import type { SampleConfig, SampleJob } from './sample.js';

export type JobResult = { ok: true; sample: Sample } | { ok: false; message: string };

interface Slot {
  worker: Worker;
  busy: number;
}

/**
 * A fixed pool of sample workers. Jobs queue in order and go to the least busy worker (at most
 * two in flight each, so transfer and decoding overlap). Workers are unref'd while idle, so a
 * forgotten close() does not keep the process alive.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Array<{ id: number; job: SampleJob; transfer: ArrayBuffer[] }> = [];
  private readonly waiting = new Map<number, (r: JobResult) => void>();
  private nextId = 0;
  private closed = false;
  private drained: (() => void) | null = null;

  constructor(size: number, cfg: SampleConfig) {
    const url = new URL('./worker.js', import.meta.url);
    for (let i = 0; i < size; i++) {
      const worker = new Worker(url, { workerData: cfg });
      const slot: Slot = { worker, busy: 0 };
      worker.on('message', (msg: { id: number } & JobResult) => {
        slot.busy--;
        if (slot.busy === 0) worker.unref();
        const resolve = this.waiting.get(msg.id);
        this.waiting.delete(msg.id);
        resolve?.(msg.ok ? { ok: true, sample: msg.sample } : { ok: false, message: msg.message });
        this.pump();
        this.checkDrained();
      });
      worker.on('error', (e) => {
        slot.busy = 0;
        this.failAll(`loader worker crashed: ${e.message}`);
        this.checkDrained();
      });
      worker.unref();
      this.slots.push(slot);
    }
  }

  run(job: SampleJob): Promise<JobResult> {
    if (this.closed) return Promise.resolve({ ok: false, message: 'loader was closed' });
    const id = this.nextId++;
    const transfer: ArrayBuffer[] = [];
    if (job.input) {
      // Cached inputs are copied, not transferred: the cache must keep its own buffers.
      job = { ...job, input: cloneSample(job.input) };
      transfer.push(job.input!.image.data.buffer as ArrayBuffer);
      if (job.input!.mask) transfer.push(job.input!.mask.data.buffer as ArrayBuffer);
    }
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.queue.push({ id, job, transfer });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let best: Slot | null = null;
      for (const s of this.slots) if (s.busy < 2 && (best === null || s.busy < best.busy)) best = s;
      if (best === null) return;
      const next = this.queue.shift()!;
      if (best.busy === 0) best.worker.ref();
      best.busy++;
      best.worker.postMessage({ id: next.id, job: next.job }, next.transfer);
    }
  }

  private failAll(message: string): void {
    for (const [, resolve] of this.waiting) resolve({ ok: false, message });
    this.waiting.clear();
    this.queue.length = 0;
  }

  private checkDrained(): void {
    if (this.drained && this.slots.every((s) => s.busy === 0)) {
      this.drained();
      this.drained = null;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll('loader was closed');
    // Let the jobs in flight finish first (their workers are ref'd while busy): a worker
    // terminated inside a native decode may never emit 'exit' while nothing keeps the event loop
    // alive, and the process then ends, exit code 0, with the caller still awaiting close().
    await new Promise<void>((resolve) => {
      this.drained = resolve;
      this.checkDrained();
    });
    for (const s of this.slots) s.worker.ref();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

export function cloneSample(s: Sample): Sample {
  const out: Sample = { image: { ...s.image, data: s.image.data.slice() } };
  if (s.mask) out.mask = { ...s.mask, data: s.mask.data.slice() };
  return out;
}
