// Runs inside a TorchWorker thread (one per pool slot): loads every served model once and scores
// batches of encoded images with the pipeline's Predictor, so decoding, scoring, verdicts and
// overlays are exactly `vigil predict`'s. Only bytes and numbers cross the thread boundary.
import { performance } from 'node:perf_hooks';
import { decodeImage, UnreadableImageError, type Image } from '../data/image/index.js';
import { UserError } from '../pipeline/errors.js';
import { Predictor } from '../pipeline/predict.js';

const predictors = new Map<string, Predictor>();

export interface LoadSpec { name: string; dir: string }

/** Loads the models and scores one blank input each, so the first request is not the slow one. */
export async function load(specs: LoadSpec[], device: string): Promise<Array<{ name: string; seconds: number }>> {
  const out: Array<{ name: string; seconds: number }> = [];
  for (const s of specs) {
    const t0 = performance.now();
    const p = await Predictor.open(s.dir, { device });
    const [c, h, w] = p.manifest.imageShape;
    p.predictImages([{ data: new Float32Array(c * h * w), channels: c as 1 | 3, height: h, width: w }]);
    predictors.set(s.name, p);
    out.push({ name: s.name, seconds: (performance.now() - t0) / 1000 });
  }
  return out;
}

export interface WorkItem { bytes: Uint8Array; name: string }

export type ItemResult =
  | { ok: true; score: number; normalised: number; verdict: 'anomalous' | 'normal'; threshold: number; width: number; height: number;
      heatmap?: Uint8Array; mask?: Uint8Array; decodeMs: number; inferMs: number; renderMs: number; batch: number; warnings?: string[] }
  | { ok: false; code: 'UNREADABLE_IMAGE' | 'INPUT_INVALID'; message: string };

/**
 * Scores a batch (items may come from several requests) at the given threshold. An unreadable
 * or ill-shaped image fails alone; the others are still scored.
 */
export async function predict(model: string, threshold: number, items: WorkItem[], render: boolean): Promise<ItemResult[]> {
  const p = predictors.get(model);
  if (!p) throw new Error(`model '${model}' is not loaded in this worker`);
  p.threshold = threshold;
  const rgbModel = p.manifest.preprocessing.mode === 'rgb';
  const results: Array<ItemResult | null> = new Array<ItemResult | null>(items.length).fill(null);
  const decoded: Array<{ k: number; img: Image; rgb: Image | null; decodeMs: number }> = [];
  for (const [k, it] of items.entries()) {
    const t0 = performance.now();
    try {
      const img = await p.decode(it.bytes, it.name);
      // The overlay is drawn on the colour image even for a gray model, as `vigil predict` does.
      const rgb = !render ? null : rgbModel ? img : await decodeImage(it.bytes, { mode: 'rgb', name: it.name });
      decoded.push({ k, img, rgb, decodeMs: performance.now() - t0 });
    } catch (e) {
      if (!(e instanceof UnreadableImageError)) throw e;
      results[k] = { ok: false, code: 'UNREADABLE_IMAGE', message: e.message };
    }
  }
  const score = (group: typeof decoded): void => {
    const t0 = performance.now();
    const preds = p.predictImages(group.map((d) => d.img));
    const inferMs = performance.now() - t0;
    for (const [j, d] of group.entries()) {
      const v = preds[j]!;
      const r0 = performance.now();
      const pngs = render && d.rgb ? p.render(d.rgb, v.map) : null;
      results[d.k] = {
        ok: true, score: v.score, normalised: v.normalised, verdict: v.verdict, threshold: v.threshold,
        width: d.img.width, height: d.img.height, ...(pngs ? { heatmap: pngs.heatmap, mask: pngs.mask } : {}),
        decodeMs: d.decodeMs, inferMs, renderMs: performance.now() - r0, batch: group.length,
        ...(v.warnings ? { warnings: v.warnings } : {}),
      };
    }
  };
  if (decoded.length > 0) {
    try {
      score(decoded);
    } catch (e) {
      // One image of an odd size makes the batch fail (a UserError); score each alone to find it.
      if (!(e instanceof UserError)) throw e;
      if (decoded.length === 1) results[decoded[0]!.k] = { ok: false, code: 'INPUT_INVALID', message: e.message };
      else for (const d of decoded) {
        try { score([d]); } catch (e1) {
          if (!(e1 instanceof UserError)) throw e1;
          results[d.k] = { ok: false, code: 'INPUT_INVALID', message: e1.message };
        }
      }
    }
  }
  return results as ItemResult[];
}

export function dispose(): void {
  for (const p of predictors.values()) p.dispose();
  predictors.clear();
}
