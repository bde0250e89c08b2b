import {
  context,
  propagation,
  trace,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Logger } from '../log/index.js';

/**
 * OpenTelemetry tracing for shopdata commands: spans for stream batches, backfill steps and checks,
 * exported over OTLP/HTTP to any collector (Jaeger, Tempo, an OTel Collector), with W3C trace
 * context read from and written to Kafka headers.
 *
 * Off unless OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (standard
 * OTel variables; OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS, OTEL_SDK_DISABLED apply too).
 * When off, the helpers below still run the code and propagate an incoming `traceparent` (as
 * non-recording spans), so a producer's trace id survives into the DLQ headers.
 */

export const TRACER_NAME = 'shopdata';

/** Span and attribute names the dashboards and tests rely on. */
export const SPANS = {
  streamBatch: 'stream.batch',
  streamDecode: 'stream.decode',
  streamInsert: 'stream.insert',
  streamCommit: 'stream.commit',
  backfillRun: 'backfill.run',
  backfillDay: 'backfill.day',
  backfillStep: 'backfill.step',
  checkRun: 'vault_check.run',
  check: 'vault_check.check',
} as const;

/** OTel messaging semantic conventions for the Kafka side, shopdata.* for the rest. */
export const ATTRS = {
  messagingSystem: 'messaging.system',
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
  step: 'shopdata.step',
  check: 'shopdata.check',
  violations: 'shopdata.violations',
  dlq: 'shopdata.dlq_events',
} as const;

export interface TracingHandle {
  /** True when spans are exported. */
  readonly enabled: boolean;
  /** Exports what is buffered; call before the process exits (BaseCommand's finally). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface StartTracingOptions {
  serviceVersion?: string | undefined;
  env?: NodeJS.ProcessEnv;
  logger?: Logger | undefined;
}

let active: TracingHandle | undefined;

/** True when the environment asks for traces to be exported. */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return !!(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/**
 * Installs context propagation (always) and, when requested, an OTLP/HTTP exporting tracer
 * provider. Idempotent. The SDK and exporter are imported only when exporting is on, so commands
 * start as fast as before when tracing is off.
 */
export async function startTracing(opts: StartTracingOptions = {}): Promise<TracingHandle> {
  if (active) return active;
  installPropagation();
  const env = opts.env ?? process.env;
  if (!tracingRequested(env)) {
    active = { enabled: false, flush: async () => {}, shutdown: async () => {} };
    return active;
  }
  const [
    { TracerProvider, BatchSpanProcessor, ParentBasedSampler, AlwaysOnSampler },
    { OTLPTraceExporter },
    { resourceFromAttributes },
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  // The exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT/HEADERS itself (…/v1/traces appended to the base endpoint).
  const exporter = new OTLPTraceExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME || 'shopdata',
      ...(opts.serviceVersion ? { 'service.version': opts.serviceVersion } : {}),
      'process.pid': process.pid,
    }),
    // Keep a producer's sampling decision; sample everything we start ourselves.
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 1000 })],
  });
  trace.setGlobalTracerProvider(provider);
  opts.logger?.debug(
    {
      'event.action': 'tracing-start',
      'url.full': env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT,
    },
    'exporting traces over OTLP/HTTP',
  );
  const handle: TracingHandle = {
    enabled: true,
    flush: () => provider.forceFlush(),
    shutdown: async () => {
      try {
        await provider.shutdown();
      } catch (e) {
        // A collector that is down must not change the command's outcome.
        opts.logger?.warn(
          { 'event.action': 'tracing-shutdown', 'error.message': (e as Error).message },
          'could not export the last spans',
        );
      } finally {
        trace.disable();
        active = undefined;
      }
    },
  };
  active = handle;
  return handle;
}

let propagationInstalled = false;
function installPropagation(): void {
  if (propagationInstalled) return;
  propagationInstalled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

export function tracer() {
  return trace.getTracer(TRACER_NAME);
}

export interface SpanOptions {
  attributes?: Attributes;
  kind?: SpanKind;
  /** Parent context, e.g. from `contextFromKafkaHeaders`; default: the active context. */
  parent?: Context;
  links?: Link[];
}

/**
 * Runs `fn` inside a new active span: child spans and log lines (`trace.id`, `span.id`) inside
 * `fn` refer to it. A thrown error marks the span failed and is re-thrown.
 */
export async function withSpan<T>(
  name: string,
  opts: SpanOptions,
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  installPropagation();
  const parent = opts.parent ?? context.active();
  return tracer().startActiveSpan(
    name,
    { kind: opts.kind ?? SpanKind.INTERNAL, attributes: opts.attributes ?? {}, links: opts.links ?? [] },
    parent,
    async (span) => {
      try {
        const result = await fn(span);
        span.setStatus({ code: SpanStatusCode.OK });
        return result;
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        span.recordException(err);
        span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
        throw e;
      } finally {
        span.end();
      }
    },
  );
}

/** Kafka headers as kafkajs gives them (values are Buffers, strings, or arrays of them). */
export type KafkaHeaders =
  Record<string, Buffer | string | Array<Buffer | string> | undefined> | undefined | null;

const kafkaGetter: TextMapGetter<KafkaHeaders> = {
  keys: (carrier) => Object.keys(carrier ?? {}),
  get: (carrier, key) => {
    if (!carrier) return undefined;
    // Header names are case-sensitive in Kafka; producers write `traceparent`, some `Traceparent`.
    const name = Object.keys(carrier).find((k) => k.toLowerCase() === key);
    const v = name === undefined ? undefined : carrier[name];
    if (v === undefined) return undefined;
    const first = Array.isArray(v) ? v[0] : v;
    return first === undefined ? undefined : first.toString();
  },
};

const kafkaSetter: TextMapSetter<Record<string, string | Buffer>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** The trace context a producer put in a record's headers (`traceparent`, `tracestate`). */
export function contextFromKafkaHeaders(headers: KafkaHeaders, base: Context = ROOT_CONTEXT): Context {
  installPropagation();
  return propagation.extract(base, headers, kafkaGetter);
}

/** Writes the active (or given) trace context into headers for a record we produce (DLQ, tests). */
export function injectKafkaHeaders(
  headers: Record<string, string | Buffer> = {},
  ctx: Context = context.active(),
): Record<string, string | Buffer> {
  installPropagation();
  propagation.inject(ctx, headers, kafkaSetter);
  return headers;
}

/**
 * Where a batch span belongs when its records carry trace context: the first traced record's
 * trace becomes the parent (so a producer's trace continues into the batch), every other distinct
 * traced record becomes a link. Without any, the batch starts a new trace.
 */
export function batchParent(headersOfRecords: Iterable<KafkaHeaders>): { parent: Context; links: Link[] } {
  let parent: Context = ROOT_CONTEXT;
  let parentSpan: SpanContext | undefined;
  const links: Link[] = [];
  const seen = new Set<string>();
  for (const h of headersOfRecords) {
    const ctx = contextFromKafkaHeaders(h);
    const sc = trace.getSpanContext(ctx);
    if (!sc || !trace.isSpanContextValid(sc)) continue;
    const key = `${sc.traceId}/${sc.spanId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (!parentSpan) {
      parentSpan = sc;
      parent = ctx;
    } else if (links.length < 128) {
      links.push({ context: sc });
    }
  }
  return { parent, links };
}

export { traceLogFields } from './log-fields.js';
