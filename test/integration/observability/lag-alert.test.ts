import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from '../../helpers/cli.js';
import { ports, stack, STACK_DIR } from '../../helpers/stack.js';
import { LagExporter } from '../../../src/lib/observability/lag-exporter.js';
import { LAG_METRICS } from '../../../src/lib/observability/metric-names.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import {
  SALT,
  createTopics,
  createVault,
  deleteTopics,
  dropVault,
  encodeAll,
  makeChanges,
  namespace,
  produce,
  streamArgs,
  testKafka,
} from '../stream/support.js';

// The live alert path: the real `shopdata stream` (built CLI) on the real Kafka, the lag exporter
// scraped by the stack's real Prometheus (file_sd target), and the rules of
// templates/prometheus/shopdata.rules.yml. With the stream stopped and events arriving (produced
// with timestamps 10 minutes old, so the lag in seconds is over the 5-minute threshold at once),
// ShopdataConsumerLagHigh goes pending, then firing after its `for: 1m`; after `stream` catches up
// it resolves. Takes ~1.5 min, mostly waiting for `for:`.
const ns = namespace('obslag');
const kafka = testKafka();
const sellers = makeChanges(400, 7).filter((c) => c.table === 'sellers');
const topic = ns.router.topicFor('sellers');
const targetFile = `${STACK_DIR}/prometheus/targets/${ns.id}.json`;
const JAEGER = `http://127.0.0.1:${ports.JAEGER_QUERY_PORT}`;
const producerTraceId = randomBytes(16).toString('hex');
const producerSpanId = randomBytes(8).toString('hex');
let wh: Warehouse;
let exporter: LagExporter;

interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  value: string;
}

async function lagAlert(): Promise<PromAlert | undefined> {
  const res = await fetch(`${stack.prometheusUrl}/api/v1/alerts`);
  const alerts = ((await res.json()) as { data: { alerts: PromAlert[] } }).data.alerts;
  return alerts.find((a) => a.labels.alertname === 'ShopdataConsumerLagHigh' && a.labels.group === ns.group);
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(1000);
  }
}

async function runStream(env: Record<string, string> = {}) {
  const r = await runCli(
    ['stream', ...streamArgs(ns, ['--topics', topic, '--until-idle', '--idle-ms', '500'])],
    {
      env: { SHOPDATA_PII_SALT: SALT, OTEL_EXPORTER_OTLP_ENDPOINT: undefined, ...env },
    },
  );
  expect(r.code, r.stderr.slice(-2000)).toBe(0);
  return r;
}

beforeAll(async () => {
  expect(sellers.length).toBeGreaterThanOrEqual(20);
  wh = await createVault(ns);
  await createTopics(kafka, [topic], 1);
  // The stack's Prometheus reads templates/prometheus/*.rules.yml at start and on reload.
  const rules = (await (await fetch(`${stack.prometheusUrl}/api/v1/rules`)).json()) as {
    data: { groups: Array<{ rules: Array<{ name: string }> }> };
  };
  if (!rules.data.groups.some((g) => g.rules.some((r) => r.name === 'ShopdataConsumerLagHigh'))) {
    expect((await fetch(`${stack.prometheusUrl}/-/reload`, { method: 'POST' })).ok).toBe(true);
  }
});

afterAll(async () => {
  rmSync(targetFile, { force: true });
  await exporter?.close();
  await deleteTopics(kafka, [topic]);
  if (wh) {
    await dropVault(wh, ns);
    await wh.close();
  }
});

describe('lag alert on the real Prometheus with the real stream', () => {
  it('a stream batch from Kafka continues the producer trace (traceparent header) in Jaeger', async () => {
    // The first events carry a producer's trace context; the stream runs with OTLP export on.
    const first = encodeAll(sellers.slice(0, 10), ns.router).map((m, i) =>
      i === 0 ? { ...m, headers: { traceparent: `00-${producerTraceId}-${producerSpanId}-01` } } : m,
    );
    await produce(kafka, first);
    await runStream({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.JAEGER_OTLP_HTTP_PORT}`,
      OTEL_SERVICE_NAME: `shopdata-${ns.id}`,
    });
    const trace = await until('batch trace in Jaeger', 20_000, async () => {
      const res = await fetch(`${JAEGER}/api/traces/${producerTraceId}`);
      if (!res.ok) return undefined;
      return (
        (await res.json()) as {
          data: Array<{
            spans: Array<{
              operationName: string;
              references: unknown[];
              tags: Array<{ key: string; value: unknown }>;
            }>;
          }>;
        }
      ).data[0];
    });
    const batch = trace.spans.find((s) => s.operationName === 'stream.batch');
    // The first traced record is the parent; other traced records (encodeAll adds some) are links.
    expect(batch?.references.filter((r) => (r as { refType: string }).refType === 'CHILD_OF')).toEqual([
      { refType: 'CHILD_OF', traceID: producerTraceId, spanID: producerSpanId },
    ]);
    const tags = Object.fromEntries(batch!.tags.map((t) => [t.key, t.value]));
    expect(tags).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.batch.message_count': first.length,
    });
    expect(String(tags['messaging.destination.name'])).toContain(topic);
    expect(Number(tags['shopdata.rows'])).toBeGreaterThan(0);
    expect(String(tags['shopdata.tables'])).toContain('hub_seller');
  });

  it('fires ShopdataConsumerLagHigh while the stream is stopped and events wait, and resolves after it catches up', async () => {
    exporter = new LagExporter({ kafka, groups: [ns.group], intervalMs: 2000 });
    const port = await exporter.serve(0, '127.0.0.1');
    exporter.start();
    mkdirSync(`${STACK_DIR}/prometheus/targets`, { recursive: true });
    writeFileSync(targetFile, JSON.stringify([{ targets: [`127.0.0.1:${port}`], labels: { test: ns.id } }]));

    // Caught up: scraped lag 0 for our group.
    await until('lag 0 scraped', 30_000, async () => {
      const r = (await (
        await fetch(
          `${stack.prometheusUrl}/api/v1/query?query=${encodeURIComponent(`${LAG_METRICS.lagSeconds}{group="${ns.group}"}`)}`,
        )
      ).json()) as {
        data: { result: Array<{ value: [number, string] }> };
      };
      return r.data.result[0]?.value[1] === '0' ? true : undefined;
    });
    expect(await lagAlert()).toBeUndefined();

    // Stream stopped; events arrive, produced 10 minutes ago as far as their timestamps go.
    const producer = kafka.producer();
    await producer.connect();
    const old = String(Date.now() - 600_000);
    const late = encodeAll(sellers.slice(10), ns.router).map((m) => ({
      key: m.key,
      value: m.value,
      timestamp: old,
    }));
    await producer.send({ topic, messages: late });
    await producer.disconnect();

    const pendingAt = Date.now();
    const pending = await until('alert pending', 30_000, lagAlert);
    expect(pending.labels).toMatchObject({
      alertname: 'ShopdataConsumerLagHigh',
      group: ns.group,
      topic,
      severity: 'warning',
    });
    expect(Number(pending.value)).toBeGreaterThan(300);
    const firing = await until('alert firing', 120_000, async () =>
      (await lagAlert())?.state === 'firing' ? lagAlert() : undefined,
    );
    expect(firing!.state).toBe('firing');
    // `for: 1m` held it back for about a minute.
    expect(Date.now() - pendingAt).toBeGreaterThanOrEqual(55_000);

    // The stream catches up: lag 0 is scraped within seconds and the alert resolves.
    const r = await runStream();
    expect(r.stdout).toMatch(new RegExp(`^${late.length} events`));
    await until('alert resolved', 60_000, async () => ((await lagAlert()) === undefined ? true : undefined));
  });
});
