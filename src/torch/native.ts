// Loads the N-API addon (native/) and describes its surface. Everything else in src/torch goes
// through this file; nothing outside src/torch should import it.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque handle (a type-tagged napi External) owning one reference to a libtorch tensor. */
export type NativeTensor = { readonly __nativeTensor: unique symbol };

export interface NativeMemory {
  numTensors: number;
  nativeBytes: number;
  nativePeak: number;
  nativeBlocks: number;
  cachedBytes: number;
}

export interface NativeAddon {
  isTensor(x: unknown): x is NativeTensor;
  dispose(h: NativeTensor): void;
  isDisposed(h: NativeTensor): boolean;
  shape(h: NativeTensor): number[];
  strides(h: NativeTensor): number[];
  dtype(h: NativeTensor): number;
  device(h: NativeTensor): string;
  numel(h: NativeTensor): number;
  dim(h: NativeTensor): number;
  requiresGrad(h: NativeTensor): boolean;
  isLeaf(h: NativeTensor): boolean;
  gradFn(h: NativeTensor): string | null;
  gradOf(h: NativeTensor): NativeTensor | null;
  setGrad(h: NativeTensor, g: NativeTensor | null): void;
  item(h: NativeTensor): number | boolean;
  toBuffer(h: NativeTensor): ArrayBuffer;
  copyFromBuffer(h: NativeTensor, view: ArrayBufferView): void;
  sameStorage(h: NativeTensor, other: NativeTensor): boolean;
  nbytes(h: NativeTensor): number;
  isContiguous(h: NativeTensor): boolean;
  fromBuffer(view: ArrayBufferView, dtype: number, shape: number[], device?: string): NativeTensor;
  opHandle(name: string, overload: string): number;
  opSchema(handle: number): string;
  callOp(handle: number, args: unknown[]): unknown;
  listOps(): string[];
  backward(tensors: NativeTensor[], grads: (NativeTensor | null)[] | undefined, retainGraph: boolean, createGraph: boolean, inputs: NativeTensor[] | undefined): void;
  grad(outputs: NativeTensor[], inputs: NativeTensor[], gradOutputs: (NativeTensor | null)[] | undefined, retainGraph: boolean | undefined, createGraph: boolean, allowUnused: boolean): (NativeTensor | undefined)[];
  setRequiresGrad(t: NativeTensor, on: boolean): void;
  setGradEnabled(on: boolean): boolean;
  isGradEnabled(): boolean;
  setAutocast(device: 'cpu' | 'cuda', enabled: boolean, dtype: 'bfloat16' | 'float16'): boolean;
  clearAutocastCache(): void;
  fusedAdam(param: NativeTensor, grad: NativeTensor, expAvg: NativeTensor, expAvgSq: NativeTensor, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean, step: number): boolean;
  winogradAvailable(): boolean;
  winogradCalls(): number;
  manualSeed(seed: number): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  info(): { torchVersion: string; cuda: boolean; mkldnn: boolean; parallel: string };
  memory(): NativeMemory;
  resetPeak(): void;
  emptyCache(): void;
  setCacheLimit(bytes: number): void;
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('vigil: cannot find the package root (package.json next to native/)');
}

function load(): NativeAddon {
  const root = packageRoot();
  const path = process.env.VIGIL_ADDON ?? join(root, 'build', 'Release', 'vigil_torch.node');
  if (!existsSync(path)) {
    throw new Error(`vigil: the native addon is not built (${path} is missing).
  Run: npm run build:addon   (needs libtorch: sudo apt-get install libtorch-dev libopenblas0-pthread,
  or LIBTORCH=/path/to/libtorch for a pytorch.org download)`);
  }
  // libgomp reads its wait policy once, when libtorch loads it with the addon. Its default spins
  // idle threads; on a core shared with other work they take CPU from the thread they wait for
  // (PatchCore inference 4-6x slower on a loaded 2-core machine: bench/omp-wait). Passive threads
  // sleep. A policy or spin count the user set wins.
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) process.env.OMP_WAIT_POLICY = 'passive';
  const require = createRequire(import.meta.url);
  try {
    return require(path) as NativeAddon;
  } catch (e) {
    throw new Error(`vigil: the native addon ${path} failed to load: ${(e as Error).message}
  If libtorch moved or was upgraded, rebuild with: npm run build:addon -- --force`);
  }
}

export const native: NativeAddon = load();
