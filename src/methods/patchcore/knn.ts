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

export interface KnnIndexOptions {
  /** PCA dimensions of the lower bound (default 64). */
  pcaDim?: number;
  /** Candidates checked exactly per query before falling back to a full row (default max(32, 2k)). */
  candidates?: number;
}

/**
 * Exact k-nearest-neighbour search that skips most of the bank. With an orthonormal PCA basis V of
 * the centred bank, every distance splits into an in-subspace and a residual part, so
 *   LB(q, b) = ‖V(q−μ) − V(b−μ)‖² + (r_q − r_b)²  ≤  ‖q − b‖²     (r = residual norm)
 * — one (p+1)-dim GEMM instead of a D-dim one. Per query the candidates with the smallest LB are
 * measured exactly; when the next-smallest LB already exceeds the k-th exact distance, no other bank
 * row can be closer. Queries where that does not hold are searched by brute force. The result is
 * the brute-force result up to float rounding.
 */
export class KnnIndex {
  readonly bank: Tensor;
  readonly bankNorms: Tensor;
  readonly #mean: Tensor;
  readonly #basis: Tensor;     // D×p, orthonormal columns
  readonly #bankAug: Tensor;   // n×(p+1): [V(b−μ), r_b]
  readonly #bankCentred2: Tensor; // ‖b−μ‖²
  readonly #candidates: number | undefined;
  /** Queries answered by the pruned path / by brute force since creation (for tests and tuning). */
  stats = { pruned: 0, fallback: 0 };

  constructor(bank: Tensor, bankNorms: Tensor, opts: KnnIndexOptions = {}) {
    const [n, d] = bank.shape as [number, number];
    const p = Math.min(opts.pcaDim ?? 64, d - 1, n - 1);
    this.bank = bank;
    this.bankNorms = bankNorms;
    this.#candidates = opts.candidates;
    const built = torch.noGrad(() => torch.tidy(() => {
      const mean = bank.mean([0], true);
      const centred = bank.sub(mean);
      // Covariance in float64 so the eigenvectors are orthonormal to ~1e-15 (the bound needs it).
      const c64 = centred.to('float64');
      const cov = torch.mm(torch.t(c64), c64);
      const [, vecs] = torch.linalg_eigh(cov);
      const basis64 = vecs.narrow(1, d - p, p);        // eigh sorts ascending: the top p directions
      const proj = torch.mm(c64, basis64);
      const centred2 = c64.mul(c64).sum([1], true);
      const resid = centred2.sub(proj.mul(proj).sum([1], true)).clamp_min(0).sqrt();
      return { mean, basis: basis64.to('float32'), bankAug: torch.cat([proj, resid], 1).to('float32'), centred2: centred2.reshape([n]).to('float32') };
    }));
    this.#mean = torch.keep(built.mean);
    this.#basis = torch.keep(built.basis);
    this.#bankAug = torch.keep(built.bankAug);
    this.#bankCentred2 = torch.keep(built.centred2);
  }

  /** Q×k squared L2 distances, ascending (as knnDistances). */
  search(query: Tensor, k = 1): Tensor {
    const [q] = query.shape as [number, number];
    const n = this.bank.shape[0]!;
    if (!Number.isInteger(k) || k < 1 || k > n) throw new RangeError(`knn.k must be an integer in 1..${n} (memory bank size), got ${k}`);
    // Features without low-rank structure defeat the bound: then brute force is cheaper.
    const seen = this.stats.pruned + this.stats.fallback;
    if (seen >= 2048 && this.stats.fallback > 0.5 * seen) return knnDistances(query, this.bank, { k, bankNorms: this.bankNorms });
    const K = Math.min(n, Math.max(this.#candidates ?? 32, 2 * k));
    return torch.noGrad(() => torch.tidy(() => {
      const qc = query.sub(this.#mean);
      const qp = torch.mm(qc, this.#basis);
      const qc2 = qc.mul(qc).sum([1], true);
      const qr = qc2.sub(qp.mul(qp).sum([1], true)).clamp_min(0).sqrt();
      const qAug = torch.cat([qp, qr], 1);
      // LB = ‖q−μ‖² + ‖b−μ‖² − 2 (V(q−μ)·V(b−μ) + r_q r_b)
      const lb = torch.addmm(qc2.add(this.#bankCentred2.unsqueeze(0)), qAug, torch.t(this.#bankAug), { alpha: -2 });
      const [lbTop, idx] = torch.topk(lb, Math.min(n, K + 1), 1, false, true);
      const cand = idx.narrow(1, 0, K);
      // Exact distances to the candidates, as the brute force computes them: |q|² + |b|² − 2 q·b.
      const rows = torch.index_select(this.bank, 0, cand.reshape([-1])).reshape([q, K, -1]);
      const dots = torch.bmm(rows, query.unsqueeze(2)).squeeze(2);
      const qn = query.mul(query).sum([1], true);
      const exact = qn.add(torch.index_select(this.bankNorms, 0, cand.reshape([-1])).reshape([q, K])).sub(dots.mul(2)).clamp_min(0);
      const best = k === 1 ? torch.amin(exact, 1, true) : torch.topk(exact, k, 1, false, true)[0];
      // Verified when the first LB outside the candidates cannot beat the k-th exact distance. The
      // tolerance covers float32 rounding of the terms that make up both sides.
      const out = best.contiguous();
      if (K < n) {
        const kth = best.narrow(1, k - 1, 1);
        const next = lbTop.narrow(1, K, 1);
        const tol = qc2.add(this.#bankCentred2.max()).mul(1e-5);
        const bad = next.sub(tol).lt(kth).reshape([q]);
        const badIdx = torch.nonzero(bad).reshape([-1]);
        const nb = badIdx.shape[0]!;
        this.stats.fallback += nb;
        this.stats.pruned += q - nb;
        if (nb > 0) {
          const full = knnDistances(torch.index_select(query, 0, badIdx), this.bank, { k, bankNorms: this.bankNorms });
          out.index_copy_(0, badIdx, full);
        }
      } else {
        this.stats.pruned += q;
      }
      return out;
    }));
  }

  dispose(): void {
    torch.dispose([this.#mean, this.#basis, this.#bankAug, this.#bankCentred2]);
  }
}
