// Pixel AUROC + AP over 200 synthetic 256x256 score maps: Vigil's PixelMetricAccumulator vs
// scikit-learn's roc_auc_score + average_precision_score on the same data in the same run.
// Prints one JSON line. Usage: node dist/bench/pixel-metrics.js [images] [repeats]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PixelMetricAccumulator } from '../src/eval/index.js';

const W = 256;
const H = 256;
const images = Number(process.argv[2] ?? 200);
const repeats = Number(process.argv[3] ?? 2);

// mulberry32: small seeded PRNG so every run measures the same data.
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

// Half the images get 1-3 elliptical defects; scores are noise plus a bump inside defects,
// quantised to 1/4096 on some images so the data has many ties, as real upsampled maps do.
const rnd = prng(42);
const scores = new Float32Array(images * W * H);
const masks = new Uint8Array(images * W * H);
for (let i = 0; i < images; i++) {
  const off = i * W * H;
  if (i % 2 === 1) {
    const k = 1 + Math.floor(rnd() * 3);
    for (let d = 0; d < k; d++) {
      const cx = rnd() * W, cy = rnd() * H, rx = 4 + rnd() * 30, ry = 4 + rnd() * 30;
      for (let y = Math.max(0, Math.floor(cy - ry)); y < Math.min(H, cy + ry); y++) {
        for (let x = Math.max(0, Math.floor(cx - rx)); x < Math.min(W, cx + rx); x++) {
          if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) masks[off + y * W + x] = 1;
        }
      }
    }
  }
  const quantise = i % 4 === 0;
  for (let j = 0; j < W * H; j++) {
    let s = rnd() + (masks[off + j] ? 0.6 * rnd() : 0);
    if (quantise) s = Math.round(s * 4096) / 4096;
    scores[off + j] = s;
  }
}

function ours(): { seconds: number; auroc: number; ap: number } {
  const t0 = process.hrtime.bigint();
  const acc = new PixelMetricAccumulator({ width: W, height: H });
  for (let i = 0; i < images; i++) {
    acc.add(scores.subarray(i * W * H, (i + 1) * W * H), masks.subarray(i * W * H, (i + 1) * W * H));
  }
  const r = acc.compute();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds, auroc: r.auroc, ap: r.averagePrecision };
}

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
try {
  for (const [name, data] of [
    ['scores.f32', scores],
    ['masks.u8', masks],
  ] as const) {
    writeFileSync(join(dir, name + '.tmp'), data);
    renameSync(join(dir, name + '.tmp'), join(dir, name));
  }
  const py = `
import json, sys, time
import numpy as np
from sklearn.metrics import roc_auc_score, average_precision_score
d, repeats = sys.argv[1], int(sys.argv[2])
s = np.fromfile(d + "/scores.f32", dtype=np.float32)
m = np.fromfile(d + "/masks.u8", dtype=np.uint8)
best = float("inf")
for _ in range(repeats):
    t0 = time.perf_counter()
    auc = roc_auc_score(m, s)
    ap = average_precision_score(m, s)
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"seconds": best, "auroc": float(auc), "ap": float(ap)}))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', py, dir, String(repeats)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench/pixel-metrics: scikit-learn run failed (is python3-sklearn installed?):\n${r.stderr}`);
  const sk = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds: number; auroc: number; ap: number };

  let best = ours();
  for (let k = 1; k < repeats; k++) {
    const o = ours();
    if (o.seconds < best.seconds) best = o;
  }
  console.log(
    JSON.stringify({
      bench: 'pixel-metrics',
      pixels: scores.length,
      vigil_s: Number(best.seconds.toFixed(4)),
      sklearn_s: Number(sk.seconds.toFixed(4)),
      speedup: Number((sk.seconds / best.seconds).toFixed(2)),
      auroc_abs_diff: Math.abs(best.auroc - sk.auroc),
      ap_abs_diff: Math.abs(best.ap - sk.ap),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
