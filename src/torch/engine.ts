// Process-wide settings and memory accounting.
import { native } from './native.js';

export interface MemoryInfo {
  /** JS tensor handles alive (not disposed, not yet collected). */
  numTensors: number;
  /** Bytes held by libtorch CPU tensors right now (our allocator's count). */
  nativeBytes: number;
  /** Highest nativeBytes since start or resetPeakMemory(). */
  nativePeak: number;
  /** Freed large blocks kept for reuse (not part of nativeBytes). */
  cachedBytes: number;
}

export function memory(): MemoryInfo {
  const m = native.memory();
  return { numTensors: m.numTensors, nativeBytes: m.nativeBytes, nativePeak: m.nativePeak, cachedBytes: m.cachedBytes };
}

export function resetPeakMemory(): void { native.resetPeak(); }
/** Returns cached blocks to the system. */
export function emptyCache(): void { native.emptyCache(); }
export function setCacheLimit(bytes: number): void { native.setCacheLimit(bytes); }

/** Seeds libtorch's CPU generator (torch.manual_seed): rand/randn/dropout/randperm repeat exactly. */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`manualSeed(${seed}): seed must be a non-negative integer`);
  native.manualSeed(seed);
}

/** Intra-op threads for this process (libtorch defaults to the number of physical cores). */
export function setNumThreads(n: number): void { native.setNumThreads(n); }
export function getNumThreads(): number { return native.getNumThreads(); }

export function backendInfo(): { torchVersion: string; cuda: boolean; mkldnn: boolean; parallel: string } { return native.info(); }
export function cudaAvailable(): boolean { return native.info().cuda; }
