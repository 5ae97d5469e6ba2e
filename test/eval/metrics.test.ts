// Parity of src/eval against scikit-learn (image and pixel metrics, curves, operating points) and
// against an independent brute-force AUPRO reference written here in Python with scipy.ndimage.
// All reference values come from ONE Python process run at test time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PixelMetricAccumulator,
  aupro,
  auroc,
  averagePrecision,
  binaryMetrics,
  f1Max,
  labelComponents,
  pixelMetrics,
  precisionRecallCurve,
  rocCurve,
  tnrAtTpr,
  tprAtFpr,
} from '../../src/eval/index.js';
import { Sweep } from '../../src/eval/ranking.js';

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FPRS = [0, 0.01, 0.05, 0.1, 0.3, 1];
const TPRS = [0, 0.5, 0.9, 0.95, 0.99, 1];

interface ImageCase {
  name: string;
  f32: boolean;
  scores: Float32Array | Float64Array;
  labels: Uint8Array;
}

interface PixelCase {
  name: string;
  width: number;
  height: number;
  maps: Float32Array[];
  masks: Uint8Array[];
}

// ---- cases -------------------------------------------------------------------------------
const rnd = prng(7);
const imageCases: ImageCase[] = [];
function imageCase(name: string, n: number, f32: boolean, score: (label: number, i: number) => number, pPos = 0.3): void {
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = rnd() < pPos ? 1 : 0;
  labels[0] = 1;
  labels[1] = 0;
  const scores = f32 ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) scores[i] = score(labels[i], i);
  imageCases.push({ name, f32, scores, labels });
}
imageCase('continuous f64', 200, false, (l) => rnd() + 0.5 * l * rnd());
imageCase('continuous f32', 500, true, (l) => rnd() * 3 - 1 + l * rnd());
imageCase('heavy ties (5 levels)', 300, true, (l) => Math.floor((rnd() + 0.3 * l) * 5) / 5);
imageCase('two levels', 50, false, (l) => (rnd() < 0.5 + 0.3 * l ? 1 : 0));
imageCase('constant scores', 40, true, () => 0.25);
imageCase('negative scores with ties', 120, true, (l) => -Math.round((rnd() - 0.4 * l) * 8) / 8);
imageCase('signed zeros', 30, true, (l, i) => (i % 3 === 0 ? -0 : i % 3 === 1 ? 0 : l - 0.5));
imageCase('single positive', 60, false, (l) => rnd() + l * 0.2, 0);
imageCase('mostly positive', 80, false, (l) => Math.round((rnd() + 0.1 * l) * 20), 0.95);
imageCase('perfect separation', 64, true, (l) => l * 10 + rnd());
imageCase('inverted', 64, false, (l) => -l * 10 + rnd());
imageCase('f64 beyond f32 precision', 100, false, (l) => 0.1 + (rnd() < 0.5 ? 1e-12 : 0) + l * 1e-13);

const pixelCases: PixelCase[] = [];
function pixelCase(name: string, images: number, width: number, height: number, score: (m: number) => number, blobs = 3): void {
  const maps: Float32Array[] = [];
  const masks: Uint8Array[] = [];
  for (let i = 0; i < images; i++) {
    const mask = new Uint8Array(width * height);
    if (i % 3 !== 0) {
      const k = 1 + Math.floor(rnd() * blobs);
      for (let b = 0; b < k; b++) {
        const cx = rnd() * width, cy = rnd() * height, r = 1 + rnd() * Math.min(width, height) * 0.25;
        for (let y = 0; y < height; y++) {
          for (let x = 0; x < width; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) mask[y * width + x] = 255;
        }
      }
      // Diagonal-only neighbours: one region with 8-connectivity, two with 4.
      mask[0] = 1;
      mask[width + 1] = 1;
    }
    const map = new Float32Array(width * height);
    for (let j = 0; j < map.length; j++) map[j] = score(mask[j]);
    maps.push(map);
    masks.push(mask);
  }
  pixelCases.push({ name, width, height, maps, masks });
}
pixelCase('continuous', 6, 24, 20, (m) => rnd() + (m ? 0.5 * rnd() : 0));
pixelCase('quantised ties', 5, 17, 23, (m) => Math.round((rnd() + (m ? 0.4 : 0)) * 16) / 16);
pixelCase('negative ties', 4, 16, 16, (m) => -Math.round((1 - rnd() - (m ? 0.3 * rnd() : 0)) * 32) / 32);
// Many normal pixels per high-16-bit bucket: exercises the dense counting path.
pixelCase('dense buckets', 3, 90, 80, (m) => 0.5 + Math.round(rnd() * 300 + (m ? 100 * rnd() : 0)) * 2 ** -24);
pixelCase('dense continuous', 2, 100, 100, (m) => 1 + rnd() * 1e-3 + (m ? 2e-4 * rnd() : 0));

// ---- reference run -----------------------------------------------------------------------
const PY = String.raw`
import json, sys
import numpy as np
from scipy import ndimage
from sklearn.metrics import roc_auc_score, average_precision_score, roc_curve, precision_recall_curve

def ops(y, s):
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    thr = [float('inf')] + [float(t) for t in thr[1:]]  # sklearn 1.2 puts max+1 first
    out_f = []
    for a in FPRS:
        idx = np.nonzero(fpr <= a)[0]
        best = tpr[idx].max()
        i = idx[tpr[idx] == best][0]
        out_f.append([float(tpr[i]), float(fpr[i]), thr[i]])
    out_t = []
    for b in TPRS:
        i = int(np.nonzero(tpr >= b)[0][0])
        out_t.append([float(1 - fpr[i]), float(tpr[i]), thr[i]])
    return fpr.tolist(), tpr.tolist(), thr, out_f, out_t

def f1max(y, s):
    p, r, t = precision_recall_curve(y, s)
    p, r = p[:-1], r[:-1]
    f1 = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0)
    best = f1.max()
    return float(best), float(t[f1 >= best - 1e-12].max())

def binary(y, s):
    fpr, tpr, thr, of, ot = ops(y, s)
    p, r, t = precision_recall_curve(y, s)
    f1, f1t = f1max(y, s)
    return dict(auroc=roc_auc_score(y, s), ap=average_precision_score(y, s), f1=f1, f1t=f1t,
                fpr=fpr, tpr=tpr, thr=thr, tpr_at_fpr=of, tnr_at_tpr=ot,
                prec=p.tolist(), rec=r.tolist(), prthr=[float(x) for x in t])

def canonical(lab):
    # Relabel regions by first pixel in raster order, to compare partitions.
    flat = lab.ravel(); out = np.zeros_like(flat); seen = {}
    for i, v in enumerate(flat):
        if v and v not in seen: seen[v] = len(seen) + 1
        if v: out[i] = seen[v]
    return out.tolist()

def aupro_bruteforce(maps, masks, max_fpr):
    # Independent of any sort/cumsum trick: evaluate FPR and PRO at every distinct threshold.
    regions, normal = [], []
    for m, k in zip(maps, masks):
        lab, n = ndimage.label(k > 0, structure=np.ones((3, 3), dtype=int))
        for r in range(1, n + 1): regions.append(m[lab == r])
        normal.append(m[lab == 0])
    normal = np.concatenate(normal)
    xs, ys = [0.0], [0.0]
    for t in np.unique(np.concatenate(maps).ravel())[::-1]:
        xs.append(float(np.mean(normal >= t)))
        ys.append(float(np.mean([np.mean(r >= t) for r in regions])))
    xs.append(1.0); ys.append(1.0)
    area = 0.0
    for i in range(1, len(xs)):
        x0, y0, x1, y1 = xs[i - 1], ys[i - 1], xs[i], ys[i]
        if x1 <= max_fpr:
            area += 0.5 * (y0 + y1) * (x1 - x0)
        else:
            if x0 < max_fpr:
                yi = y0 + (y1 - y0) * (max_fpr - x0) / (x1 - x0)
                area += 0.5 * (yi + y0) * (max_fpr - x0)
            break
    return area / max_fpr, len(regions)

inp = json.load(open(sys.argv[1]))
FPRS, TPRS = inp['fprs'], inp['tprs']
res = {'image': [], 'pixel': []}
for c in inp['image']:
    s = np.array(c['scores'], dtype=np.float32 if c['f32'] else np.float64)
    res['image'].append(binary(np.array(c['labels'], dtype=np.uint8), s))
for c in inp['pixel']:
    w, h = c['width'], c['height']
    maps = [np.array(m, dtype=np.float32).reshape(h, w) for m in c['maps']]
    masks = [np.array(m, dtype=np.uint8).reshape(h, w) for m in c['masks']]
    y = np.concatenate([(k > 0).ravel() for k in masks]).astype(np.uint8)
    s = np.concatenate([m.ravel() for m in maps])
    d = binary(y, s)
    for key in ('fpr', 'tpr', 'thr', 'prec', 'rec', 'prthr'): del d[key]
    d['aupro'] = [aupro_bruteforce(maps, masks, a) for a in (0.3, 0.05, 1.0)]
    d['labels'] = [canonical(ndimage.label(k > 0, structure=np.ones((3, 3), dtype=int))[0]) for k in masks]
    res['pixel'].append(d)
json.dump(res, open(sys.argv[2], 'w'))
`;

interface RefBinary {
  auroc: number;
  ap: number;
  f1: number;
  f1t: number;
  fpr: number[];
  tpr: number[];
  thr: (number | null)[];
  tpr_at_fpr: [number, number, number | null][];
  tnr_at_tpr: [number, number, number | null][];
  prec: number[];
  rec: number[];
  prthr: number[];
}
interface RefPixel extends RefBinary {
  aupro: [number, number][];
  labels: number[][];
}

function runReference(): { image: RefBinary[]; pixel: RefPixel[] } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-eval-'));
  try {
    const input = {
      fprs: FPRS,
      tprs: TPRS,
      image: imageCases.map((c) => ({ f32: c.f32, scores: Array.from(c.scores), labels: Array.from(c.labels) })),
      pixel: pixelCases.map((c) => ({ width: c.width, height: c.height, maps: c.maps.map((m) => Array.from(m)), masks: c.masks.map((m) => Array.from(m)) })),
    };
    writeFileSync(join(dir, 'in.json'), JSON.stringify(input));
    writeFileSync(join(dir, 'ref.py'), PY);
    const r = spawnSync('/usr/bin/python3', [join(dir, 'ref.py'), join(dir, 'in.json'), join(dir, 'out.json')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`reference script failed (needs python3-sklearn, python3-scipy):\n${r.stderr}`);
    // Python's json writes Infinity as a bare token, which JSON.parse rejects.
    return JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8').replace(/\bInfinity\b/g, '1e999'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ref = runReference();

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected} (diff ${Math.abs(actual - expected)})`);
}
function closeArray(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) close(actual[i], expected[i], tol, `${what}[${i}]`);
}

// ---- image-level -------------------------------------------------------------------------
for (const [k, c] of imageCases.entries()) {
  test(`image metrics match scikit-learn: ${c.name}`, () => {
    const e = ref.image[k];
    const m = binaryMetrics(c.scores, c.labels, { tprAtFpr: FPRS, tnrAtTpr: TPRS });
    close(m.auroc, e.auroc, 1e-12, 'auroc');
    close(auroc(c.scores, c.labels), e.auroc, 1e-12, 'auroc()');
    close(m.averagePrecision, e.ap, 1e-12, 'ap');
    close(averagePrecision(c.scores, c.labels), e.ap, 1e-12, 'averagePrecision()');
    close(m.f1Max, e.f1, 1e-12, 'f1Max');
    assert.equal(m.f1Threshold, e.f1t, 'f1 threshold');
    assert.deepEqual(f1Max(c.scores, c.labels), { f1: m.f1Max, threshold: m.f1Threshold });

    const roc = rocCurve(c.scores, c.labels);
    closeArray(roc.fpr, e.fpr, 1e-15, 'roc fpr');
    closeArray(roc.tpr, e.tpr, 1e-15, 'roc tpr');
    assert.deepEqual(Array.from(roc.thresholds), e.thr);
    const pr = precisionRecallCurve(c.scores, c.labels);
    closeArray(pr.precision, e.prec, 1e-15, 'precision');
    closeArray(pr.recall, e.rec, 1e-15, 'recall');
    assert.deepEqual(Array.from(pr.thresholds), e.prthr);

    FPRS.forEach((a, i) => {
      const [tpr, fpr, thr] = e.tpr_at_fpr[i];
      const o = m.tprAtFpr[i];
      assert.deepEqual([o.tpr, o.fpr, o.threshold, o.target], [tpr, fpr, thr, a], `tpr at fpr ${a}`);
      assert.deepEqual(tprAtFpr(c.scores, c.labels, a), o);
    });
    TPRS.forEach((b, i) => {
      const [tnr, tpr, thr] = e.tnr_at_tpr[i];
      const o = m.tnrAtTpr[i];
      assert.deepEqual([o.tnr, o.tpr, o.threshold, o.target], [tnr, tpr, thr, b], `tnr at tpr ${b}`);
      assert.deepEqual(tnrAtTpr(c.scores, c.labels, b), o);
    });
  });
}

// ---- pixel-level -------------------------------------------------------------------------
for (const [k, c] of pixelCases.entries()) {
  test(`pixel metrics and AUPRO match the references: ${c.name}`, () => {
    const e = ref.pixel[k];
    const acc = new PixelMetricAccumulator({ width: c.width, height: c.height, aupro: true, tprAtFpr: FPRS, tnrAtTpr: TPRS });
    c.maps.forEach((m, i) => acc.add(m, c.masks[i]));
    assert.equal(acc.pixels, c.maps.length * c.width * c.height);
    const m = acc.compute();
    close(m.auroc, e.auroc, 1e-12, 'pixel auroc');
    close(m.averagePrecision, e.ap, 1e-12, 'pixel ap');
    close(m.f1Max, e.f1, 1e-12, 'pixel f1');
    assert.equal(m.f1Threshold, e.f1t, 'pixel f1 threshold');
    FPRS.forEach((a, i) => assert.deepEqual([m.tprAtFpr[i].tpr, m.tprAtFpr[i].fpr, m.tprAtFpr[i].threshold], e.tpr_at_fpr[i], `tpr at fpr ${a}`));
    TPRS.forEach((b, i) => assert.deepEqual([m.tnrAtTpr[i].tnr, m.tnrAtTpr[i].tpr, m.tnrAtTpr[i].threshold], e.tnr_at_tpr[i], `tnr at tpr ${b}`));
    const [pro03, regions] = e.aupro[0];
    close(m.aupro!, pro03, 1e-12, 'aupro@0.3');
    assert.equal(m.regions, regions);
    assert.equal(m.auproMaxFpr, 0.3);
    [0.05, 1.0].forEach((a, i) => close(aupro(c.maps, c.masks, c.width, c.height, a), e.aupro[i + 1][0], 1e-12, `aupro@${a}`));

    // The one-array form and a second compute() give the same answer.
    const flatMaps = new Float32Array(c.maps.length * c.width * c.height);
    const flatMasks = new Uint8Array(flatMaps.length);
    c.maps.forEach((mm, i) => flatMaps.set(mm, i * mm.length));
    c.masks.forEach((mm, i) => flatMasks.set(mm, i * mm.length));
    const flat = pixelMetrics(flatMaps, flatMasks, { width: c.width, height: c.height, aupro: true, tprAtFpr: FPRS, tnrAtTpr: TPRS });
    assert.deepEqual(flat, m);
    assert.deepEqual(acc.compute(), m);

    c.masks.forEach((mask, i) => {
      const cc = labelComponents(mask, c.width, c.height);
      assert.deepEqual(Array.from(cc.labels), e.labels[i], `components of mask ${i}`);
      assert.equal(cc.count, Math.max(0, ...e.labels[i]));
    });
  });
}

test('pixel accumulator without AUPRO agrees with image-level metrics on the same pixels', () => {
  const c = pixelCases[1];
  const acc = new PixelMetricAccumulator();
  c.maps.forEach((m, i) => acc.add(m, c.masks[i]));
  const p = acc.compute();
  assert.equal(p.aupro, undefined);
  const scores = new Float32Array(c.maps.length * c.width * c.height);
  const labels = new Uint8Array(scores.length);
  c.maps.forEach((m, i) => scores.set(m, i * m.length));
  c.masks.forEach((m, i) => m.forEach((v, j) => (labels[i * m.length + j] = v ? 1 : 0)));
  const b = binaryMetrics(scores, labels);
  assert.deepEqual({ ...p, images: undefined }, { ...b, images: undefined });
});

// ---- errors ------------------------------------------------------------------------------
test('single class is a clear error', () => {
  const s = new Float64Array([0.1, 0.2, 0.3]);
  assert.throws(() => auroc(s, new Uint8Array(3)), /AUROC needs both normal and anomalous samples; got only label 0/);
  assert.throws(() => averagePrecision(s, new Uint8Array([1, 1, 1])), /needs both normal and anomalous samples; got only label 1/);
  const acc = new PixelMetricAccumulator();
  acc.add(new Float32Array(4), new Uint8Array(4));
  assert.throws(() => acc.compute(), /needs both normal and anomalous pixels; got only label 0/);
  assert.throws(() => new PixelMetricAccumulator().compute(), /got no pixels at all/);
});

test('NaN and Infinity scores are rejected with their index', () => {
  const labels = new Uint8Array([0, 1, 0, 1]);
  assert.throws(() => auroc(new Float64Array([0.1, 0.2, NaN, 0.4]), labels), /score at index 2 is NaN/);
  assert.throws(() => f1Max(new Float32Array([0.1, Infinity, 0, 0.4]), labels), /score at index 1 is Infinity/);
  const acc = new PixelMetricAccumulator({ width: 2, height: 2 });
  acc.add(new Float32Array([0, 1, 2, 3]), labels);
  assert.throws(() => acc.add(new Float32Array([0, 1, 2, -Infinity]), labels), /image 1\): score at pixel 3 \(x=1, y=1\) is -Infinity/);
  assert.equal(acc.pixels, 4, 'a rejected map leaves the accumulator unchanged');
  assert.throws(() => acc.add(new Float32Array([NaN, 1, 2, 3]), labels), /pixel 0 .* is NaN/);
});

test('shape and type mistakes are clear errors', () => {
  assert.throws(() => auroc(new Float64Array(3), new Uint8Array(4)), /scores has 3 entries but labels has 4/);
  assert.throws(() => auroc(new Float64Array([1, 2]), new Uint8Array([0, 2])), /label at index 1 is 2; labels must be 0 \(normal\) or 1/);
  assert.throws(() => tprAtFpr(new Float64Array([1, 2]), new Uint8Array([0, 1]), 1.5), /tprAtFpr: every entry must be a rate in \[0, 1\]/);
  const acc = new PixelMetricAccumulator({ width: 3, height: 2 });
  assert.throws(() => acc.add(new Float32Array(5), new Uint8Array(5)), /map has 5 pixels, expected width \* height = 3 \* 2/);
  assert.throws(() => acc.add(new Float32Array(6), new Uint8Array(5)), /scores has 6 pixels but mask has 5/);
  assert.throws(() => new PixelMetricAccumulator({ aupro: true }), /aupro needs width and height/);
  assert.throws(() => pixelMetrics([new Float32Array(4)], [], {}), /got 1 score maps but 0 masks/);
  assert.throws(() => labelComponents(new Uint8Array(5), 2, 2), /mask has 5 pixels but width \* height = 2 \* 2 = 4/);
});

test('AUROC stays exact when 2 * positives * negatives exceeds 2^53 (BigInt accumulation)', () => {
  // 20000 groups with counts around 1e6 each: P * N ~ 1e20, far past double-exact integers.
  const r = prng(11);
  const groups: [number, number][] = [];
  let P = 0;
  let N = 0;
  for (let g = 0; g < 20000; g++) {
    const neg = 1 + Math.floor(r() * 2e6);
    const pos = 1 + Math.floor(r() * 2e6);
    groups.push([neg, pos]);
    P += pos;
    N += neg;
  }
  const sweep = new Sweep(P, N);
  let num = 0n;
  let tp = 0n;
  groups.forEach(([neg, pos], g) => {
    sweep.push(20000 - g, neg, pos);
    num += BigInt(neg) * (2n * tp + BigInt(pos));
    tp += BigInt(pos);
  });
  // Exact rational num / (2PN), rounded once: scale by 2^60 in integers before converting.
  const den = 2n * BigInt(P) * BigInt(N);
  const expected = Number((num << 60n) / den) / 2 ** 60;
  close(sweep.result().auroc, expected, 2e-16, 'auroc with huge counts');
});
