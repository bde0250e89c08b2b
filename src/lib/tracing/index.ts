import type { Logger } from '../log/index.js';

/**
 * OpenTelemetry tracing for the stream: one span per batch, continuing the W3C trace context that
 * producers put into Kafka headers (`traceparent`). Enabled only when OTEL_EXPORTER_OTLP_ENDPOINT
 * (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; otherwise nothing of OpenTelemetry is even loaded.
 */

export type AttributeValue = string | number | boolean | string[] | number[];

export interface BatchSpan {
  /** Ends the span with the batch's attributes; an error marks it failed. */
  end(attributes: Record<string, AttributeValue>, error?: Error): void;
}

export interface BatchTracer {
  readonly enabled: boolean;
  /**
   * Starts a span whose parent is the first valid `traceparent` and which links to the other
   * distinct ones (a batch gathers messages from many traces).
   */
  startBatch(name: string, traceparents: readonly string[]): BatchSpan;
  /** Exports what is pending; call before exit. */
  shutdown(): Promise<void>;
}

export interface TraceContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

/** Parses a W3C `traceparent` header value; null when absent or invalid (per the spec's rules). */
export function parseTraceparent(value: string | Buffer | undefined | null): TraceContext | null {
  if (value === undefined || value === null) return null;
  const text = (Buffer.isBuffer(value) ? value.toString('latin1') : value).trim().toLowerCase();
  const m = TRACEPARENT_RE.exec(text);
  if (!m) return null;
  const [, version, traceId, spanId, flags] = m as unknown as [string, string, string, string, string];
  if (version === 'ff') return null;
  if (version === '00' && text.length !== 55) return null;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return null;
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) };
}

const NOOP_SPAN: BatchSpan = { end: () => undefined };

export const noopTracer: BatchTracer = {
  enabled: false,
  startBatch: () => NOOP_SPAN,
  shutdown: async () => undefined,
};

const MAX_LINKS = 32;

/** The tracer for this process: OTLP/HTTP export when the endpoint variable is set, else a no-op. */
export async function createBatchTracer(
  env: NodeJS.ProcessEnv = process.env,
  logger?: Logger,
  serviceName = 'shopdata-stream',
): Promise<BatchTracer> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return noopTracer;
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return noopTracer;

  // One provider per process: the shared one (observability/tracing.ts), which BaseCommand may
  // already have started; startTracing is idempotent.
  const [api, observability] = await Promise.all([
    import('@opentelemetry/api'),
    import('../observability/tracing.js'),
  ]);
  const handle = await observability.startTracing({ env, logger });
  const tracer = api.trace.getTracer(serviceName);
  logger?.info(
    { endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT },
    'tracing: exporting batch spans over OTLP/HTTP',
  );

  const toSpanContext = (c: TraceContext) => ({
    traceId: c.traceId,
    spanId: c.spanId,
    traceFlags: c.traceFlags,
    isRemote: true,
  });

  return {
    enabled: true,
    startBatch(name, traceparents) {
      const seen = new Set<string>();
      const contexts: TraceContext[] = [];
      for (const tp of traceparents) {
        const c = parseTraceparent(tp);
        if (!c || seen.has(c.spanId)) continue;
        seen.add(c.spanId);
        contexts.push(c);
        if (contexts.length > MAX_LINKS) break;
      }
      const [parent, ...others] = contexts;
      const ctx = parent
        ? api.trace.setSpanContext(api.ROOT_CONTEXT, toSpanContext(parent))
        : api.ROOT_CONTEXT;
      const span = tracer.startSpan(
        name,
        {
          kind: api.SpanKind.CONSUMER,
          attributes: { 'messaging.system': 'kafka', 'messaging.operation.type': 'process' },
          links: others.map((c) => ({ context: toSpanContext(c) })),
        },
        ctx,
      );
      return {
        end(attributes, error) {
          span.setAttributes(attributes);
          if (error) {
            span.recordException(error);
            span.setStatus({ code: api.SpanStatusCode.ERROR, message: error.message });
          }
          span.end();
        },
      };
    },
    async shutdown() {
      await handle.shutdown();
    },
  };
}
