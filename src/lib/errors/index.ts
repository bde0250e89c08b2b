/**
 * One error hierarchy for the whole CLI. Every error carries the contract's exit code
 * (docs/CONTRACT.md §3) and a hint saying what to try next; `toShopdataError` maps anything else.
 */
export const ExitCode = {
  Ok: 0,
  DataProblem: 1,
  Usage: 2,
  Unavailable: 3,
  Interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface ShopdataErrorOptions {
  hint?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export abstract class ShopdataError extends Error {
  abstract readonly exitCode: ExitCodeValue;
  /** Stable machine-readable code, e.g. `CONFIG_INVALID`. */
  abstract readonly code: string;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(message: string, opts: ShopdataErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.hint = opts.hint;
    this.details = opts.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      exitCode: this.exitCode,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** Bad flag, bad argument, bad date: nothing was changed. Exit 2. */
export class UsageError extends ShopdataError {
  readonly exitCode = ExitCode.Usage;
  readonly code: string = 'USAGE';
}

/** Unreadable or invalid configuration. Exit 2. */
export class ConfigError extends ShopdataError {
  readonly exitCode = ExitCode.Usage;
  readonly code: string = 'CONFIG_INVALID';
}

/** A command whose issue is not done yet. Exit 2. */
export class NotImplementedError extends ShopdataError {
  readonly exitCode = ExitCode.Usage;
  readonly code = 'NOT_IMPLEMENTED';
  constructor(command: string) {
    super(`\`shopdata ${command}\` is not implemented yet.`, {
      hint: 'See README.md for the commands that work today.',
    });
  }
}

/** The job ran and found a data problem (integrity violation, reconciliation beyond tolerance). Exit 1. */
export class DataProblemError extends ShopdataError {
  readonly exitCode = ExitCode.DataProblem;
  readonly code: string = 'DATA_PROBLEM';
}

/** A dependency (Kafka, ClickHouse, S3, Connect, a source) stayed unreachable after retries. Exit 3. */
export class DependencyUnavailableError extends ShopdataError {
  readonly exitCode = ExitCode.Unavailable;
  readonly code: string = 'DEPENDENCY_UNAVAILABLE';
  constructor(
    readonly dependency: string,
    message: string,
    opts: ShopdataErrorOptions = {},
  ) {
    super(message, opts);
  }
}

/** SIGINT/SIGTERM: in-flight work was flushed or rolled back. Exit 130. */
export class InterruptedError extends ShopdataError {
  readonly exitCode = ExitCode.Interrupted;
  readonly code = 'INTERRUPTED';
}

/** A bug or an unexpected failure: exit 1 with the message, so it is not mistaken for success. */
export class InternalError extends ShopdataError {
  readonly exitCode = ExitCode.DataProblem;
  readonly code = 'INTERNAL';
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** True for errors that mean "could not reach the other side" (worth a retry, then exit 3). */
export function isNetworkError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    const name = (e as { name?: unknown }).name;
    if (name === 'KafkaJSConnectionError' || name === 'KafkaJSNumberOfRetriesExceeded') return true;
    if (e instanceof AggregateError && e.errors.some((x) => isNetworkError(x))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Maps any thrown value to a ShopdataError; oclif's own parse errors keep their exit 2. */
export function toShopdataError(err: unknown): ShopdataError {
  if (err instanceof ShopdataError) return err;
  const e = err as { message?: string; oclif?: { exit?: number }; code?: string } | undefined;
  const message = e?.message ?? String(err);
  if (e?.oclif?.exit === 2 || e?.code === 'ENOENT_COMMAND') {
    return new UsageError(message.replace(/^Error: /, ''), {
      hint: 'Run with --help to see the flags and examples.',
      cause: err,
    });
  }
  if (isNetworkError(err)) {
    return new DependencyUnavailableError('unknown', message, {
      cause: err,
      hint: 'Check that the service is up and the URL is right.',
    });
  }
  return new InternalError(message, {
    cause: err,
    hint: 'This looks like a bug; rerun with --log-level debug and report it.',
  });
}

export function exitCodeFor(err: unknown): ExitCodeValue {
  return toShopdataError(err).exitCode;
}
