import { pino, type Logger, type LevelWithSilent } from 'pino';
import { createRequire } from 'node:module';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Human-readable lines; default: when stderr is a TTY. JSON (ECS fields) otherwise. */
  pretty?: boolean;
  /** Defaults to stderr (fd 2): results go to stdout, logs never do. */
  destination?: number | NodeJS.WritableStream;
  command?: string;
  /** Extra fields per line, e.g. the active span's `trace.id`/`span.id` when tracing is on. */
  mixin?: () => object;
}

/**
 * pino with Elastic Common Schema field names (`@timestamp`, `log.level`, `message`,
 * `service.name`) so Filebeat/Logstash ingest the lines as they are.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? ((process.env.SHOPDATA_LOG_LEVEL as LevelWithSilent | undefined) || 'info');
  const destination = opts.destination ?? 2;
  const pretty = opts.pretty ?? (destination === 2 && process.stderr.isTTY === true);
  const base = {
    'service.name': 'shopdata',
    'process.pid': process.pid,
    ...(opts.command ? { 'event.action': opts.command } : {}),
  };
  if (pretty) {
    // Loaded only on a TTY: keeps non-interactive start-up lean.
    const require = createRequire(import.meta.url);
    const pinoPretty = require('pino-pretty') as (o: object) => NodeJS.WritableStream;
    return pino(
      { level, base: undefined },
      pinoPretty({
        destination: typeof destination === 'number' ? destination : 2,
        sync: true,
        ignore: 'pid,hostname',
      }),
    );
  }
  const stream =
    typeof destination === 'number' ? pino.destination({ dest: destination, sync: true }) : destination;
  return pino(
    {
      level,
      base,
      messageKey: 'message',
      ...(opts.mixin ? { mixin: opts.mixin } : {}),
      errorKey: 'error',
      timestamp: () => `,"@timestamp":"${new Date().toISOString()}"`,
      formatters: {
        level: (label) => ({ 'log.level': label }),
      },
      serializers: {
        error: (e: Error & { code?: string }) => ({
          type: e.name,
          message: e.message,
          stack_trace: e.stack,
          code: e.code,
        }),
        err: (e: Error & { code?: string }) => ({
          type: e.name,
          message: e.message,
          stack_trace: e.stack,
          code: e.code,
        }),
      },
    },
    stream,
  );
}

/** A logger that drops everything (library defaults, tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
