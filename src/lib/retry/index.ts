import { setTimeout as sleep } from 'node:timers/promises';
import { isNetworkError } from '../errors/index.js';

/**
 * The one retry helper: runs an operation until it succeeds, waiting with exponential backoff
 * between attempts, within an attempt count and/or a time budget. Every caller that talks to a
 * dependency (ClickHouse, Kafka, Kafka Connect, PostgreSQL, the backfill lease) retries through it;
 * what counts as retryable and what to throw when giving up stay with the caller.
 */

export interface RetryInfo {
  /** 1 for the first failure. */
  attempt: number;
  err: unknown;
  /** Since the first attempt started. */
  elapsedMs: number;
  /** The wait before the next attempt (0 when giving up). */
  delayMs: number;
}

export interface RetryOptions {
  /** Whether a failure is worth another attempt. Default: network errors (isNetworkError). */
  retryable?: (err: unknown, attempt: number) => boolean;
  /** Attempts in all, the first included. Default: unlimited (bounded by budgetMs). */
  attempts?: number;
  /** Give up when the next attempt would start later than this after the first; 0 or unset: no limit. */
  budgetMs?: number;
  /** First wait; each next one doubles, up to maxMs. */
  baseMs?: number;
  maxMs?: number;
  /** ± this fraction of random spread on each wait, so many clients do not retry in step. Default 0. */
  jitter?: number;
  /** Aborts the wait; the abort reason (or an AbortError) is thrown. */
  signal?: AbortSignal | undefined;
  /** Before each wait. */
  onRetry?: (info: RetryInfo) => void;
  /** The error to throw when retries are exhausted (default: the last error as it is). */
  giveUp?: (info: RetryInfo) => unknown;
}

/** The wait before the attempt after failure number `attempt` (1-based), without jitter. */
export function backoffMs(attempt: number, baseMs = 500, maxMs = 8000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
}

export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const retryable = opts.retryable ?? ((err: unknown) => isNetworkError(err));
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      const base = backoffMs(attempt, opts.baseMs, opts.maxMs);
      const spread = opts.jitter ? base * opts.jitter * (2 * Math.random() - 1) : 0;
      const delayMs = Math.max(0, Math.round(base + spread));
      const elapsedMs = Date.now() - started;
      const info: RetryInfo = { attempt, err, elapsedMs, delayMs };
      const exhausted =
        (opts.attempts !== undefined && attempt >= opts.attempts) ||
        (opts.budgetMs !== undefined && opts.budgetMs > 0 && elapsedMs + delayMs > opts.budgetMs);
      if (!retryable(err, attempt)) throw err;
      if (exhausted) throw opts.giveUp ? opts.giveUp({ ...info, delayMs: 0 }) : err;
      opts.onRetry?.(info);
      await sleep(delayMs, undefined, opts.signal ? { signal: opts.signal } : undefined);
    }
  }
}
