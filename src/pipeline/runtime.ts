// Where a run computes: libtorch's intra-op threads (every core by default) and the device.
import { availableParallelism } from 'node:os';
import * as torch from '../torch/index.js';
import { UserError } from './errors.js';

/** Explicit option, else VIGIL_THREADS, else every available core. */
export function resolveThreads(requested?: number): number {
  const env = process.env.VIGIL_THREADS;
  const n = requested ?? (env !== undefined && env !== '' ? Number(env) : availableParallelism());
  if (!Number.isInteger(n) || n < 1) {
    throw new UserError(`${requested !== undefined ? '--threads' : 'VIGIL_THREADS'} must be a positive integer, got ${JSON.stringify(requested ?? env)}`, { code: 'CONFIG_INVALID' });
  }
  return n;
}

/** Sets libtorch's thread count; returns it. */
export function applyThreads(requested?: number): number {
  const n = resolveThreads(requested);
  if (torch.getNumThreads() !== n) torch.setNumThreads(n);
  return n;
}

/** Validates a device string and that it exists: 'cpu', 'cuda', 'cuda:<n>'. */
export function checkDevice(device: string): string {
  if (device === 'cpu') return device;
  if (!/^cuda(:\d+)?$/.test(device)) throw new UserError(`device '${device}' is not valid: use cpu, cuda or cuda:<index>`, { code: 'CONFIG_INVALID' });
  if (!torch.cudaAvailable()) {
    throw new UserError(`device '${device}' was requested, but this build of Vigil's addon uses a libtorch without CUDA (Debian's libtorch-dev is CPU-only). `
      + 'Build against a CUDA libtorch: LIBTORCH=/path/to/libtorch-cuda npm run build:addon -- --force (see docs/engine.md), or use --device cpu', { code: 'DEVICE_UNAVAILABLE' });
  }
  try {
    torch.tidy(() => { torch.zeros([1], { device }); });
  } catch (e) {
    throw new UserError(`device '${device}' is not usable: ${(e as Error).message.split('\n')[0]}`, { code: 'DEVICE_UNAVAILABLE' });
  }
  return device;
}
