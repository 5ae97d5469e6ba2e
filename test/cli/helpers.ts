// Runs the compiled CLI as a child process.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
export const SLOWMEAN = fileURLToPath(new URL('./fixtures/slowmean.js', import.meta.url));

export interface Run { code: number | null; stdout: string; stderr: string }

export function vigil(args: string[], env: Record<string, string> = {}, cwd?: string): Run {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, ...(cwd ? { cwd } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function vigilAsync(args: string[], env: Record<string, string> = {}) {
  return spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Minimal CSV parser for the files the CLI writes (quoted fields allowed). */
export function parseCsv(text: string): Array<Record<string, string>> {
  const lines = text.trim().split('\n');
  const split = (l: string): string[] => {
    const out: string[] = [];
    let cur = '';
    let q = false;
    for (let i = 0; i < l.length; i++) {
      const c = l[i]!;
      if (q) { if (c === '"' && l[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') q = false; else cur += c; }
      else if (c === '"') q = true;
      else if (c === ',') { out.push(cur); cur = ''; }
      else cur += c;
    }
    out.push(cur);
    return out;
  };
  const header = split(lines[0]!);
  return lines.slice(1).map((l) => Object.fromEntries(split(l).map((v, i) => [header[i]!, v])));
}

/** Mann–Whitney AUROC by pairs (ties count ½): an independent check of metrics.json. */
export function pairAuroc(scores: number[], labels: number[]): number {
  let s = 0, n = 0;
  for (let i = 0; i < scores.length; i++) for (let j = 0; j < scores.length; j++) {
    if (labels[i] === 1 && labels[j] === 0) { n++; s += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0; }
  }
  return s / n;
}

/** Average precision as scikit-learn defines it, by counting: mean over positives of precision at score ≥ theirs. */
export function countAp(scores: number[], labels: number[]): number {
  let s = 0, p = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] !== 1) continue;
    let tp = 0, n = 0;
    for (let j = 0; j < scores.length; j++) if (scores[j]! >= scores[i]!) { n++; if (labels[j] === 1) tp++; }
    s += tp / n;
    p++;
  }
  return s / p;
}

/** Best F1 over the thresholds "score ≥ one of the scores", by counting. */
export function countF1Max(scores: number[], labels: number[]): number {
  const pos = labels.filter((l) => l === 1).length;
  let best = 0;
  for (const t of scores) {
    let tp = 0, fp = 0;
    scores.forEach((s, j) => { if (s >= t) { if (labels[j] === 1) tp++; else fp++; } });
    best = Math.max(best, (2 * tp) / (2 * tp + fp + (pos - tp)));
  }
  return best;
}

/** metrics.json's image metrics recomputed from scores.csv (AUROC by pairs, AP and F1-max by counting). */
export function checkImageMetrics(image: { auroc: number; ap: number; f1_max: number }, rows: Array<Record<string, string>>, what = ''): void {
  const scores = rows.map((r) => Number(r.score));
  const labels = rows.map((r) => Number(r.label));
  const close = (a: number, b: number, k: string): void => { if (!(Math.abs(a - b) <= 1e-9)) throw new Error(`${what}image.${k} is ${a}, recomputed from scores.csv ${b}`); };
  close(image.auroc, pairAuroc(scores, labels), 'auroc');
  close(image.ap, countAp(scores, labels), 'ap');
  close(image.f1_max, countF1Max(scores, labels), 'f1_max');
}
