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
      for (const lm of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, '$1');
    }
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    if (!Number.isNaN(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/**
 * Which series mean "freshness" and "rows inserted". The stream's metric names are its own
 * (src/lib/stream); these patterns accept the usual spellings so `top` need not change with them.
 */
const FRESHNESS_SECONDS = /_freshness_seconds$/;
const LAST_EVENT_TIMESTAMP = /_(last|newest|latest)_(event|source|commit)\w*_(timestamp|ts|time)_seconds$/;
const INSERTED_TOTAL = /_(rows|records|events)_(inserted|loaded|written)_total$|_inserted_(rows|records)_total$|_insert_rows_total$/;

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

  /** Pure given the previous sample: freshness now, rate from the counter delta. */
  derive(samples: PromSample[], now: number): StreamMetricsView {
    const names = new Set<string>();
    let freshness: number | null = null;
    for (const s of samples) {
      let secs: number | null = null;
      if (FRESHNESS_SECONDS.test(s.name)) secs = s.value;
      else if (LAST_EVENT_TIMESTAMP.test(s.name) && s.value > 0) secs = Math.max(0, now / 1000 - s.value);
      if (secs === null || !Number.isFinite(secs)) continue;
      names.add(s.name);
      freshness = freshness === null ? secs : Math.max(freshness, secs); // the stalest source counts
    }
    let total: number | null = null;
    for (const s of samples) {
      if (!INSERTED_TOTAL.test(s.name)) continue;
      names.add(s.name);
      total = (total ?? 0) + s.value;
    }
    let insertRate: number | null = null;
    if (total !== null && this.prev && now > this.prev.at) insertRate = Math.max(0, total - this.prev.total) / ((now - this.prev.at) / 1000);
    if (total !== null) this.prev = { at: now, total };
    return { url: this.url, freshnessSeconds: freshness, insertRate, insertedTotal: total, metricNames: [...names].sort() };
  }
}
