// report.html: one self-contained page (inline SVG charts, base64 PNGs, no scripts, no network).
import { precisionRecallCurve, rocCurve } from '../eval/index.js';

export interface ReportImage {
  png: Uint8Array;
  caption: string;
}

export interface ReportInput {
  title: string;
  metrics: Record<string, unknown>;
  /** Test scores (raw) and labels (0/1/-1). */
  scores: Float32Array;
  labels: Int32Array;
  threshold: number;
  most: ReportImage[];
  least: ReportImage[];
  configYaml: string;
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const fmt = (v: unknown): string => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : v === null || v === undefined ? '—' : String(v));

const W = 330, H = 240, PAD = 46;
const tick = (v: number): string => String(Number(v.toPrecision(3)));

function axes(xLabel: string, yLabel: string, x0 = 0, x1 = 1, y0 = 0, y1 = 1): string {
  const ticks: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const fx = PAD + (i / 4) * (W - PAD - 10);
    const fy = H - PAD - (i / 4) * (H - PAD - 10);
    ticks.push(`<line x1="${fx}" y1="${H - PAD}" x2="${fx}" y2="${H - PAD + 4}" stroke="#555"/><text x="${fx}" y="${H - PAD + 15}" font-size="10" text-anchor="middle">${tick(x0 + (i / 4) * (x1 - x0))}</text>`);
    ticks.push(`<line x1="${PAD - 4}" y1="${fy}" x2="${PAD}" y2="${fy}" stroke="#555"/><text x="${PAD - 6}" y="${fy + 3}" font-size="10" text-anchor="end">${tick(y0 + (i / 4) * (y1 - y0))}</text>`);
  }
  return `<rect x="${PAD}" y="10" width="${W - PAD - 10}" height="${H - PAD - 10}" fill="#fafafa" stroke="#999"/>${ticks.join('')}`
    + `<text x="${(W + PAD) / 2}" y="${H - 4}" font-size="11" text-anchor="middle">${esc(xLabel)}</text>`
    + `<text x="11" y="${(H - PAD) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 11 ${(H - PAD) / 2})">${esc(yLabel)}</text>`;
}

const px = (x: number): number => PAD + x * (W - PAD - 10);
const py = (y: number): number => H - PAD - y * (H - PAD - 10);

function polyline(xs: ArrayLike<number>, ys: ArrayLike<number>, colour: string): string {
  // Thin to at most ~600 points: enough for a 320 px chart.
  const step = Math.max(1, Math.floor(xs.length / 600));
  const pts: string[] = [];
  for (let i = 0; i < xs.length; i += step) pts.push(`${px(xs[i]!).toFixed(1)},${py(ys[i]!).toFixed(1)}`);
  pts.push(`${px(xs[xs.length - 1]!).toFixed(1)},${py(ys[ys.length - 1]!).toFixed(1)}`);
  return `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.join(' ')}"/>`;
}

function svg(body: string, title: string): string {
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${body}</svg><figcaption>${esc(title)}</figcaption></figure>`;
}

function rocSvg(scores: Float32Array, labels: Uint8Array, auc: unknown): string {
  const r = rocCurve(scores, labels);
  return svg(axes('false positive rate', 'true positive rate') + `<line x1="${px(0)}" y1="${py(0)}" x2="${px(1)}" y2="${py(1)}" stroke="#bbb" stroke-dasharray="4 3"/>` + polyline(r.fpr, r.tpr, '#1f6feb'), `ROC curve (AUROC ${fmt(auc)})`);
}

function prSvg(scores: Float32Array, labels: Uint8Array, ap: unknown): string {
  const r = precisionRecallCurve(scores, labels);
  return svg(axes('recall', 'precision') + polyline(r.recall, r.precision, '#d1242f'), `Precision–recall curve (AP ${fmt(ap)})`);
}

function histogramSvg(scores: Float32Array, labels: Int32Array, threshold: number): string {
  let lo = threshold;
  let hi = threshold;
  for (const s of scores) { if (s < lo) lo = s; if (s > hi) hi = s; }
  if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
  const bins = 30;
  const count = (l: number): number[] => {
    const c = new Array<number>(bins).fill(0);
    scores.forEach((s, i) => { if (labels[i] === l) c[Math.min(bins - 1, Math.floor(((s - lo) / (hi - lo)) * bins))]!++; });
    return c;
  };
  const normal = count(0);
  const anomalous = count(1);
  const unknown = count(-1);
  // Each class is scaled to its own peak, so a small anomalous set stays visible next to many normals.
  const bars = (c: number[], colour: string): string => {
    const peak = Math.max(1, ...c);
    return c.map((v, b) => (v === 0 ? '' : `<rect x="${px(b / bins).toFixed(1)}" y="${py(v / peak).toFixed(1)}" width="${((W - PAD - 10) / bins).toFixed(1)}" height="${(py(0) - py(v / peak)).toFixed(1)}" fill="${colour}" fill-opacity="0.55"/>`)).join('');
  };
  const tx = px((threshold - lo) / (hi - lo));
  const legend = `<rect x="${PAD + 8}" y="16" width="10" height="10" fill="#2da44e" fill-opacity="0.6"/><text x="${PAD + 22}" y="25" font-size="10">normal (${normal.reduce((a, b) => a + b, 0)})</text>`
    + `<rect x="${PAD + 110}" y="16" width="10" height="10" fill="#d1242f" fill-opacity="0.6"/><text x="${PAD + 124}" y="25" font-size="10">anomalous (${anomalous.reduce((a, b) => a + b, 0)})</text>`;
  return svg(axes('anomaly score', 'share of class peak', lo, hi) + bars(unknown, '#888') + bars(normal, '#2da44e') + bars(anomalous, '#d1242f')
    + `<line x1="${tx}" y1="10" x2="${tx}" y2="${H - PAD}" stroke="#000" stroke-width="2" stroke-dasharray="5 3"/><text x="${tx + 3}" y="${H - PAD - 6}" font-size="10">threshold ${fmt(threshold)}</text>` + legend,
  'Score histogram, normal vs anomalous, with the decision threshold');
}

function table(obj: Record<string, unknown>, prefix = ''): string[] {
  const rows: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) rows.push(...table(v as Record<string, unknown>, `${prefix}${k}.`));
    else if (!Array.isArray(v)) rows.push(`<tr><th>${esc(prefix + k)}</th><td>${esc(fmt(v))}</td></tr>`);
  }
  return rows;
}

function gallery(title: string, imgs: ReportImage[]): string {
  if (imgs.length === 0) return '';
  return `<h2>${esc(title)}</h2><div class="gallery">${imgs.map((i) => `<figure><img alt="${esc(i.caption)}" src="data:image/png;base64,${Buffer.from(i.png).toString('base64')}"><figcaption>${esc(i.caption)}</figcaption></figure>`).join('')}</div>`;
}

export function renderReport(r: ReportInput): string {
  const bin = Uint8Array.from(r.labels, (l) => (l === 1 ? 1 : 0));
  const both = r.labels.includes(0) && r.labels.includes(1) && !r.labels.includes(-1);
  const img = (r.metrics.image ?? {}) as Record<string, unknown>;
  const charts = [
    both ? rocSvg(r.scores, bin, img.auroc) : '',
    both ? prSvg(r.scores, bin, img.ap) : '',
    r.scores.length > 0 ? histogramSvg(r.scores, r.labels, r.threshold) : '',
  ].join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}th{font-weight:600;color:#444}
.charts,.gallery{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{font-size:12px;color:#555;max-width:340px;word-break:break-all}
.gallery img{height:160px;image-rendering:pixelated;border:1px solid #ccc}pre{background:#f6f8fa;padding:10px;overflow:auto;font-size:12px}
.note{color:#666}
</style></head><body>
<h1>${esc(r.title)}</h1>
<p class="note">Generated by vigil. Heatmaps share one colour scale (normalised score; 0.5 = the decision threshold).</p>
<h2>Metrics</h2><table>${table(r.metrics).join('')}</table>
<h2>Curves</h2><div class="charts">${charts || '<p class="note">No labelled test images with both classes: no curves.</p>'}</div>
${gallery('Most anomalous test images', r.most)}
${gallery('Least anomalous test images', r.least)}
<h2>Configuration</h2><pre>${esc(r.configYaml)}</pre>
</body></html>
`;
}
