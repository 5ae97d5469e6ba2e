// Greedy k-center coreset selection as patchcore-inspection's samplers:
//  - 'approx_greedy' (ApproximateGreedyCoresetSampler, the default of the paper's runs): features
//    projected by a bias-free linear map to projectionDim; initial anchor distance = mean L2
//    distance to `startingPoints` random points; then repeatedly take the argmax and lower every
//    anchor to its distance to the new centre. Memory O(N·projectionDim), no N×N matrix.
//  - 'greedy' (GreedyCoresetSampler): initial anchor = L2 norm of the row of the full distance
//    matrix (computed in chunks here, O(N²) time), then the same loop.
// Distances use the authors' formula sqrt(clamp(|a|² + |b|² − 2a·b, 0)).
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { deriveSeed, mulberry32 } from '../../data/random.js';

export type CoresetMethod = 'approx_greedy' | 'greedy';

export interface CoresetOptions {
  method?: CoresetMethod;
  /** Fraction of the rows kept: int(N·ratio) centres. */
  ratio: number;
  /** Projection dimension (default 128); ignored when `projection` is given. Equal to D: no projection. */
  projectionDim?: number;
  /** Explicit projectionDim×D matrix (parity tests); default drawn as torch.nn.Linear's init. */
  projection?: Tensor;
  /** approx_greedy: number of random starting points (default 10). */
  startingPoints?: number;
  /** Explicit starting indices (parity tests). */
  startIndices?: number[];
  seed?: number;
  /** Rows per chunk of distance computations (default 65536). */
  chunkRows?: number;
  onProgress?: (done: number, total: number) => void;
  /** Checked between iterations. */
  signal?: AbortSignal;
}

/** Draws the projection as torch.nn.Linear(D, dim, bias=False) initialises it: U(±1/√D), seeded. */
export function randomProjection(inDim: number, outDim: number, seed: number): Tensor {
  torch.manualSeed(deriveSeed(seed, 'patchcore-projection') >>> 1);
  const bound = 1 / Math.sqrt(inDim);
  return torch.tidy(() => torch.rand([outDim, inDim]).mul(2 * bound).sub(bound));
}

/** k distinct indices of 0..n-1, seeded (partial Fisher–Yates). */
export function sampleWithoutReplacement(n: number, k: number, seed: number): number[] {
  const rng = mulberry32(deriveSeed(seed, 'patchcore-start'));
  const a = Array.from({ length: n }, (_, i) => i);
  const m = Math.min(k, n);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rng.next() * (n - i));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, m);
}

/** Squared norms of the rows. */
function rowNorms2(x: Tensor): Tensor {
  return torch.tidy(() => x.mul(x).sum(1));
}

// L2 distances of all rows of x (norms a2) to the rows of y (norms b2): n×m.
function l2(x: Tensor, a2: Tensor, y: Tensor, b2: Tensor): Tensor {
  return torch.tidy(() => torch.addmm(a2.unsqueeze(1).add(b2.unsqueeze(0)), x, torch.t(y), { alpha: -2 }).clamp_min(0).sqrt());
}

const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Indices of the selected rows, in selection order. */
export async function greedyCoresetIndices(features: Tensor, opts: CoresetOptions): Promise<Int32Array> {
  if (features.ndim !== 2) throw new RangeError(`coreset: expected an N×D feature matrix, got [${features.shape.join(', ')}]`);
  const [n, d] = features.shape as [number, number];
  const { ratio } = opts;
  if (!(ratio > 0 && ratio <= 1)) throw new RangeError(`coreset.ratio must be in (0, 1], got ${ratio}`);
  const m = Math.floor(n * ratio);
  if (m < 1) throw new RangeError(`coreset: ratio ${ratio} of ${n} rows selects no row; raise coreset.ratio or give more images`);
  const method = opts.method ?? 'approx_greedy';
  if (method !== 'approx_greedy' && method !== 'greedy') throw new Error(`coreset.method '${String(method)}' is unknown (use approx_greedy or greedy)`);
  const chunk = opts.chunkRows ?? 65536;
  const seed = opts.seed ?? 0;
  const out = new Int32Array(m);

  const reduced = torch.noGrad(() => {
    const pdim = opts.projection ? opts.projection.shape[0]! : (opts.projectionDim ?? 128);
    if (!opts.projection && pdim === d) return torch.alias(features);
    const w = opts.projection ?? randomProjection(d, pdim, seed);
    if (w.shape[1] !== d) throw new RangeError(`coreset: projection is [${w.shape.join(', ')}], expected [dim, ${d}]`);
    const r = torch.empty([n, pdim]);
    for (let s = 0; s < n; s += chunk) {
      const len = Math.min(chunk, n - s);
      torch.tidy(() => { r.narrow(0, s, len).copy_(torch.mm(features.narrow(0, s, len), torch.t(w))); });
    }
    if (!opts.projection) w.dispose();
    return r;
  });
  const norms = rowNorms2(reduced);
  let anchor: Tensor;
  try {
    anchor = torch.noGrad(() => {
      const a = torch.empty([n]);
      if (method === 'approx_greedy') {
        const starts = opts.startIndices ?? sampleWithoutReplacement(n, opts.startingPoints ?? 10, seed);
        torch.tidy(() => {
          const idx = torch.tensor(starts, { dtype: 'int64' });
          const sp = torch.index_select(reduced, 0, idx);
          const sn = torch.index_select(norms, 0, idx);
          for (let s = 0; s < n; s += chunk) {
            const len = Math.min(chunk, n - s);
            torch.tidy(() => { a.narrow(0, s, len).copy_(l2(reduced.narrow(0, s, len), norms.narrow(0, s, len), sp, sn).mean(1)); });
          }
        });
      } else {
        // ‖row of the distance matrix‖₂, accumulated over column chunks.
        a.zero_();
        for (let s = 0; s < n; s += chunk) {
          const len = Math.min(chunk, n - s);
          for (let c = 0; c < n; c += chunk) {
            const cl = Math.min(chunk, n - c);
            torch.tidy(() => {
              const dd = l2(reduced.narrow(0, s, len), norms.narrow(0, s, len), reduced.narrow(0, c, cl), norms.narrow(0, c, cl));
              a.narrow(0, s, len).add_(dd.mul(dd).sum(1));
            });
          }
        }
        a.sqrt_();
      }
      return a;
    });
  } catch (e) {
    torch.dispose([reduced, norms]);
    throw e;
  }

  try {
    const step = Math.max(1, Math.floor(m / 200));
    const dist = torch.empty([n]);
    for (let i = 0; i < m; i++) {
      opts.signal?.throwIfAborted();
      const sel = torch.noGrad(() => torch.tidy(() => {
        const j = torch.argmax(anchor).item();
        // dist = sqrt(clamp(|x|² + |x_j|² − 2 x·x_j, 0)); anchor = min(anchor, dist).
        dist.copy_(norms);
        dist.addmv_(reduced, reduced.narrow(0, j, 1).reshape([-1]), { alpha: -2 });
        dist.add_(norms.narrow(0, j, 1)).clamp_min_(0).sqrt_();
        const next = torch.minimum(anchor, dist);
        anchor.dispose();
        anchor = torch.keep(next);
        return j;
      }));
      out[i] = sel;
      if ((i + 1) % step === 0 || i + 1 === m) {
        opts.onProgress?.(i + 1, m);
        await yieldNow();
      }
    }
    dist.dispose();
  } finally {
    torch.dispose([reduced, norms, anchor]);
  }
  return out;
}
