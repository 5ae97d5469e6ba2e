// Artifacts: what a test pass or a prediction leaves on disk — scores.csv, the galleries and
// report.html of a run, and the heatmap/mask PNGs of a prediction.
import { mkdirSync } from 'node:fs';
import { join, sep } from 'node:path';
import { encodePng, type Image } from '../data/image/index.js';
import { configToYaml, type VigilConfig } from './config.js';
import { FileSplit, loaderTransforms, type DataSplit } from './data.js';
import type { TestPass } from './evaluate.js';
import { csv, writeAtomic, writeJson } from './fsutil.js';
import { renderReport, type ReportImage } from './report.js';
import { normalise, normaliseArray, type Normalisation } from './threshold.js';
import type { ModelManifest, RunMetrics } from './types.js';
import { mapToOriginal, maskBytes, overlay, upscale } from './visual.js';

export function writeScoresCsv(outDir: string, pass: TestPass, split: DataSplit, manifest: ModelManifest): void {
  const { scores, ids, labels, indices } = pass.scored;
  const norm = manifest.normalisation.image;
  const thr = manifest.threshold.image.value;
  const rows = Array.from(scores, (s, i) => [ids[i]!, labels[i]!, split.defects[indices[i]!] ?? '', s, normalise(s, norm), s >= thr ? 'anomalous' : 'normal']);
  writeAtomic(join(outDir, 'scores.csv'), csv(['id', 'label', 'defect', 'score', 'normalised_score', 'verdict'], rows));
}

function shortId(id: string): string {
  return id.includes(sep) ? id.split(sep).slice(-3).join('/') : id;
}

/** images/{most,least}-anomalous-NN.png; returns their metrics entries and the PNGs for the report. */
export async function writeGalleries(outDir: string, pass: TestPass, split: DataSplit, manifest: ModelManifest): Promise<{ images: RunMetrics['images']; most: ReportImage[]; least: ReportImage[] }> {
  const [, h, w] = manifest.imageShape;
  const norm = manifest.normalisation.image;
  const images: RunMetrics['images'] = [];
  const pngs: { most: ReportImage[]; least: ReportImage[] } = { most: [], least: [] };
  mkdirSync(join(outDir, 'images'), { recursive: true });
  for (const [kind, list] of [['most', pass.most], ['least', pass.least]] as const) {
    for (const [rank, c] of list.entries()) {
      const id = pass.scored.ids[c.i]!;
      const png = await renderPanel(split, pass.scored.indices[c.i]!, c.map, manifest, h, w);
      const file = `images/${kind}-anomalous-${String(rank + 1).padStart(2, '0')}.png`;
      writeAtomic(join(outDir, file), png);
      const ns = normalise(c.score, norm);
      images.push({ file, id, score: c.score, normalised: ns, label: c.label });
      const label = c.label === 1 ? 'anomalous' : c.label === 0 ? 'normal' : 'unlabelled';
      pngs[kind].push({ png, caption: `${shortId(id)} — ${label}, score ${c.score.toPrecision(4)} (normalised ${ns.toFixed(3)})` });
    }
  }
  return { images, ...pngs };
}

/** metrics.json and report.html. */
export function writeMetricsAndReport(outDir: string, metrics: RunMetrics, pass: TestPass, galleries: { most: ReportImage[]; least: ReportImage[] }, manifest: ModelManifest, config: VigilConfig, dataset: string): void {
  writeJson(join(outDir, 'metrics.json'), metrics);
  const { images: _omit, ...shown } = metrics;
  writeAtomic(join(outDir, 'report.html'), renderReport({
    title: `${manifest.method} on ${dataset}`,
    metrics: shown as unknown as Record<string, unknown>,
    scores: pass.scored.scores,
    labels: pass.scored.labels,
    threshold: manifest.threshold.image.value,
    most: galleries.most,
    least: galleries.least,
    configYaml: configToYaml(config),
  }));
}

/**
 * Original image | heatmap overlay, side by side, at the original size (small images upscaled);
 * the image alone for methods without anomaly maps.
 */
async function renderPanel(split: DataSplit, index: number, map: Float32Array | undefined, m: ModelManifest, h: number, w: number): Promise<Uint8Array> {
  const img = await split.original(index);
  const spec = split instanceof FileSplit ? loaderTransforms(m.preprocessing) : [];
  const norm = m.normalisation.pixel;
  const base = overlay(img, new Float32Array(img.height * img.width), 0);
  const f = Math.max(1, Math.floor(160 / img.height));
  if (!map || !norm) return encodePng(upscale(base, img.height, img.width, 3, f), img.width * f, img.height * f, 3);
  const full = spec.length > 0 ? mapToOriginal(normaliseArray(map, norm), h, w, spec, img.height, img.width, 0) : normaliseArray(map, norm);
  const over = overlay(img, full);
  const W = img.width * 2 + 4;
  const panel = new Uint8Array(img.height * W * 3).fill(255);
  for (let y = 0; y < img.height; y++) {
    panel.set(base.subarray(y * img.width * 3, (y + 1) * img.width * 3), y * W * 3);
    panel.set(over.subarray(y * img.width * 3, (y + 1) * img.width * 3), (y * W + img.width + 4) * 3);
  }
  return encodePng(upscale(panel, img.height, W, 3, f), W * f, img.height * f, 3);
}

/** A prediction's heatmap overlay and predicted mask (PNG bytes) at the original image's size. */
export function predictionPngs(img: Image, map: Float32Array, manifest: ModelManifest, pixelNorm: Normalisation): { heatmap: Uint8Array; mask: Uint8Array } {
  const [, h, w] = manifest.imageShape;
  const full = mapToOriginal(normaliseArray(map, pixelNorm), h, w, loaderTransforms(manifest.preprocessing), img.height, img.width, 0);
  return {
    heatmap: encodePng(overlay(img, full), img.width, img.height, 3),
    mask: encodePng(maskBytes(full), img.width, img.height, 1),
  };
}
