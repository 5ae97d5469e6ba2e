// PatchCore's locally aware patch features, as patchcore-inspection computes them:
//   PatchMaker.patchify: unfold each layer with a p×p window (padding (p-1)/2, stride s);
//   deeper layers' patch grids are resized (bilinear, align_corners=False) to the first layer's grid;
//   Preprocessing: per layer, adaptive_avg_pool1d of the flattened C·p·p patch to pretrainEmbedDim;
//   Aggregator: stack the layers, adaptive_avg_pool1d of the flattened L·pretrainEmbedDim to embedDim.
// Every step after the backbone is linear, and the resize acts on space while the pools act on the
// patch vector, so they commute. We never materialise the 9× larger unfolded tensors: the composite
// map is split into per-channel p×p kernels ("atoms", one depthwise conv per layer), summed per
// output dimension, then resized. Equal to the reference up to float rounding (tested).
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';

/** Start and end of adaptive_avg_pool1d's window i (ATen's start_index/end_index). */
function poolWindow(i: number, inSize: number, outSize: number): [number, number] {
  return [Math.floor((i * inSize) / outSize), Math.ceil(((i + 1) * inSize) / outSize)];
}

export interface EmbedPlanOptions {
  channels: readonly number[];
  patchSize: number;
  pretrainEmbedDim: number;
  embedDim: number;
}

interface LayerPlan {
  /** Input channel of each atom. */
  atomChannel: number[];
  /** Atom kernels, numAtoms×1×p×p. */
  kernels: Float32Array;
  /** Output dims this layer contributes to. */
  rows: number[];
  /** terms[t][r]: atom index added into rows[r] at term t (numAtoms = zero atom). */
  terms: number[][];
}

interface LayerTensors { index: Tensor; kernels: Tensor; rows: Tensor; terms: Tensor[] }

/** The composite linear map of Preprocessing+Aggregator, factored per layer into depthwise atoms. */
export class EmbedPlan {
  readonly layers: LayerPlan[];
  readonly patchSize: number;
  readonly embedDim: number;
  #tensors: LayerTensors[] | null = null;

  constructor(opts: EmbedPlanOptions) {
    const { channels, patchSize: p, pretrainEmbedDim: dPre, embedDim: dT } = opts;
    for (const [k, v] of Object.entries({ patchSize: p, pretrainEmbedDim: dPre, embedDim: dT })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`patchcore: ${k} must be a positive integer, got ${v}`);
    }
    this.patchSize = p;
    this.embedDim = dT;
    const pp = p * p;
    const L = channels.length;
    // Per layer: row o → (flat patch index → weight).
    const rowMaps: Map<number, Map<number, number>>[] = channels.map(() => new Map());
    for (let o = 0; o < dT; o++) {
      const [a, b] = poolWindow(o, L * dPre, dT);
      for (let k = a; k < b; k++) {
        const l = Math.floor(k / dPre);
        const i = k - l * dPre;
        const n = channels[l]! * pp;
        const [s, e] = poolWindow(i, n, dPre);
        const w = 1 / ((b - a) * (e - s));
        let m = rowMaps[l]!.get(o);
        if (!m) rowMaps[l]!.set(o, (m = new Map()));
        for (let j = s; j < e; j++) m.set(j, (m.get(j) ?? 0) + w);
      }
    }
    this.layers = rowMaps.map((rm) => {
      const atomKey = new Map<string, number>();
      const atomChannel: number[] = [];
      const kernels: number[] = [];
      const rows: number[] = [];
      const rowAtoms: number[][] = [];
      for (const [o, m] of [...rm].sort((x, y) => x[0] - y[0])) {
        const perChannel = new Map<number, Float64Array>();
        for (const [j, w] of m) {
          const c = Math.floor(j / pp);
          let kv = perChannel.get(c);
          if (!kv) perChannel.set(c, (kv = new Float64Array(pp)));
          kv[j - c * pp] += w;
        }
        const atoms: number[] = [];
        for (const [c, kv] of perChannel) {
          const k32 = Float32Array.from(kv);
          const key = `${c}:${k32.join(',')}`;
          let id = atomKey.get(key);
          if (id === undefined) {
            id = atomChannel.length;
            atomKey.set(key, id);
            atomChannel.push(c);
            kernels.push(...k32);
          }
          atoms.push(id);
        }
        rows.push(o);
        rowAtoms.push(atoms);
      }
      const T = Math.max(0, ...rowAtoms.map((a) => a.length));
      const zero = atomChannel.length;
      const terms = Array.from({ length: T }, (_, t) => rowAtoms.map((a) => a[t] ?? zero));
      return { atomChannel, kernels: Float32Array.from(kernels), rows, terms };
    });
  }

  #materialise(): LayerTensors[] {
    if (this.#tensors) return this.#tensors;
    const p = this.patchSize;
    this.#tensors = this.layers.map((l) => {
      const n = l.atomChannel.length;
      return {
        index: torch.keep(torch.tensor(l.atomChannel, { dtype: 'int64' })),
        kernels: torch.keep(torch.tensor(l.kernels).reshape([n, 1, p, p])),
        rows: torch.keep(torch.tensor(l.rows, { dtype: 'int64' })),
        terms: l.terms.map((t) => torch.keep(torch.tensor(t, { dtype: 'int64' }))),
      };
    });
    return this.#tensors;
  }

  /**
   * Patch embeddings of backbone features (one tensor per layer, first = reference grid):
   * returns (N·h·w)×embedDim, rows ordered (image, row, column) as patchcore-inspection's.
   */
  embed(features: readonly Tensor[], stride = 1): { embeddings: Tensor; grid: [number, number] } {
    if (features.length !== this.layers.length) throw new RangeError(`EmbedPlan.embed: expected ${this.layers.length} feature maps, got ${features.length}`);
    const ts = this.#materialise();
    const p = this.patchSize;
    const pad = Math.floor((p - 1) / 2);
    return torch.noGrad(() => torch.tidy(() => {
      const [B, , H0, W0] = features[0]!.shape as [number, number, number, number];
      const grid: [number, number] = [Math.floor((H0 + 2 * pad - p) / stride) + 1, Math.floor((W0 + 2 * pad - p) / stride) + 1];
      const out = torch.zeros([B, this.embedDim, grid[0], grid[1]]);
      features.forEach((f, li) => {
        const t = ts[li]!;
        if (t.terms.length === 0) return;
        const atomsIn = torch.index_select(f, 1, t.index);
        const atoms = torch.conv2d(atomsIn, t.kernels, { stride, padding: pad, groups: t.kernels.shape[0]! });
        atomsIn.dispose();
        const h = atoms.shape[2]!, w = atoms.shape[3]!;
        // Zero atom for rows with fewer terms.
        const withZero = t.terms.length > 1 ? torch.cat([atoms, torch.zeros([B, 1, h, w])], 1) : atoms;
        let y = torch.index_select(withZero, 1, t.terms[0]!);
        for (let k = 1; k < t.terms.length; k++) y.add_(torch.index_select(withZero, 1, t.terms[k]!));
        if (h !== grid[0] || w !== grid[1]) {
          y = torch.upsample_bilinear2d(y, grid, false, null);
        }
        out.index_add_(1, t.rows, y);
      });
      const emb = out.permute([0, 2, 3, 1]).reshape([-1, this.embedDim]).contiguous();
      return { embeddings: emb, grid };
    }));
  }

  dispose(): void {
    if (!this.#tensors) return;
    for (const t of this.#tensors) torch.dispose([t.index, t.kernels, t.rows, ...t.terms]);
    this.#tensors = null;
  }
}
