// Runs torch code in a worker_thread: training there keeps the main thread (progress bars, an HTTP
// server) responsive, and `call()` gives an async forward for inference. The worker loads its own
// copy of the addon (the addon is context-aware); tensors cross as RawTensor bytes.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface CallMsg { id: number; fn: string; args: unknown[] }
type ReplyMsg = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: { name: string; message: string; stack?: string } } | { progress: unknown };

export interface TorchWorkerOptions {
  /** Intra-op threads inside the worker (default: libtorch's default). */
  numThreads?: number;
  onProgress?: (data: unknown) => void;
}

/**
 * A worker that imports `moduleUrl` and runs its exported functions on request. Calls are
 * serialised: one at a time per worker, since two jobs on one model would race in autograd.
 */
export class TorchWorker {
  #worker: Worker;
  #next = 1;
  #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #queue: Promise<unknown> = Promise.resolve();
  #exited: Error | null = null;

  constructor(moduleUrl: string | URL, options: TorchWorkerOptions = {}) {
    const entry = new URL(import.meta.url);
    const url = typeof moduleUrl === 'string' && !moduleUrl.startsWith('file:') ? pathToFileURL(moduleUrl).href : String(moduleUrl);
    this.#worker = new Worker(fileURLToPath(entry), { workerData: { vigilTorchWorker: true, moduleUrl: url, numThreads: options.numThreads } });
    this.#worker.on('message', (m: ReplyMsg) => {
      if ('progress' in m) { options.onProgress?.(m.progress); return; }
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(Object.assign(new Error(m.error.message), { name: m.error.name, stack: m.error.stack }));
    });
    const fail = (e: Error) => {
      this.#exited = e;
      for (const p of this.#pending.values()) p.reject(e);
      this.#pending.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`torch worker exited (code ${code})`)));
  }

  /** Calls an exported function of the worker module; resolves with its (structured-cloned) result. */
  call<T = unknown>(fn: string, ...args: unknown[]): Promise<T> {
    const run = () => new Promise<unknown>((resolve, reject) => {
      if (this.#exited) { reject(this.#exited); return; }
      const id = this.#next++;
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, fn, args } satisfies CallMsg);
    });
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => undefined);
    return p as Promise<T>;
  }

  /** Stops the worker; a native op in progress finishes first, then the thread ends. */
  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }
}

/** Inside a worker started by TorchWorker: sends progress to the main thread's onProgress. */
export function reportProgress(data: unknown): void {
  parentPort?.postMessage({ progress: data } satisfies ReplyMsg);
}

// Worker side.
if (!isMainThread && (workerData as { vigilTorchWorker?: boolean } | null)?.vigilTorchWorker) {
  const { moduleUrl, numThreads } = workerData as { moduleUrl: string; numThreads?: number };
  const ready = (async () => {
    if (numThreads) {
      const engine = await import('./engine.js');
      engine.setNumThreads(numThreads);
    }
    return (await import(moduleUrl)) as Record<string, unknown>;
  })();
  parentPort!.on('message', async (m: CallMsg) => {
    try {
      const mod = await ready;
      const f = mod[m.fn];
      if (typeof f !== 'function') throw new Error(`torch worker: ${moduleUrl} has no exported function '${m.fn}'`);
      const value = await (f as (...a: unknown[]) => unknown)(...m.args);
      parentPort!.postMessage({ id: m.id, ok: true, value } satisfies ReplyMsg);
    } catch (e) {
      const err = e as Error;
      parentPort!.postMessage({ id: m.id, ok: false, error: { name: err.name, message: err.message, stack: err.stack } } satisfies ReplyMsg);
    }
  });
}
