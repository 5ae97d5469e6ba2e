// Progress bars on stderr: one line per stage, redrawn in place, with rate and ETA. Silent when
// stderr is not a terminal (logs, CI, pipes) or with --quiet.
import type { ProgressEvent } from '../pipeline/types.js';

export class ProgressBars {
  #stages = new Map<string, { start: number; last: number }>();
  #drawn = false;
  constructor(readonly enabled: boolean, readonly out: NodeJS.WriteStream = process.stderr) {}

  update(e: ProgressEvent): void {
    if (!this.enabled) return;
    const now = Date.now();
    let s = this.#stages.get(e.stage);
    if (!s || e.done < 1) { s = { start: now, last: 0 }; this.#stages.set(e.stage, s); }
    if (e.done < e.total && now - s.last < 100) return;
    s.last = now;
    const frac = e.total > 0 ? Math.min(1, e.done / e.total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const elapsed = (now - s.start) / 1000;
    const eta = e.done > 0 && e.done < e.total ? (elapsed / e.done) * (e.total - e.done) : 0;
    const vals = e.values ? ' ' + Object.entries(e.values).map(([k, v]) => `${k}=${fmt(v)}`).join(' ') : '';
    const line = `${e.stage.padEnd(10)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${e.done}/${e.total} ${time(elapsed)}${e.done < e.total ? ` ETA ${time(eta)}` : ''}${vals}`;
    const cols = this.out.columns ?? 100;
    this.out.write(`\r\x1b[2K${line.slice(0, cols - 1)}`);
    this.#drawn = true;
    if (e.done >= e.total) { this.out.write('\n'); this.#drawn = false; }
  }

  /** Ends a partly drawn line before other output. */
  clear(): void {
    if (this.enabled && this.#drawn) { this.out.write('\r\x1b[2K'); this.#drawn = false; }
  }
}

function fmt(v: number): string {
  return Math.abs(v) >= 1000 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toPrecision(4);
}

function time(s: number): string {
  const m = Math.floor(s / 60);
  const ss = Math.floor(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${String(ss).padStart(2, '0')}` : `${m}:${String(ss).padStart(2, '0')}`;
}
