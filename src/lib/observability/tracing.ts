import type { Attributes, AttributeValue, Context, Link } from '@opentelemetry/api';
import type { Logger } from '../log/index.js';
import type * as Otel from './otel.js';

/**
 * The one tracing API of shopdata: spans for stream batches, backfill days and steps, and vault
 * checks, exported over OTLP/HTTP to any collector (Jaeger, Tempo, an OTel Collector), with W3C
 * trace context read from Kafka headers (a producer's trace continues into the stream's batch)
 * and written to them (dead letters carry the batch's `traceparent`).
 *
 * On when `tracingEnabled()` says so, and then only after `startTracing()` (BaseCommand calls it).
 * Until then every helper here is a no-op that loads nothing of OpenTelemetry, so commands start
 * as fast without it. The OpenTelemetry code itself is in otel.ts, loaded on demand.
 */

/** The span names the code emits (and Jaeger, dashboards and tests look for). */
export const SPANS = {
  /** One batch of `stream`: a child of the first producer trace in its records, linked to the others. */
  streamBatch: 'stream.batch',
  /** The batch's vault insert (child of stream.batch). */
  streamInsert: 'stream.insert',
  /** The batch's dead letters (child of stream.batch); each dead letter carries its traceparent. */
  streamDeadLetter: 'stream.dead_letter',
  /** A `backfill` run, over all its days. */
  backfillRun: 'backfill.run',
  /** One day of a backfill (child of backfill.run). */
  backfillDay: 'backfill.day',
  /** One named step of a day: plan, lease, stage, verify, swap, ledger (child of backfill.day). */
  backfillStep: 'backfill.step',
  /** A `vault check` run. */
  checkRun: 'vault_check.run',
  /** One check (child of vault_check.run). */
  check: 'vault_check.check',
} as const;

/** OTel messaging semantic conventions for the Kafka side, shopdata.* for the rest. */
export const ATTRS = {
  messagingSystem: 'messaging.system',
  operationType: 'messaging.operation.type',
  destination: 'messaging.destination.name',
  partition: 'messaging.destination.partition.id',
  consumerGroup: 'messaging.consumer.group.name',
  batchCount: 'messaging.batch.message_count',
  offsetFirst: 'shopdata.kafka.offset.first',
  offsetLast: 'shopdata.kafka.offset.last',
  rows: 'shopdata.rows',
  tables: 'shopdata.tables',
  table: 'shopdata.table',
  day: 'shopdata.day',
  mode: 'shopdata.mode',
  step: 'shopdata.step',
  check: 'shopdata.check',
  violations: 'shopdata.violations',
  dlq: 'shopdata.dlq_events',
} as const;

/**
 * The one "is tracing on" check: an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), the OTLP exporter is chosen (OTEL_TRACES_EXPORTER unset or
 * listing `otlp`; `none` turns traces off) and the SDK is not disabled (OTEL_SDK_DISABLED).
 */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER || 'otlp').split(',').map((e) => e.trim().toLowerCase());
  if (!exporters.includes('otlp')) return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

export interface TracingHandle {
  /** True when spans are exported. */
  readonly enabled: boolean;
  /** Exports what is buffered. */
  flush(): Promise<void>;
  /** Exports what is buffered and turns tracing off; call before the process exits. */
  shutdown(): Promise<void>;
}

export interface StartTracingOptions {
  serviceVersion?: string | undefined;
  env?: NodeJS.ProcessEnv;
  logger?: Logger | undefined;
}

const DISABLED: TracingHandle = { enabled: false, flush: async () => {}, shutdown: async () => {} };

/** The OpenTelemetry side, once loaded: only when tracing is on. */
let otel: typeof Otel | undefined;
let started: TracingHandle | undefined;

async function loadOtel(): Promise<typeof Otel> {
  otel ??= await import('./otel.js');
  return otel;
}

/**
 * Starts exporting when `tracingEnabled(env)`; otherwise returns a disabled handle and loads
 * nothing. Idempotent.
 */
export async function startTracing(opts: StartTracingOptions = {}): Promise<TracingHandle> {
  if (started) return started;
  const env = opts.env ?? process.env;
  if (!tracingEnabled(env)) return DISABLED;
  const impl = await loadOtel();
  const handle = await impl.startProvider({ ...opts, env });
  started = {
    enabled: true,
    flush: () => handle.flush(),
    shutdown: async () => {
      started = undefined;
      otel = undefined;
      await handle.shutdown();
    },
  };
  return started;
}

/**
 * A pino mixin adding the active span's ECS `trace.id` and `span.id` to each log line, or
 * undefined when tracing is off (nothing loaded).
 */
export async function traceLogMixin(
  env: NodeJS.ProcessEnv = process.env,
): Promise<(() => object) | undefined> {
  return tracingEnabled(env) ? (await loadOtel()).traceLogFields : undefined;
}

/** Where a span starts: a parent context and links, e.g. from `batchParent`. Opaque outside. */
export interface SpanParent {
  context: Context;
  links: Link[];
}

export interface SpanOptions {
  attributes?: Attributes;
  kind?: 'internal' | 'consumer' | 'producer';
  /** Default: the active span (so nested withSpan calls build a tree). */
  parent?: SpanParent | undefined;
}

/** What code inside a span may do with it. */
export interface ActiveSpan {
  setAttribute(key: string, value: AttributeValue): void;
  setAttributes(attributes: Attributes): void;
}

const NOOP_SPAN: ActiveSpan = { setAttribute: () => undefined, setAttributes: () => undefined };

/**
 * Runs `fn` inside a new active span: spans started and lines logged inside `fn` belong to it. A
 * thrown error marks the span failed and is re-thrown. With tracing off, just runs `fn`.
 */
export async function withSpan<T>(
  name: string,
  opts: SpanOptions,
  fn: (span: ActiveSpan) => Promise<T> | T,
): Promise<T> {
  if (!started || !otel) return fn(NOOP_SPAN);
  return otel.withSpan(name, opts, fn);
}

/** Kafka headers as kafkajs gives them (values are Buffers, strings, or arrays of them). */
export type KafkaHeaders =
  Record<string, Buffer | string | Array<Buffer | string> | undefined> | undefined | null;

/**
 * Where a batch span belongs when its records carry trace context (`traceparent`, parsed by the
 * W3C propagator): the first traced record's trace becomes the parent, so a producer's trace
 * continues into the batch; every other distinct one becomes a link. Undefined without any (the
 * batch starts a new trace) and when tracing is off.
 */
export function batchParent(headersOfRecords: Iterable<KafkaHeaders>): SpanParent | undefined {
  if (!started || !otel) return undefined;
  return otel.batchParent(headersOfRecords);
}

/**
 * Writes the active span's trace context (`traceparent`, `tracestate`) into the headers of a
 * record we produce, replacing what was there. With tracing off the headers stay as they are.
 */
export function injectKafkaHeaders<H extends Record<string, unknown>>(headers: H): H {
  if (!started || !otel) return headers;
  return otel.injectKafkaHeaders(headers);
}
