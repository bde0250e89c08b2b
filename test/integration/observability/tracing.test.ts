import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { ports, stack, uniqueName } from '../../helpers/stack.js';
import {
  ATTRS,
  SPANS,
  batchParent,
  injectKafkaHeaders,
  startTracing,
  withSpan,
  type TracingHandle,
} from '../../../src/lib/observability/tracing.js';
import { traceLogFields } from '../../../src/lib/observability/log-fields.js';
import { createTopicsReady } from '../../helpers/kafka.js';

// The tracing helpers against the real Kafka and the real Jaeger of the stack (scripts/stack/services/jaeger.sh).
// `shopdata stream` does not exist yet, so this test plays its batch loop with the helpers it will
// call; once it exists, test/integration/observability/stream-traces.test.ts should run the CLI.
const JAEGER = `http://127.0.0.1:${ports.JAEGER_QUERY_PORT}`;
const service = uniqueName('shopdata_trace');
const topic = uniqueName('obs_trace');
const kafka = new Kafka({
  clientId: 'obs-trace-test',
  brokers: [...stack.kafkaBrokers],
  logLevel: logLevel.NOTHING,
});
let tracing: TracingHandle;

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

beforeAll(async () => {
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${ports.JAEGER_OTLP_HTTP_PORT}`;
  process.env.OTEL_SERVICE_NAME = service;
  tracing = await startTracing();
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsReady(admin, [{ topic, numPartitions: 1 }]);
  await admin.disconnect();
});

afterAll(async () => {
  await tracing?.shutdown();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

async function jaegerTrace(traceId: string, minSpans: number): Promise<JaegerTrace> {
  const end = Date.now() + 20_000;
  for (;;) {
    const res = await fetch(`${JAEGER}/api/traces/${traceId}`);
    if (res.ok) {
      const t = ((await res.json()) as { data: JaegerTrace[] }).data[0];
      if (t && t.spans.length >= minSpans) return t;
    }
    if (Date.now() > end) throw new Error(`trace ${traceId} did not reach Jaeger with ${minSpans} spans`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const tag = (s: JaegerSpan, key: string) => s.tags.find((t) => t.key === key)?.value;

describe('tracing helpers → OTLP → Jaeger', () => {
  it('continues a producer trace from the Kafka traceparent header into the batch span and its children', async () => {
    // An upstream producer (another service) started this trace; its span id is the batch's parent.
    const producerTraceId = randomBytes(16).toString('hex');
    const producerSpanId = randomBytes(8).toString('hex');
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        {
          key: '{"id":1}',
          value: '{"op":"c"}',
          headers: { traceparent: `00-${producerTraceId}-${producerSpanId}-01` },
        },
        { key: '{"id":2}', value: '{"op":"c"}' },
        {
          key: '{"id":3}',
          value: '{"op":"u"}',
          headers: {
            traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
          },
        },
      ],
    });
    await producer.disconnect();

    const logLines: string[] = [];
    const logger = pino(
      { base: undefined, mixin: traceLogFields, messageKey: 'message' },
      new Writable({ write: (chunk: Buffer, _e, cb) => (logLines.push(chunk.toString()), cb()) }),
    );

    const consumer = kafka.consumer({ groupId: uniqueName('obs_trace_group') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let batchTraceId = '';
    let dlqHeaders: Record<string, string | Buffer> = {};
    await new Promise<void>((resolve, reject) => {
      void consumer
        .run({
          eachBatch: async ({ batch }) => {
            const { parent, links } = batchParent(batch.messages.map((m) => m.headers));
            await withSpan(
              SPANS.streamBatch,
              {
                parent,
                links,
                attributes: {
                  [ATTRS.messagingSystem]: 'kafka',
                  [ATTRS.destination]: batch.topic,
                  [ATTRS.partition]: String(batch.partition),
                  [ATTRS.batchCount]: batch.messages.length,
                  [ATTRS.offsetFirst]: Number(batch.firstOffset()),
                  [ATTRS.offsetLast]: Number(batch.lastOffset()),
                },
              },
              async (span) => {
                batchTraceId = span.spanContext().traceId;
                logger.info('batch started');
                await withSpan(
                  SPANS.streamDecode,
                  { attributes: { [ATTRS.rows]: batch.messages.length } },
                  async () => undefined,
                );
                await withSpan(
                  SPANS.streamInsert,
                  { attributes: { [ATTRS.tables]: ['hub_user', 'sat_user'], [ATTRS.rows]: 4 } },
                  async () => undefined,
                );
                // A record set aside carries the batch's context on to the DLQ.
                dlqHeaders = injectKafkaHeaders({});
                await expect(
                  withSpan(SPANS.streamCommit, {}, async () => Promise.reject(new Error('commit refused'))),
                ).rejects.toThrow('commit refused');
              },
            );
            resolve();
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    await tracing.flush();

    expect(batchTraceId).toBe(producerTraceId);
    const t = await jaegerTrace(producerTraceId, 4);
    expect(t.processes[t.spans[0]!.processID]?.serviceName).toBe(service);
    const byName = Object.fromEntries(t.spans.map((s) => [s.operationName, s]));
    const batchSpan = byName[SPANS.streamBatch]!;
    expect(batchSpan.references).toEqual(
      expect.arrayContaining([{ refType: 'CHILD_OF', traceID: producerTraceId, spanID: producerSpanId }]),
    );
    // The third record's producer trace is linked, not lost.
    expect(batchSpan.references.filter((r) => r.refType === 'FOLLOWS_FROM')).toHaveLength(1);
    expect(tag(batchSpan, ATTRS.destination)).toBe(topic);
    expect(tag(batchSpan, ATTRS.partition)).toBe('0');
    expect(tag(batchSpan, ATTRS.batchCount)).toBe(3);
    expect(tag(batchSpan, ATTRS.offsetFirst)).toBe(0);
    expect(tag(batchSpan, ATTRS.offsetLast)).toBe(2);
    for (const child of [SPANS.streamDecode, SPANS.streamInsert, SPANS.streamCommit]) {
      expect(byName[child]?.references).toEqual([
        { refType: 'CHILD_OF', traceID: producerTraceId, spanID: batchSpan.spanID },
      ]);
    }
    expect(tag(byName[SPANS.streamInsert]!, ATTRS.rows)).toBe(4);
    expect(tag(byName[SPANS.streamCommit]!, 'otel.status_code')).toBe('ERROR');
    expect(tag(byName[SPANS.streamCommit]!, 'error')).toBe(true);

    expect(String(dlqHeaders.traceparent)).toMatch(
      new RegExp(`^00-${producerTraceId}-${batchSpan.spanID}-01$`),
    );
    const logged = JSON.parse(logLines[0]!) as Record<string, unknown>;
    expect(logged).toMatchObject({ 'trace.id': producerTraceId, 'span.id': batchSpan.spanID });
  });

  it('starts a new trace for a batch without trace context, and a backfill run nests its days and steps', async () => {
    const { parent, links } = batchParent([undefined, { other: 'x' }]);
    expect(links).toEqual([]);
    let traceId = '';
    await withSpan(SPANS.backfillRun, { parent, attributes: { [ATTRS.day]: '2026-11-24' } }, async (run) => {
      traceId = run.spanContext().traceId;
      await withSpan(SPANS.backfillDay, { attributes: { [ATTRS.day]: '2026-11-24' } }, async () => {
        for (const step of ['read-lake', 'stage', 'swap-partitions']) {
          await withSpan(
            SPANS.backfillStep,
            { attributes: { [ATTRS.step]: step, [ATTRS.rows]: 10 } },
            async () => new Promise((r) => setTimeout(r, 5)),
          );
        }
      });
    });
    await tracing.flush();
    const t = await jaegerTrace(traceId, 5);
    const run = t.spans.find((s) => s.operationName === SPANS.backfillRun)!;
    expect(run.references).toEqual([]);
    const day = t.spans.find((s) => s.operationName === SPANS.backfillDay)!;
    expect(day.references[0]).toMatchObject({ refType: 'CHILD_OF', spanID: run.spanID });
    const steps = t.spans.filter((s) => s.operationName === SPANS.backfillStep);
    expect(steps.map((s) => tag(s, ATTRS.step)).sort()).toEqual(['read-lake', 'stage', 'swap-partitions']);
    for (const s of steps) expect(s.references[0]).toMatchObject({ refType: 'CHILD_OF', spanID: day.spanID });
    // Jaeger lists the service, so its UI/API can find these traces by name.
    const services = ((await (await fetch(`${JAEGER}/api/services`)).json()) as { data: string[] }).data;
    expect(services).toContain(service);
  });
});
