import { maskUrl } from '../config/index.js';
import { STREAM_METRICS } from '../observability/metric-names.js';
import type { StreamMetricsView } from './types.js';

/** One sample line of the Prometheus text format. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (what prom-client's `/metrics` serves). */
export function parsePrometheusText(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3]) {
      for (const lm of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
        labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, '$1');
    }
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    if (!Number.isNaN(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/**
 * The stream's metrics (src/lib/observability/metric-names.ts): freshness is now minus the source
 * commit time of the newest event loaded (so it grows while the stream is stopped); latency is the
 * stream's own per-batch source-commit → ClickHouse time; the insert rate is the delta of the
 * rows-inserted counter between two samples.
 */
const LAST_EVENT_TIMESTAMP = STREAM_METRICS.lastEventTimestamp;
const ROWS_INSERTED = STREAM_METRICS.rowsInserted;
const LATENCY_SECONDS = STREAM_METRICS.freshness;

/** Freshness and insert rate of `shopdata stream`, from its `/metrics` URL. */
export class StreamMetricsSource {
  private prev: { at: number; total: number } | undefined;

  constructor(
    readonly url: string,
    private readonly timeoutMs = 3000,
  ) {}

  async poll(now: number = Date.now()): Promise<StreamMetricsView> {
    const res = await fetch(this.url, { signal: AbortSignal.timeout(this.timeoutMs) });
    if (!res.ok) throw new Error(`${this.url} answered ${res.status} ${res.statusText}`);
    return this.derive(parsePrometheusText(await res.text()), now);
  }

  /** Pure given the previous sample: freshness and latency now, rate from the counter delta. */
  derive(samples: PromSample[], now: number): StreamMetricsView {
    const names = new Set<string>();
    let newestEvent: number | null = null;
    let latency: number | null = null;
    let total: number | null = null;
    for (const s of samples) {
      if (!Number.isFinite(s.value)) continue;
      if (s.name === LAST_EVENT_TIMESTAMP && s.value > 0) {
        newestEvent = Math.max(newestEvent ?? 0, s.value);
        names.add(s.name);
      } else if (s.name === LATENCY_SECONDS) {
        latency = Math.max(latency ?? 0, s.value); // the slowest table counts
        names.add(s.name);
      } else if (s.name === ROWS_INSERTED) {
        total = (total ?? 0) + s.value;
        names.add(s.name);
      }
    }
    let insertRate: number | null = null;
    if (total !== null && this.prev && now > this.prev.at)
      insertRate = Math.max(0, total - this.prev.total) / ((now - this.prev.at) / 1000);
    if (total !== null) this.prev = { at: now, total };
    return {
      url: maskUrl(this.url),
      freshnessSeconds: newestEvent === null ? null : Math.max(0, now / 1000 - newestEvent),
      latencySeconds: latency,
      insertRate,
      insertedTotal: total,
      metricNames: [...names].sort(),
    };
  }
}
