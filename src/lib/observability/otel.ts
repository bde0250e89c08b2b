import {
  context,
  propagation,
  trace,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type Context,
  type Link,
  type SpanContext,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { ActiveSpan, KafkaHeaders, SpanOptions, SpanParent, StartTracingOptions } from './tracing.js';

/**
 * The OpenTelemetry side of tracing.ts, loaded only when tracing is on. The W3C propagator of
 * @opentelemetry/core reads and writes `traceparent`/`tracestate`; the SDK and the OTLP/HTTP
 * exporter are loaded by startProvider. Nothing outside observability/ imports this file.
 */

const TRACER_NAME = 'shopdata';

const KINDS = { internal: SpanKind.INTERNAL, consumer: SpanKind.CONSUMER, producer: SpanKind.PRODUCER };

let propagationInstalled = false;
function installPropagation(): void {
  if (propagationInstalled) return;
  propagationInstalled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

/** A tracer provider exporting over OTLP/HTTP; the exporter reads the OTEL_EXPORTER_OTLP_* variables itself. */
export async function startProvider(
  opts: StartTracingOptions & { env: NodeJS.ProcessEnv },
): Promise<{ flush(): Promise<void>; shutdown(): Promise<void> }> {
  installPropagation();
  const { env, logger } = opts;
  const [
    { TracerProvider, BatchSpanProcessor, ParentBasedSampler, AlwaysOnSampler },
    { OTLPTraceExporter },
    { resourceFromAttributes },
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME || 'shopdata',
      ...(opts.serviceVersion ? { 'service.version': opts.serviceVersion } : {}),
      'process.pid': process.pid,
    }),
    // Keep a producer's sampling decision; sample everything we start ourselves.
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [
      new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), scheduledDelayMillis: 1000 }),
    ],
  });
  trace.setGlobalTracerProvider(provider);
  logger?.debug(
    {
      'event.action': 'tracing-start',
      'url.full': env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT,
    },
    'exporting traces over OTLP/HTTP',
  );
  return {
    flush: () => provider.forceFlush(),
    shutdown: async () => {
      try {
        await provider.shutdown();
      } catch (e) {
        // A collector that is down must not change the command's outcome.
        logger?.warn(
          { 'event.action': 'tracing-shutdown', 'error.message': (e as Error).message },
          'could not export the last spans',
        );
      } finally {
        trace.disable();
      }
    },
  };
}

export async function withSpan<T>(
  name: string,
  opts: SpanOptions,
  fn: (span: ActiveSpan) => Promise<T> | T,
): Promise<T> {
  return trace.getTracer(TRACER_NAME).startActiveSpan(
    name,
    {
      kind: KINDS[opts.kind ?? 'internal'],
      attributes: opts.attributes ?? {},
      links: opts.parent?.links ?? [],
    },
    opts.parent?.context ?? context.active(),
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

const kafkaSetter: TextMapSetter<Record<string, unknown>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

const MAX_LINKS = 128;

export function batchParent(headersOfRecords: Iterable<KafkaHeaders>): SpanParent | undefined {
  let parent: Context | undefined;
  const links: Link[] = [];
  const seen = new Set<string>();
  for (const h of headersOfRecords) {
    const ctx = propagation.extract(ROOT_CONTEXT, h, kafkaGetter);
    const sc: SpanContext | undefined = trace.getSpanContext(ctx);
    if (!sc || !trace.isSpanContextValid(sc)) continue;
    const key = `${sc.traceId}/${sc.spanId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (!parent) parent = ctx;
    else if (links.length < MAX_LINKS) links.push({ context: sc });
  }
  return parent ? { context: parent, links } : undefined;
}

export function injectKafkaHeaders<H extends Record<string, unknown>>(headers: H): H {
  const sc = trace.getSpanContext(context.active());
  if (!sc || !trace.isSpanContextValid(sc)) return headers;
  // Our span replaces a producer's context that the record carried (a case-variant name too).
  for (const k of Object.keys(headers))
    if (k.toLowerCase() === 'traceparent' || k.toLowerCase() === 'tracestate') delete headers[k];
  propagation.inject(context.active(), headers, kafkaSetter);
  return headers;
}

/**
 * ECS trace fields of the active span, as a pino `mixin`: log lines written inside a span carry
 * `trace.id` and `span.id`, which Kibana and Grafana use to jump from a log line to its trace.
 */
export function traceLogFields(): { 'trace.id'?: string; 'span.id'?: string } {
  const sc = trace.getSpanContext(context.active());
  if (!sc || !trace.isSpanContextValid(sc)) return {};
  return { 'trace.id': sc.traceId, 'span.id': sc.spanId };
}
