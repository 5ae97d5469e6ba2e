// Artifacts: what a test pass or a prediction leaves on disk — scores.csv, the galleries and
// report.html of a run, and the heatmap/mask PNGs of a prediction.
import { mkdirSync } from 'node:fs';
import { join, sep } from 'node:path';
import { encodePng, type Image } from '../data/image/index.js';
import type { TransformSpec } from '../data/transforms/index.js';
import { applicableConfig, resizeUsedBy } from './applicable.js';
import { configToYaml, type VigilConfig } from './config.js';
import { FileSplit, loaderTransforms, type DataSplit } from './data.js';
import type { Candidate, TestPass } from './evaluate.js';
import { csv, writeAtomic, writeJson } from './fsutil.js';
import { renderReport, type ReportImage, type ReportRow } from './report.js';
import { describeThreshold, normalise, normaliseArray, type Normalisation } from './threshold.js';
import type { ModelManifest, RunMetrics } from './types.js';
import { drawContour, inspectedArea, mapToOriginal, maskBytes, overlay, rgbBytes, upscale } from './visual.js';

export const verdictOf = (score: number, threshold: number): 'NG' | 'OK' => (score >= threshold ? 'NG' : 'OK');

export function writeScoresCsv(outDir: string, pass: TestPass, split: DataSplit, manifest: ModelManifest): void {
  const { scores, ids, labels, indices } = pass.scored;
  const norm = manifest.normalisation.image;
  const thr = manifest.threshold.image.value;
  const rows = Array.from(scores, (s, i) => [ids[i]!, labels[i]!, split.defects[indices[i]!] ?? '', s, normalise(s, norm), s >= thr ? 'anomalous' : 'normal', thr]);
  writeAtomic(join(outDir, 'scores.csv'), csv(['id', 'label', 'defect', 'score', 'normalised_score', 'verdict', 'threshold'], rows));
}

function shortId(id: string): string {
  return id.includes(sep) ? id.split(sep).slice(-3).join('/') : id;
}

const truthOf = (label: number, defect: string): string => (label === 0 ? 'good' : label === 1 ? (defect && defect !== 'anomalous' ? `defect (${defect})` : 'defect') : 'unlabelled');

export interface Galleries {
  images: RunMetrics['images'];
  most: ReportImage[];
  least: ReportImage[];
  falseRejects: ReportImage[];
  misses: ReportImage[];
}

/** images/{most,least}-anomalous-NN.png, false-reject-NN.png, miss-NN.png; their metrics entries and the PNGs for the report. */
export async function writeGalleries(outDir: string, pass: TestPass, split: DataSplit, manifest: ModelManifest): Promise<Galleries> {
  const [, h, w] = manifest.imageShape;
  const norm = manifest.normalisation.image;
  const thr = manifest.threshold.image.value;
  const out: Galleries = { images: [], most: [], least: [], falseRejects: [], misses: [] };
  mkdirSync(join(outDir, 'images'), { recursive: true });
  const kinds: Array<[keyof Omit<Galleries, 'images'>, string, Candidate[]]> = [
    ['falseRejects', 'false-reject', pass.falseRejects], ['misses', 'miss', pass.misses], ['most', 'most-anomalous', pass.most], ['least', 'least-anomalous', pass.least],
  ];
  for (const [kind, prefix, list] of kinds) {
    for (const [rank, c] of list.entries()) {
      const id = pass.scored.ids[c.i]!;
      const index = pass.scored.indices[c.i]!;
      const png = await renderPanel(split, index, c.map, manifest, h, w);
      const file = `images/${prefix}-${String(rank + 1).padStart(2, '0')}.png`;
      writeAtomic(join(outDir, file), png);
      const ns = normalise(c.score, norm);
      out.images.push({ file, id, score: c.score, normalised: ns, label: c.label });
      const verdict = verdictOf(c.score, thr);
      const truth = truthOf(c.label, split.defects[index] ?? '');
      const wrong = (c.label === 0 && verdict === 'NG') || (c.label === 1 && verdict === 'OK');
      out[kind].push({
        png, id: shortId(id), verdict, truth, score: c.score, normalised: ns,
        caption: `${verdict} · ${truth}${wrong ? (c.label === 0 ? ' · false reject' : ' · missed') : ''} · score ${c.score.toPrecision(4)}`,
      });
    }
  }
  return out;
}

/** metrics.json and report.html. */
export function writeMetricsAndReport(outDir: string, metrics: RunMetrics, pass: TestPass, split: DataSplit, galleries: Galleries, manifest: ModelManifest, config: VigilConfig, dataset: string): void {
  writeJson(join(outDir, 'metrics.json'), metrics);
  const { scores, labels, ids, indices } = pass.scored;
  const norm = manifest.normalisation.image;
  const thr = manifest.threshold.image.value;
  const rows: ReportRow[] = Array.from(scores, (s, i) => ({
    id: shortId(ids[i]!), label: labels[i]!, defect: split.defects[indices[i]!] ?? '', score: s, normalised: normalise(s, norm), verdict: verdictOf(s, thr),
  }));
  const calib = manifest.calibration;
  writeAtomic(join(outDir, 'report.html'), renderReport({
    title: `${manifest.method} on ${dataset}`,
    metrics,
    rows,
    threshold: {
      value: thr,
      sentence: describeThreshold(manifest.threshold.image),
      pixel: manifest.threshold.pixel ? describeThreshold(manifest.threshold.pixel, 'good parts have a pixel above it') : null,
      samples: calib?.normal.length ?? manifest.threshold.image.samples,
    },
    scores, labels,
    galleries,
    heatmaps: manifest.normalisation.pixel !== null && pass.most.some((c) => c.map !== undefined),
    pixelScale: manifest.normalisation.pixel ? { min: manifest.normalisation.pixel.min, threshold: manifest.normalisation.pixel.threshold } : null,
    inspected: split instanceof FileSplit ? inspectedNote(loaderTransforms(manifest.preprocessing), manifest) : null,
    configYaml: configToYaml(applicableConfig(config, resizeUsedBy(manifest.preprocessing, config.preprocess.size))),
  }));
}

/** "the centre 224×224 of …" when the transforms crop the training-size image; null when the whole image is seen. */
export function inspectedNote(spec: readonly TransformSpec[], m: Pick<ModelManifest, 'sourceSize'>): string | null {
  const size = m.sourceSize;
  if (!size || !spec.some((t) => t.op === 'centerCrop')) return null;
  const a = inspectedArea(spec, size.height, size.width);
  if (a.share > 0.999) return null;
  const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
  return `The model sees only the centre ${Math.round(a.right - a.left)}×${Math.round(a.bottom - a.top)} px of each ${size.width}×${size.height} image (${pct(a.share)} of its area): a defect in the outer `
    + `${Math.round(Math.min(a.top, a.left))} px is never inspected. Overlays shade that border; a preset without the crop (model.cropSize: null) inspects every pixel.`;
}

/**
 * Original | heatmap overlay, side by side, at the original size (small images upscaled), with
 * the ground-truth contour (white) on both and the predicted-mask contour (magenta) on the overlay;
 * the image alone for methods without anomaly maps.
 */
async function renderPanel(split: DataSplit, index: number, map: Float32Array | undefined, m: ModelManifest, h: number, w: number): Promise<Uint8Array> {
  const img = await split.original(index);
  const spec = split instanceof FileSplit ? loaderTransforms(m.preprocessing) : [];
  const norm = m.normalisation.pixel;
  const truth = split.originalMask ? await split.originalMask(index, img.height, img.width) : null;
  const f = Math.max(1, Math.floor(160 / img.height));
  const thick = Math.max(1, Math.round(img.height / 160));
  const base = rgbBytes(img);
  if (truth) drawContour(base, img.height, img.width, truth, [255, 255, 255], thick);
  if (!map || !norm) return encodePng(upscale(base, img.height, img.width, 3, f), img.width * f, img.height * f, 3);
  const full = spec.length > 0 ? mapToOriginal(normaliseArray(map, norm), h, w, spec, img.height, img.width, NaN) : normaliseArray(map, norm);
  const over = overlay(img, full);
  if (truth) drawContour(over, img.height, img.width, truth, [255, 255, 255], thick);
  drawContour(over, img.height, img.width, maskBytes(full), [255, 0, 255], thick);
  const W = img.width * 2 + 4;
  const panel = new Uint8Array(img.height * W * 3).fill(255);
  for (let y = 0; y < img.height; y++) {
    panel.set(base.subarray(y * img.width * 3, (y + 1) * img.width * 3), y * W * 3);
    panel.set(over.subarray(y * img.width * 3, (y + 1) * img.width * 3), (y * W + img.width + 4) * 3);
  }
  return encodePng(upscale(panel, img.height, W, 3, f), W * f, img.height * f, 3);
}

/** A prediction's heatmap overlay (predicted-mask contour, non-inspected border shaded) and predicted mask (PNG bytes) at the original image's size. */
export function predictionPngs(img: Image, map: Float32Array, manifest: ModelManifest, pixelNorm: Normalisation): { heatmap: Uint8Array; mask: Uint8Array } {
  const [, h, w] = manifest.imageShape;
  const full = mapToOriginal(normaliseArray(map, pixelNorm), h, w, loaderTransforms(manifest.preprocessing), img.height, img.width, NaN);
  const mask = maskBytes(full);
  const over = overlay(img, full);
  drawContour(over, img.height, img.width, mask, [255, 0, 255], Math.max(1, Math.round(img.height / 160)));
  return {
    heatmap: encodePng(over, img.width, img.height, 3),
    mask: encodePng(mask, img.width, img.height, 1),
  };
}
