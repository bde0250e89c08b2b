import { setTimeout as sleep } from 'node:timers/promises';
import { isNetworkError } from '../errors/index.js';

/** Retries `fn` on network errors with exponential backoff (0.5 s, 1 s, 2 s, ... capped at 8 s). */
export async function withRetry<T>(
  fn: () => Promise<T>,
  retries: number,
  onRetry?: (err: unknown, attempt: number) => void,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= retries || !isNetworkError(err)) throw err;
      onRetry?.(err, attempt + 1);
      await sleep(Math.min(8000, 500 * 2 ** attempt));
    }
  }
}
