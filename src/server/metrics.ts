// Prometheus text exposition (format 0.0.4) for the server: counters, gauges and histograms with
// labels. Small on purpose: the server needs a dozen series, not a client library.

type Labels = Record<string, string>;

const escLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelText = (l: Labels): string => {
  const keys = Object.keys(l);
  return keys.length === 0 ? '' : `{${keys.map((k) => `${k}="${escLabel(l[k]!)}"`).join(',')}}`;
};
const num = (v: number): string => (Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN');

interface Metric { name: string; help: string; type: 'counter' | 'gauge' | 'histogram'; render(): string[] }

export class Counter implements Metric {
  readonly type = 'counter';
  #values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelText(labels);
    const e = this.#values.get(k);
    if (e) e.value += by; else this.#values.set(k, { labels, value: by });
  }
  get(labels: Labels = {}): number { return this.#values.get(labelText(labels))?.value ?? 0; }
  render(): string[] { return [...this.#values.values()].map((e) => `${this.name}${labelText(e.labels)} ${num(e.value)}`); }
}

/** A gauge set directly or computed at scrape time. */
export class Gauge implements Metric {
  readonly type = 'gauge';
  #values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string, readonly collect?: () => Array<{ labels?: Labels; value: number }>) {}
  set(value: number, labels: Labels = {}): void { this.#values.set(labelText(labels), { labels, value }); }
  render(): string[] {
    const rows = this.collect ? this.collect().map((r) => ({ labels: r.labels ?? {}, value: r.value })) : [...this.#values.values()];
    return rows.map((e) => `${this.name}${labelText(e.labels)} ${num(e.value)}`);
  }
}

export class Histogram implements Metric {
  readonly type = 'histogram';
  #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}
  observe(value: number, labels: Labels = {}): void {
    const k = labelText(labels);
    let s = this.#series.get(k);
    if (!s) { s = { labels, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 }; this.#series.set(k, s); }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  render(): string[] {
    const out: string[] = [];
    for (const s of this.#series.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labelText({ ...s.labels, le: num(b) })} ${s.counts[i]}`));
      out.push(`${this.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
      out.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`);
      out.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return out;
  }
}

export class Registry {
  #metrics: Metric[] = [];
  add<M extends Metric>(m: M): M { this.#metrics.push(m); return m; }
  render(): string {
    return this.#metrics.map((m) => [`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.render()].join('\n')).join('\n') + '\n';
  }
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The series the server exports; the pool and models are read at scrape time. */
export function serverMetrics(read: {
  queueDepth: () => number; inFlight: () => number; queueLimit: number; workers: () => number;
  models: () => Array<{ name: string; loaded: boolean; loadSeconds: number | null; threshold: number }>;
}) {
  const r = new Registry();
  const started = Date.now() / 1000;
  return {
    registry: r,
    requests: r.add(new Counter('vigil_http_requests_total', 'HTTP requests by method, route template and status code.')),
    latency: r.add(new Histogram('vigil_http_request_duration_seconds', 'Time from request start to the end of the response, by route template.', LATENCY_BUCKETS)),
    inference: r.add(new Histogram('vigil_inference_batch_seconds', 'Worker time per batch (decode, score, render), by model.', LATENCY_BUCKETS)),
    predictions: r.add(new Counter('vigil_predictions_total', 'Images scored, by model and verdict.')),
    rejected: r.add(new Counter('vigil_queue_rejections_total', 'Requests refused with 503 because the inference queue was full.')),
    timeouts: r.add(new Counter('vigil_request_timeouts_total', 'Prediction requests answered 504 after the per-request timeout.')),
    _queue: r.add(new Gauge('vigil_inference_queue_depth', 'Images waiting for a worker.', () => [{ value: read.queueDepth() }])),
    _inflight: r.add(new Gauge('vigil_inference_in_flight', 'Images being computed by a worker.', () => [{ value: read.inFlight() }])),
    _limit: r.add(new Gauge('vigil_inference_queue_limit', 'Queue capacity in images; beyond it requests get 503.', () => [{ value: read.queueLimit }])),
    _workers: r.add(new Gauge('vigil_inference_workers', 'Inference worker threads alive.', () => [{ value: read.workers() }])),
    _loaded: r.add(new Gauge('vigil_model_loaded', '1 when the model is loaded in every worker.', () => read.models().map((m) => ({ labels: { model: m.name }, value: m.loaded ? 1 : 0 })))),
    _load: r.add(new Gauge('vigil_model_load_seconds', 'Time to load the model into the slowest worker.', () => read.models().filter((m) => m.loadSeconds !== null).map((m) => ({ labels: { model: m.name }, value: m.loadSeconds! })))),
    _thr: r.add(new Gauge('vigil_model_threshold', 'Image-score threshold in use (operator override or trained).', () => read.models().map((m) => ({ labels: { model: m.name }, value: m.threshold })))),
    _rss: r.add(new Gauge('process_resident_memory_bytes', 'Resident set size of the server process.', () => [{ value: process.memoryUsage.rss() }])),
    _start: r.add(new Gauge('process_start_time_seconds', 'Start time of the server, Unix seconds.', () => [{ value: started }])),
  };
}
export type ServerMetrics = ReturnType<typeof serverMetrics>;
