import { Gauge, Registry } from 'prom-client';
import type { Logger } from '../log/index.js';
import { maskUrl } from '../config/index.js';

/** One metric of a run: a plain number, or labelled series (e.g. rows per table). */
export type RunMetricValue =
  number | { help?: string; series: Array<{ labels: Record<string, string>; value: number }> };

export interface PushRunMetricsOptions {
  /** Pushgateway job, e.g. PUSH_JOBS.backfill. */
  job: string;
  /**
   * The grouping key besides `job` (e.g. `{ day: '2026-11-24' }`): a push replaces every metric of
   * the same job + grouping key, so one run's numbers never mix with the previous run's.
   */
  labels?: Record<string, string>;
  /** Metric name → value. Names come from metric-names.ts. */
  metrics: Record<string, RunMetricValue>;
  /** Defaults to SHOPDATA_PUSHGATEWAY_URL; when neither is set nothing is pushed. */
  url?: string | undefined;
  logger?: Logger | undefined;
  /** Default 5 s: the batch run is done, monitoring must not hold it up. */
  timeoutMs?: number;
}

export interface PushResult {
  pushed: boolean;
  /** The group's URL (credentials masked); absent when no Pushgateway is configured. */
  url?: string;
  error?: string;
}

/**
 * Pushes the metrics of a finished batch run (`backfill`, `vault check`) to a Prometheus
 * Pushgateway with PUT, replacing the group's previous values. Never throws: a run's exit code
 * reflects its data work, not the monitoring; a failed push is logged as a warning and returned.
 */
export async function pushRunMetrics(opts: PushRunMetricsOptions): Promise<PushResult> {
  const base = opts.url ?? process.env.SHOPDATA_PUSHGATEWAY_URL;
  if (!base) return { pushed: false };
  const url = groupUrl(base, opts.job, opts.labels ?? {});
  const shown = maskUrl(url);
  try {
    const body = await renderRunMetrics(opts.metrics);
    const res = await fetch(url, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
    });
    if (!res.ok)
      throw new Error(`${res.status} ${res.statusText}: ${(await res.text()).trim().slice(0, 300)}`);
    opts.logger?.debug(
      { 'event.action': 'metrics-push', 'url.full': shown, metrics: Object.keys(opts.metrics).length },
      'run metrics pushed',
    );
    return { pushed: true, url: shown };
  } catch (e) {
    const error = describe(e);
    opts.logger?.warn(
      {
        'event.action': 'metrics-push',
        'event.outcome': 'failure',
        'url.full': shown,
        'error.message': error,
      },
      `could not push run metrics to the Pushgateway (${error}); the run itself is unaffected — check SHOPDATA_PUSHGATEWAY_URL`,
    );
    return { pushed: false, url: shown, error };
  }
}

/** Deletes a job's group (tests, or an operator retiring a day). Throws on failure. */
export async function deleteRunMetrics(
  base: string,
  job: string,
  labels: Record<string, string> = {},
): Promise<void> {
  const res = await fetch(groupUrl(base, job, labels), {
    method: 'DELETE',
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`Pushgateway DELETE answered ${res.status} ${res.statusText}`);
}

/** The Prometheus text format of the run's metrics, all gauges (a run's value, not a running total). */
export async function renderRunMetrics(metrics: Record<string, RunMetricValue>): Promise<string> {
  const registry = new Registry();
  for (const [name, value] of Object.entries(metrics)) {
    if (typeof value === 'number') {
      new Gauge({ name, help: name, registers: [registry] }).set(value);
      continue;
    }
    const labelNames = [...new Set(value.series.flatMap((s) => Object.keys(s.labels)))];
    const g = new Gauge({ name, help: value.help ?? name, labelNames, registers: [registry] });
    for (const s of value.series) g.set(s.labels, s.value);
  }
  return registry.metrics();
}

/**
 * `<base>/metrics/job/<job>/<label>/<value>…`. Values with a slash, or empty ones, use the
 * Pushgateway's base64url form (`<label>@base64/<value>`), the only way it accepts them.
 */
export function groupUrl(base: string, job: string, labels: Record<string, string>): string {
  const seg = (name: string, v: string) =>
    v === '' || v.includes('/')
      ? `${name}@base64/${Buffer.from(v).toString('base64url') || '='}`
      : `${name}/${encodeURIComponent(v)}`;
  const parts = [seg('job', job), ...Object.entries(labels).map(([k, v]) => seg(k, v))];
  return `${base.replace(/\/+$/, '')}/metrics/${parts.join('/')}`;
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  if (e.name === 'TimeoutError') return 'no answer within the timeout';
  const code = (e as { cause?: { code?: string } }).cause?.code;
  return code ? `${e.message} (${code})` : e.message;
}
