// Nearest-neighbour distances to the memory bank, as faiss IndexFlatL2 (what patchcore-inspection
// uses): squared L2 = |q|² + |m|² − 2 q·m clamped at 0, the k smallest in ascending order. Chunked
// over queries and bank rows, so memory stays at chunk×chunk whatever the bank size.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';

export interface KnnOptions {
  k?: number;
  /** Query rows per chunk (default 1024). */
  queryChunk?: number;
  /** Bank rows per chunk (default 16384). */
  bankChunk?: number;
  /** Precomputed squared norms of the bank rows. */
  bankNorms?: Tensor;
}

/** Q×k squared distances, ascending. */
export function knnDistances(query: Tensor, bank: Tensor, opts: KnnOptions = {}): Tensor {
  const k = opts.k ?? 1;
  const [q, d] = query.shape as [number, number];
  const [n, d2] = bank.shape as [number, number];
  if (d !== d2) throw new RangeError(`knn: query has ${d} dims but the memory bank has ${d2}`);
  if (!Number.isInteger(k) || k < 1 || k > n) throw new RangeError(`knn.k must be an integer in 1..${n} (memory bank size), got ${k}`);
  const qc = opts.queryChunk ?? 1024;
  const bc = opts.bankChunk ?? 16384;
  return torch.noGrad(() => torch.tidy(() => {
    const bnorm = opts.bankNorms ?? bank.mul(bank).sum(1);
    const out = torch.empty([q, k]);
    for (let s = 0; s < q; s += qc) {
      const ql = Math.min(qc, q - s);
      torch.tidy(() => {
        const qs = query.narrow(0, s, ql);
        const qn = qs.mul(qs).sum(1, true);
        let best: Tensor | null = null;
        for (let b = 0; b < n; b += bc) {
          const bl = Math.min(bc, n - b);
          const dist = torch.addmm(qn.add(bnorm.narrow(0, b, bl).unsqueeze(0)), qs, torch.t(bank.narrow(0, b, bl)), { alpha: -2 }).clamp_min_(0);
          let cand: Tensor;
          if (k === 1) cand = torch.amin(dist, 1, true);
          else cand = torch.topk(dist, Math.min(k, bl), 1, false, true)[0];
          best = best === null ? cand : k === 1 ? torch.minimum(best, cand) : torch.topk(torch.cat([best, cand], 1), k, 1, false, true)[0];
        }
        out.narrow(0, s, ql).copy_(best!);
      });
    }
    return out;
  }));
}
