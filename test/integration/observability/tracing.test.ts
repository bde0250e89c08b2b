import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { ports, stack, uniqueName } from '../../helpers/stack.js';
import { ATTRS, SPANS } from '../../../src/lib/observability/tracing.js';
import { DLQ_HEADERS } from '../../../src/lib/stream/dlq.js';
import { openLake } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';
import type { VaultDatabases } from '../../../src/lib/vault/tables.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { sampleChanges, DAY1, DAY2 } from '../../fixtures/lake/changes.js';
import {
  SALT as STREAM_SALT,
  createTopics,
  createVault as createStreamVault,
  deleteTopics,
  dropVault as dropStreamVault,
  encodeAll,
  makeChanges,
  namespace,
  poisonMessages,
  produce,
  readTopic,
  streamArgs,
  testKafka,
  type TestMessage,
} from '../stream/support.js';
import { SALT, createVault, dropVault, openServer } from '../backfill/helpers.js';

// `shopdata stream` and `shopdata backfill`, run as users run them, export their spans to the
// stack's Jaeger (scripts/stack/services/jaeger.sh) over OTLP/HTTP; the test reads them back from
// Jaeger's query API. Each run has its own service name, so runs never see each other's traces.

const JAEGER = `http://127.0.0.1:${ports.JAEGER_QUERY_PORT}`;
const OTLP = `http://127.0.0.1:${ports.JAEGER_OTLP_HTTP_PORT}`;

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; traceID: string; spanID: string }>;
  tags: Array<{ key: string; value: unknown }>;
  processID: string;
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

const tag = (s: JaegerSpan, key: string) => s.tags.find((t) => t.key === key)?.value;
const parentOf = (s: JaegerSpan) => s.references.find((r) => r.refType === 'CHILD_OF')?.spanID;

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function jaegerTrace(traceId: string, minSpans: number): Promise<JaegerTrace> {
  return eventually(`trace ${traceId} with ${minSpans} spans in Jaeger`, async () => {
    const res = await fetch(`${JAEGER}/api/traces/${traceId}`);
    if (!res.ok) return undefined;
    const t = ((await res.json()) as { data: JaegerTrace[] }).data[0];
    return t && t.spans.length >= minSpans ? t : undefined;
  });
}

async function tracesOf(service: string, operation: string, minSpans: number): Promise<JaegerTrace[]> {
  return eventually(`${operation} of ${service} in Jaeger`, async () => {
    const res = await fetch(
      `${JAEGER}/api/traces?service=${service}&operation=${encodeURIComponent(operation)}&limit=20`,
    );
    if (!res.ok) return undefined;
    const data = ((await res.json()) as { data: JaegerTrace[] }).data;
    return data.length > 0 && data.every((t) => t.spans.length >= minSpans) ? data : undefined;
  });
}

async function services(): Promise<string[]> {
  return ((await (await fetch(`${JAEGER}/api/services`)).json()) as { data: string[] | null }).data ?? [];
}

const otelEnv = (service: string) => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: OTLP,
  OTEL_SERVICE_NAME: service,
  OTEL_TRACES_EXPORTER: undefined,
  OTEL_SDK_DISABLED: undefined,
});

describe('stream spans in Jaeger', () => {
  const ns = namespace('otel');
  const kafka = testKafka();
  const users = ns.router.topicFor('users');
  const traceA = randomBytes(16).toString('hex');
  const spanA = randomBytes(8).toString('hex');
  const traceB = randomBytes(16).toString('hex');
  const spanB = randomBytes(8).toString('hex');
  let wh: Warehouse;

  beforeAll(async () => {
    wh = await createStreamVault(ns);
    await createTopics(kafka, ns.router.allTopics(), 1);
    await createTopics(kafka, [ns.dlqTopic], 1);
    const good = encodeAll(makeChanges(40, 7), ns.router).map((m): TestMessage => ({
      topic: m.topic,
      key: m.key,
      value: m.value,
    }));
    const onUsers = good.filter((m) => m.topic === users);
    const rest = good.filter((m) => m.topic !== users);
    const poison = poisonMessages(ns.router, `${ns.id}.nowhere`).find(
      (p) => p.topic === users && p.reason === 'not-an-envelope',
    )!;
    // One partition of `users`: the producer-traced record, the poison and a second traced record
    // arrive in one fetch, hence in one batch.
    await produce(kafka, [
      { ...onUsers[0]!, headers: { traceparent: `00-${traceA}-${spanA}-01` } },
      { topic: poison.topic, key: poison.key, value: poison.value },
      { ...onUsers[1]!, headers: { traceparent: `00-${traceB}-${spanB}-01` } },
      ...onUsers.slice(2),
      ...rest,
    ]);
  });

  afterAll(async () => {
    await deleteTopics(kafka, [...ns.router.allTopics(), ns.dlqTopic]);
    await dropStreamVault(wh, ns);
    await wh.close();
  });

  it("continues the producer's trace into stream.batch, stream.insert and stream.dead_letter; the dead letter and the logs carry it", async () => {
    const service = uniqueName('shopdata_stream');
    const res = await runCli(
      [
        'stream',
        ...streamArgs(ns, [
          '--until-idle',
          '--idle-ms',
          '1500',
          '--batch-size',
          '5000',
          '--log-level',
          'debug',
        ]),
      ],
      { env: { SHOPDATA_PII_SALT: STREAM_SALT, ...otelEnv(service) }, timeoutMs: 120_000 },
    );
    expect(res.code, res.stderr.slice(-3000)).toBe(0);

    const t = await jaegerTrace(traceA, 3);
    expect(t.processes[t.spans[0]!.processID]?.serviceName).toBe(service);
    const batch = t.spans.find((s) => s.operationName === SPANS.streamBatch)!;
    expect(batch).toBeDefined();
    expect(batch.references).toEqual(
      expect.arrayContaining([{ refType: 'CHILD_OF', traceID: traceA, spanID: spanA }]),
    );
    // The second producer's trace is linked, not lost.
    expect(batch.references).toEqual(
      expect.arrayContaining([{ refType: 'FOLLOWS_FROM', traceID: traceB, spanID: spanB }]),
    );
    expect(tag(batch, 'span.kind')).toBe('consumer');
    expect(tag(batch, ATTRS.messagingSystem)).toBe('kafka');
    expect(Number(tag(batch, ATTRS.dlq))).toBe(1);
    expect(Number(tag(batch, ATTRS.rows))).toBeGreaterThan(0);
    const insert = t.spans.find((s) => s.operationName === SPANS.streamInsert)!;
    const dead = t.spans.find((s) => s.operationName === SPANS.streamDeadLetter)!;
    expect(parentOf(insert)).toBe(batch.spanID);
    expect(parentOf(dead)).toBe(batch.spanID);
    expect(String(tag(insert, ATTRS.tables))).toContain('hub_user');

    // The dead letter names the span that rejected it, in the producer's trace.
    const [letter] = await readTopic(kafka, ns.dlqTopic, 1);
    expect(letter!.headers[DLQ_HEADERS.reason]).toBe('not-an-envelope');
    expect(letter!.headers.traceparent).toBe(`00-${traceA}-${dead.spanID}-01`);

    // Log lines written inside the batch span carry its ECS trace.id and span.id.
    const logged = res.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.message === 'batch loaded' && l['trace.id'] === traceA);
    expect(logged?.['span.id']).toBe(batch.spanID);
  });

  it('exports nothing with OTEL_TRACES_EXPORTER=none, though an endpoint is set', async () => {
    const service = uniqueName('shopdata_none');
    const res = await runCli(
      [
        'stream',
        ...streamArgs({ ...ns, group: `${ns.group}-none` }, [
          '--until-idle',
          '--idle-ms',
          '1000',
          '--log-level',
          'debug',
        ]),
        '--dry-run',
      ],
      {
        env: { SHOPDATA_PII_SALT: STREAM_SALT, ...otelEnv(service), OTEL_TRACES_EXPORTER: 'none' },
        timeoutMs: 120_000,
      },
    );
    expect(res.code, res.stderr.slice(-3000)).toBe(0);
    expect(res.stderr).not.toContain('"trace.id"');
    // A traced run's spans reach Jaeger within ~2 s (batch delay 1 s); give this one more.
    await new Promise((r) => setTimeout(r, 4000));
    expect(await services()).not.toContain(service);
  });
});

describe('backfill spans in Jaeger', () => {
  let wh: Warehouse;
  let dbs: VaultDatabases;
  let suffix: string;
  const lakeDir = mkdtempSync(join(tmpdir(), 'shopdata-otel-lake-'));

  beforeAll(async () => {
    wh = await openServer();
    suffix = uniqueName('otelbf');
    dbs = await createVault(wh, 'otelbf', suffix);
    const io = openLake(lakeDir);
    const changes = sampleChanges(12, 3);
    for (const t of SOURCE_TABLES) await writeChangelog(io, t, changes[t], { format: 'iceberg' });
    io.close();
  });

  afterAll(async () => {
    await dropVault(wh, dbs);
    await wh.close();
    rmSync(lakeDir, { recursive: true, force: true });
  });

  it('traces a run: backfill.run → a plan step per day, then one backfill.day per day → its named steps', async () => {
    const service = uniqueName('shopdata_backfill');
    const res = await runCli(
      [
        'backfill',
        '--date',
        DAY1,
        '--to',
        DAY2,
        '--mode',
        'push',
        '--lake',
        lakeDir,
        '--clickhouse-url',
        stack.clickhouseUrl,
        '--db-suffix',
        suffix,
        '--json',
      ],
      { env: { SHOPDATA_PII_SALT: SALT, ...otelEnv(service) }, timeoutMs: 120_000 },
    );
    expect(res.code, res.stdout + res.stderr.slice(-3000)).toBe(0);
    const result = JSON.parse(res.stdout) as {
      days: Array<{ day: string; vault: Record<string, { rows: number }> }>;
    };

    const [t] = await tracesOf(service, SPANS.backfillRun, 15);
    const run = t!.spans.find((s) => s.operationName === SPANS.backfillRun)!;
    expect(run.references).toEqual([]);
    expect(tag(run, ATTRS.mode)).toBe('push');
    // Every day is planned before any day changes anything.
    const plans = t!.spans.filter(
      (s) => s.operationName === SPANS.backfillStep && parentOf(s) === run.spanID,
    );
    expect(plans.map((s) => [tag(s, ATTRS.step), tag(s, ATTRS.day)])).toEqual(
      expect.arrayContaining([
        ['plan', DAY1],
        ['plan', DAY2],
      ]),
    );
    const days = t!.spans.filter((s) => s.operationName === SPANS.backfillDay);
    expect(days.map((d) => tag(d, ATTRS.day)).sort()).toEqual([DAY1, DAY2]);
    for (const d of days) {
      expect(parentOf(d)).toBe(run.spanID);
      const r = result.days.find((x) => x.day === tag(d, ATTRS.day))!;
      expect(Number(tag(d, ATTRS.rows))).toBe(Object.values(r.vault).reduce((a, v) => a + v.rows, 0));
      const steps = t!.spans.filter(
        (s) => s.operationName === SPANS.backfillStep && parentOf(s) === d.spanID,
      );
      const started = (s: JaegerSpan) => (s as JaegerSpan & { startTime: number }).startTime;
      expect(steps.sort((a, b) => started(a) - started(b)).map((s) => tag(s, ATTRS.step))).toEqual([
        'lease',
        'stage',
        'verify',
        'swap',
        'ledger',
      ]);
      expect(Math.max(...plans.map(started))).toBeLessThan(started(d));
    }
  });
});
