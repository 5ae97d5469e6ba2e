// report.html: one self-contained page built around the verdicts (OK / NG): how the threshold was
// set, every false reject and every miss, per-defect-type results, a sortable table of every test
// image, then the curves, the metrics and the config. Inline SVG charts, base64 PNGs, a few lines
// of inline script (sorting, zoom, histogram scale); nothing is fetched.
import { precisionRecallCurve, rocCurve } from '../eval/index.js';
import type { RunMetrics } from './types.js';
import { rampStops } from './visual.js';

export interface ReportImage {
  png: Uint8Array;
  /** One line: verdict · truth · score. */
  caption: string;
  id: string;
  verdict: 'OK' | 'NG';
  truth: string;
  score: number;
  normalised: number;
}

export interface ReportRow { id: string; label: number; defect: string; score: number; normalised: number; verdict: 'OK' | 'NG' }

export interface ReportInput {
  title: string;
  metrics: RunMetrics;
  rows: ReportRow[];
  threshold: { value: number; sentence: string; pixel: string | null; samples: number };
  /** Test scores (raw) and labels (0/1/-1). */
  scores: Float32Array;
  labels: Int32Array;
  galleries: { most: ReportImage[]; least: ReportImage[]; falseRejects: ReportImage[]; misses: ReportImage[] };
  /** The galleries carry heatmap overlays. */
  heatmaps: boolean;
  /** Raw pixel scores at the colour bar's 0 and 0.5. */
  pixelScale: { min: number; threshold: number } | null;
  /** The model does not see the whole image (centre crop): says what it misses. */
  inspected: string | null;
  configYaml: string;
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const num = (v: number | null | undefined, digits = 4): string => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(digits)) : '—');
const pct = (v: number | null | undefined): string => (typeof v === 'number' ? `${Number((v * 100).toFixed(1))} %` : '—');

const W = 330, H = 240, PAD = 46;
const tick = (v: number): string => String(Number(v.toPrecision(3)));

function axes(xLabel: string, yLabel: string, x0 = 0, x1 = 1, y0 = 0, y1 = 1, logX = false): string {
  const ticks: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const fx = PAD + (i / 4) * (W - PAD - 10);
    const fy = H - PAD - (i / 4) * (H - PAD - 10);
    const xv = logX ? Math.exp(Math.log(x0) + (i / 4) * (Math.log(x1) - Math.log(x0))) : x0 + (i / 4) * (x1 - x0);
    ticks.push(`<line x1="${fx}" y1="${H - PAD}" x2="${fx}" y2="${H - PAD + 4}" stroke="#555"/><text x="${fx}" y="${H - PAD + 15}" font-size="10" text-anchor="middle">${tick(xv)}</text>`);
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

function svg(body: string, title: string, cls = ''): string {
  return `<figure${cls ? ` class="${cls}"` : ''}><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${body}</svg><figcaption>${esc(title)}</figcaption></figure>`;
}

function rocSvg(scores: Float32Array, labels: Uint8Array, auc: number | undefined): string {
  const r = rocCurve(scores, labels);
  return svg(axes('false positive rate (good parts NG)', 'true positive rate (defects NG)') + `<line x1="${px(0)}" y1="${py(0)}" x2="${px(1)}" y2="${py(1)}" stroke="#bbb" stroke-dasharray="4 3"/>` + polyline(r.fpr, r.tpr, '#1f6feb'), `ROC curve (image AUROC ${auc === undefined ? '—' : auc.toFixed(3)})`);
}

function prSvg(scores: Float32Array, labels: Uint8Array, ap: number | undefined): string {
  const r = precisionRecallCurve(scores, labels);
  return svg(axes('recall', 'precision') + polyline(r.recall, r.precision, '#d1242f'), `Precision–recall curve (AP ${ap === undefined ? '—' : ap.toFixed(3)})`);
}

/** Score histogram per class with the threshold; on a log score axis when `log`. */
function histogramSvg(scores: Float32Array, labels: Int32Array, threshold: number, log: boolean, cls: string): string {
  const f = log ? Math.log : (v: number): number => v;
  let lo = f(threshold);
  let hi = lo;
  for (const s of scores) { const v = f(s); if (v < lo) lo = v; if (v > hi) hi = v; }
  if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
  const bins = 30;
  const count = (l: number): number[] => {
    const c = new Array<number>(bins).fill(0);
    scores.forEach((s, i) => { if (labels[i] === l) c[Math.min(bins - 1, Math.floor(((f(s) - lo) / (hi - lo)) * bins))]!++; });
    return c;
  };
  const normal = count(0), anomalous = count(1), unknown = count(-1);
  // Each class is scaled to its own peak, so a small anomalous set stays visible next to many normals.
  const bars = (c: number[], colour: string): string => {
    const peak = Math.max(1, ...c);
    return c.map((v, b) => (v === 0 ? '' : `<rect x="${px(b / bins).toFixed(1)}" y="${py(v / peak).toFixed(1)}" width="${((W - PAD - 10) / bins).toFixed(1)}" height="${(py(0) - py(v / peak)).toFixed(1)}" fill="${colour}" fill-opacity="0.55"/>`)).join('');
  };
  const tx = px((f(threshold) - lo) / (hi - lo));
  const legend = `<rect x="${PAD + 8}" y="16" width="10" height="10" fill="#2da44e" fill-opacity="0.6"/><text x="${PAD + 22}" y="25" font-size="10">good (${normal.reduce((a, b) => a + b, 0)})</text>`
    + `<rect x="${PAD + 100}" y="16" width="10" height="10" fill="#d1242f" fill-opacity="0.6"/><text x="${PAD + 114}" y="25" font-size="10">defect (${anomalous.reduce((a, b) => a + b, 0)})</text>`;
  const [x0, x1] = log ? [Math.exp(lo), Math.exp(hi)] : [lo, hi];
  return svg(axes(`anomaly score${log ? ' (log scale)' : ''}`, 'share of class peak', x0, x1, 0, 1, log) + bars(unknown, '#888') + bars(normal, '#2da44e') + bars(anomalous, '#d1242f')
    + `<line x1="${tx}" y1="10" x2="${tx}" y2="${H - PAD}" stroke="#000" stroke-width="2" stroke-dasharray="5 3"/><text x="${tx + 3}" y="${H - PAD - 6}" font-size="10">threshold ${num(threshold)}</text>` + legend,
  `Scores of good parts and defects; right of the dashed line = NG${log ? ' (log scale)' : ''}`, cls);
}

function colourBar(scale: { min: number; threshold: number } | null): string {
  const stops = rampStops().map((s) => `<stop offset="${s.at}" stop-color="rgb(${s.rgb.join(',')})"/>`).join('');
  const w = 240;
  return `<div class="legend"><svg xmlns="http://www.w3.org/2000/svg" width="${w + 20}" height="34" role="img" aria-label="heatmap colour scale">`
    + `<defs><linearGradient id="ramp">${stops}</linearGradient></defs><rect x="10" y="4" width="${w}" height="12" fill="url(#ramp)" stroke="#999"/>`
    + `<line x1="${10 + w / 2}" y1="0" x2="${10 + w / 2}" y2="20" stroke="#000" stroke-width="2"/>`
    + `<text x="10" y="30" font-size="10" text-anchor="middle">0</text><text x="${10 + w / 2}" y="30" font-size="10" text-anchor="middle">0.5</text><text x="${10 + w}" y="30" font-size="10" text-anchor="middle">1</text></svg>`
    + `<span class="key">0.5 = pixel threshold${scale ? ` (${num(scale.threshold, 4)})` : ''}: inside the magenta contour${scale ? `; 0 = lowest pixel score of the good images (${num(scale.min, 3)})` : ''}<br><i class="sw gt"></i>ground truth <i class="sw pred"></i>predicted defect area <i class="sw hatch"></i>not inspected</span></div>`;
}

function gallery(id: string, title: string, imgs: ReportImage[], total: number, empty: string, note = ''): string {
  const more = total > imgs.length ? `<p class="note">${total - imgs.length} more in the table below.</p>` : '';
  const body = imgs.length === 0 ? `<p class="ok">${esc(empty)}</p>`
    : `${note}<div class="gallery">${imgs.map((i) => `<figure><img class="zoomable" alt="${esc(i.caption)}" title="click to zoom" src="data:image/png;base64,${Buffer.from(i.png).toString('base64')}"><figcaption><b class="${i.verdict}">${i.verdict}</b> ${esc(i.caption.slice(i.verdict.length + 3))}<br><code>${esc(i.id)}</code></figcaption></figure>`).join('')}</div>${more}`;
  return `<h2 id="${id}">${esc(title)}${total > 0 ? ` — ${total}` : ''}</h2>${body}`;
}

function defectTable(d: RunMetrics['defects']): string {
  const rows = Object.entries(d).map(([type, v]) => {
    const good = type === 'good';
    return `<tr><td>${esc(type)}</td><td class="n">${v.images}</td><td class="n">${v.ng}</td><td class="n">${v.images - v.ng}</td><td class="n">${good ? `${pct(v.rate)} rejected` : `${pct(v.rate)} caught`}</td><td class="n">${good || v.auroc === null ? '' : v.auroc.toFixed(3)}</td></tr>`;
  });
  return `<table><thead><tr><th>type</th><th>images</th><th>NG</th><th>OK</th><th>rate</th><th>image AUROC vs good</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function metricsTable(m: RunMetrics): string {
  const rows: Array<[string, string]> = [];
  if (m.image) rows.push(['Image AUROC (1 = every defect scores above every good part)', num(m.image.auroc)], ['Image average precision', num(m.image.ap)], ['Image F1, best over all thresholds', num(m.image.f1_max)]);
  if (m.pixel) rows.push(['Pixel AUROC', num(m.pixel.auroc)], ['Pixel average precision', num(m.pixel.ap)], ['AUPRO (per-region overlap, up to 30 % false-positive pixels)', num(m.pixel.aupro)], ['Pixel F1, best over all thresholds', num(m.pixel.f1_max)]);
  rows.push(['Threshold (raw score)', num(m.threshold.value, 5)]);
  if (m.rates) rows.push(['False-reject rate (good parts NG)', pct(m.rates.false_reject)], ['Detection rate (defects NG)', pct(m.rates.detection)]);
  const c = m.counts;
  rows.push(['Test images (good / defect)', `${c.test} (${c.test_normal} / ${c.test_anomalous})`]);
  if (c.train !== undefined) rows.push(['Training images (fitted on)', String(c.train)]);
  if (c.held_out_normal !== undefined) rows.push(['Held-out good images (threshold)', String(c.held_out_normal)]);
  if (c.validation) rows.push(['Validation images', String(c.validation)]);
  if (c.skipped_unreadable) rows.push(['Unreadable images skipped', String(c.skipped_unreadable)]);
  const t = m.timing;
  if (t.fit_s !== null) rows.push(['Fit time', `${t.fit_s.toFixed(1)} s`]);
  rows.push(['Test time', `${t.test_s.toFixed(1)} s (${t.infer_ms_per_image.toFixed(1)} ms per image, ${t.threads} thread${t.threads === 1 ? '' : 's'}, ${t.device})`], ['Seed', String(m.seed)], ['Vigil', m.vigil_version]);
  return `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

function everyImage(rows: ReportRow[]): string {
  const body = rows.map((r, i) => {
    const truth = r.label === 0 ? 'good' : r.label === 1 ? 'defect' : 'unlabelled';
    const wrong = (r.label === 0 && r.verdict === 'NG') || (r.label === 1 && r.verdict === 'OK');
    const result = r.label === -1 ? '' : wrong ? (r.label === 0 ? 'false reject' : 'missed') : 'right';
    return `<tr class="${wrong ? 'wrong' : ''}"><td class="n">${i + 1}</td><td><code>${esc(r.id)}</code></td><td>${truth}</td><td>${esc(r.defect)}</td><td class="n" data-v="${r.score}">${num(r.score, 5)}</td><td class="n">${r.normalised.toFixed(3)}</td><td><b class="${r.verdict}">${r.verdict}</b></td><td>${result}</td></tr>`;
  }).join('');
  return `<table id="all" class="sortable"><thead><tr><th data-t="n">#</th><th>image</th><th>truth</th><th>defect type</th><th data-t="n">score</th><th data-t="n">normalised</th><th>verdict</th><th>result</th></tr></thead><tbody>${body}</tbody></table>`;
}

const SCRIPT = `
document.querySelectorAll('table.sortable th').forEach((th, col) => th.addEventListener('click', () => {
  const tb = th.closest('table').tBodies[0];
  const numeric = th.dataset.t === 'n';
  const dir = th.dataset.dir === 'asc' ? -1 : 1;
  th.closest('tr').querySelectorAll('th').forEach((h) => delete h.dataset.dir);
  th.dataset.dir = dir === 1 ? 'asc' : 'desc';
  const key = (tr) => { const td = tr.cells[col]; return numeric ? Number(td.dataset.v ?? td.textContent) : td.textContent; };
  [...tb.rows].sort((a, b) => { const x = key(a), y = key(b); return dir * (numeric ? x - y : String(x).localeCompare(String(y))); }).forEach((tr) => tb.appendChild(tr));
}));
const zoom = document.getElementById('zoom');
document.querySelectorAll('img.zoomable').forEach((img) => img.addEventListener('click', () => { zoom.querySelector('img').src = img.src; zoom.querySelector('p').textContent = img.alt; zoom.hidden = false; }));
zoom.addEventListener('click', () => { zoom.hidden = true; });
document.addEventListener('keydown', (e) => { if (e.key === 'Escape') zoom.hidden = true; });
document.querySelectorAll('button[data-scale]').forEach((b) => b.addEventListener('click', () => {
  document.body.dataset.hist = b.dataset.scale;
}));
`;

export function renderReport(r: ReportInput): string {
  const m = r.metrics;
  const bin = Uint8Array.from(r.labels, (l) => (l === 1 ? 1 : 0));
  const both = r.labels.includes(0) && r.labels.includes(1) && !r.labels.includes(-1);
  let positive = r.scores.length > 0;
  let lo = Infinity, hi = -Infinity;
  for (const s of r.scores) { if (s <= 0) positive = false; if (s < lo) lo = s; if (s > hi) hi = s; }
  const logDefault = positive && r.threshold.value > 0 && hi / lo > 10;
  const hist = r.scores.length > 0
    ? histogramSvg(r.scores, r.labels, r.threshold.value, false, 'hist-lin') + (positive && r.threshold.value > 0 ? histogramSvg(r.scores, r.labels, r.threshold.value, true, 'hist-log') : '')
    : '';
  const charts = [hist, both ? rocSvg(r.scores, bin, m.image?.auroc) : '', both ? prSvg(r.scores, bin, m.image?.ap) : ''].join('');
  const c = m.confusion;
  const g = r.galleries;
  const summary = c ? `<div class="cards">
<div class="card"><div class="k">Good parts</div><div class="v">${c.tn + c.fp}</div><div><b class="OK">OK</b> ${c.tn} · <b class="NG">NG</b> ${c.fp}</div><div class="${c.fp ? 'bad' : 'good'}">${c.fp} false reject${c.fp === 1 ? '' : 's'} (${pct(m.rates?.false_reject)})</div></div>
<div class="card"><div class="k">Defects</div><div class="v">${c.tp + c.fn}</div><div><b class="NG">NG</b> ${c.tp} · <b class="OK">OK</b> ${c.fn}</div><div class="${c.fn ? 'bad' : 'good'}">${c.fn} missed (${pct(m.rates?.detection)} caught)</div></div>
${m.image ? `<div class="card"><div class="k">Ranking</div><div class="v">${m.image.auroc.toFixed(3)}</div><div>image AUROC</div>${m.pixel ? `<div>pixel AUROC ${m.pixel.auroc.toFixed(3)}</div>` : ''}</div>` : ''}
</div>` : `<p class="note">The test images are not all labelled: no verdict counts.</p>`;
  const few = r.threshold.samples > 0 && r.threshold.samples < 20 && m.threshold.rule !== 'manual'
    ? `<p class="warn">The threshold rests on only ${r.threshold.samples} good image${r.threshold.samples === 1 ? '' : 's'}; it is set wide to keep its promise. Hold out more good images (<code>threshold.holdoutMin</code>) for a tighter one.</p>` : '';
  const heat = r.heatmaps ? colourBar(r.pixelScale) : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${esc(r.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;color:#222;max-width:1200px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:2px}
table{border-collapse:collapse}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}th{font-weight:600;color:#444}td.n{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer;user-select:none;background:#f6f8fa;position:sticky;top:0}table.sortable th[data-dir=asc]::after{content:" ▲"}table.sortable th[data-dir=desc]::after{content:" ▼"}
tr.wrong td{background:#fff4f4}
.charts,.gallery{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{font-size:12px;color:#444;max-width:340px;overflow-wrap:break-word}figcaption code{color:#666;overflow-wrap:anywhere}
.gallery img{height:160px;image-rendering:pixelated;border:1px solid #ccc;cursor:zoom-in}
pre{background:#f6f8fa;padding:10px;overflow:auto;font-size:12px}
.note{color:#666}.warn{background:#fff8e1;border-left:4px solid #e0a800;padding:6px 10px}.ok{color:#1a7f37}
b.NG{color:#fff;background:#cf222e;padding:0 5px;border-radius:3px}b.OK{color:#fff;background:#1a7f37;padding:0 5px;border-radius:3px}
.cards{display:flex;gap:16px;flex-wrap:wrap;margin:12px 0}.card{border:1px solid #ddd;border-radius:6px;padding:10px 16px;min-width:200px}.card .k{color:#666;font-size:12px;text-transform:uppercase}.card .v{font-size:26px;font-weight:600}
.card .bad{color:#cf222e}.card .good{color:#1a7f37}
.threshold{font-size:15px}
.legend{display:flex;align-items:center;gap:16px;flex-wrap:wrap;margin:6px 0}.key{font-size:12px;color:#444}.sw{display:inline-block;width:14px;height:10px;margin:0 4px 0 10px;vertical-align:middle;border:1px solid #999}
.sw.gt{background:#fff}.sw.pred{background:#f0f}.sw.hatch{background:repeating-linear-gradient(45deg,#464646 0 2px,#999 2px 6px)}
#zoom{position:fixed;inset:0;background:rgba(0,0,0,.85);display:flex;flex-direction:column;align-items:center;justify-content:center;cursor:zoom-out;z-index:10}#zoom[hidden]{display:none}
#zoom img{max-width:96vw;max-height:88vh;image-rendering:pixelated}#zoom p{color:#eee;margin:8px}
.hist-log{display:none}body[data-hist=log] .hist-log{display:block}body[data-hist=log] .hist-lin{display:none}
button{font:inherit;font-size:12px;margin-right:6px}
</style></head><body data-hist="${logDefault ? 'log' : 'lin'}">
<h1>${esc(r.title)}</h1>
<p class="note">${m.counts.test} test image${m.counts.test === 1 ? '' : 's'} · vigil ${esc(m.vigil_version)}. <b class="NG">NG</b> = judged anomalous, <b class="OK">OK</b> = judged good.</p>
<h2 id="verdicts">Verdicts</h2>
${summary}
<p class="threshold">An image is <b class="NG">NG</b> when its anomaly score is at least <b>${num(r.threshold.value, 5)}</b>. ${esc(capitalise(r.threshold.sentence))}.</p>
${few}
${r.threshold.pixel ? `<p class="note">Heatmaps: ${esc(r.threshold.pixel)}.</p>` : ''}
${r.inspected ? `<p class="warn">${esc(r.inspected)}</p>` : ''}
${c ? gallery('false-rejects', 'False rejects: good parts judged NG', g.falseRejects, c.fp, 'None: every good part was judged OK.', heat) : ''}
${c ? gallery('misses', 'Misses: defects judged OK', g.misses, c.fn, 'None: every defect was judged NG.', heat) : ''}
<h2 id="types">By defect type</h2>${defectTable(m.defects)}
<h2 id="curves">Score distribution and curves</h2>
${positive && r.threshold.value > 0 ? '<p><button data-scale="lin">linear score axis</button><button data-scale="log">log score axis</button></p>' : ''}
<div class="charts">${charts || '<p class="note">No scores.</p>'}</div>
${gallery('most', 'Most anomalous test images', g.most, g.most.length, 'No images.', r.heatmaps ? `<p class="note">Left: the image; right: the heatmap on one colour scale for every image. Click an image to zoom.</p>${heat}` : '')}
${gallery('least', 'Least anomalous test images', g.least, g.least.length, 'No images.')}
<h2 id="all-images">Every test image</h2><p class="note">Click a column to sort.</p>${everyImage(r.rows)}
<h2 id="metrics">Metrics</h2>${metricsTable(m)}
<h2 id="config">Configuration</h2><pre>${esc(r.configYaml)}</pre>
<div id="zoom" hidden><img alt=""><p></p></div>
<script>${SCRIPT}</script>
</body></html>
`;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
