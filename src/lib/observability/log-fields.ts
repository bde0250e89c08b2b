import { context, trace } from '@opentelemetry/api';

/**
 * ECS trace fields of the active span, as a pino `mixin`: log lines written inside a span carry
 * `trace.id` and `span.id`, which Kibana and Grafana use to jump from a log line to its trace.
 * Imports only @opentelemetry/api (no SDK), so the logger stays cheap when tracing is off; outside
 * a span (or with tracing off and no incoming context) it adds nothing.
 */
export function traceLogFields(): { 'trace.id'?: string; 'span.id'?: string } {
  const sc = trace.getSpanContext(context.active());
  if (!sc || !trace.isSpanContextValid(sc)) return {};
  return { 'trace.id': sc.traceId, 'span.id': sc.spanId };
}

/** ECS `event.outcome` and `event.duration` (nanoseconds) for a finished unit of work. */
export function eventOutcome(
  ok: boolean,
  startedAtMs: number,
  now: number = Date.now(),
): { 'event.outcome': 'success' | 'failure'; 'event.duration': number } {
  return {
    'event.outcome': ok ? 'success' : 'failure',
    'event.duration': Math.max(0, Math.round((now - startedAtMs) * 1e6)),
  };
}

/** ECS field sets whose name must never be a plain top-level value (they are objects in ECS). */
export const ECS_FIELD_SETS = [
  'agent',
  'as',
  'client',
  'cloud',
  'code_signature',
  'container',
  'data_stream',
  'destination',
  'device',
  'dll',
  'dns',
  'ecs',
  'email',
  'error',
  'event',
  'faas',
  'file',
  'geo',
  'group',
  'hash',
  'host',
  'http',
  'interface',
  'log',
  'network',
  'observer',
  'orchestrator',
  'organization',
  'os',
  'package',
  'pe',
  'process',
  'registry',
  'related',
  'rule',
  'server',
  'service',
  'source',
  'span',
  'threat',
  'tls',
  'trace',
  'transaction',
  'url',
  'user',
  'user_agent',
  'vlan',
  'vulnerability',
  'x509',
] as const;
