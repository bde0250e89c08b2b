import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backoffMs, retry, type RetryInfo } from '../../../src/lib/retry/index.js';
import { REPO_ROOT } from '../../helpers/stack.js';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });

describe('retry', () => {
  it('retries network errors with doubling waits up to the cap, and returns the first success', async () => {
    const seen: RetryInfo[] = [];
    let calls = 0;
    const out = await retry(
      async (attempt) => {
        calls++;
        if (attempt < 4) throw refused();
        return 'ok';
      },
      { baseMs: 5, maxMs: 12, onRetry: (i) => seen.push(i) },
    );
    expect(out).toBe('ok');
    expect(calls).toBe(4);
    expect(seen.map((i) => [i.attempt, i.delayMs])).toEqual([
      [1, 5],
      [2, 10],
      [3, 12],
    ]);
    expect([1, 2, 3, 4, 40].map((a) => backoffMs(a, 500, 8000))).toEqual([500, 1000, 2000, 4000, 8000]);
  });

  it('throws a failure that is not retryable at once, and the last one when attempts run out', async () => {
    let calls = 0;
    const bad = new Error('syntax error');
    await expect(
      retry(async () => {
        calls++;
        throw bad;
      }),
    ).rejects.toBe(bad);
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw refused();
        },
        { attempts: 3, baseMs: 1 },
      ),
    ).rejects.toThrow(/ECONNREFUSED/);
    expect(calls).toBe(3);
  });

  it('gives up within the time budget with the error giveUp makes', async () => {
    const t0 = Date.now();
    const err = await retry(
      async () => {
        throw refused();
      },
      {
        budgetMs: 60,
        baseMs: 10,
        maxMs: 10,
        giveUp: ({ attempt, elapsedMs }) => new Error(`gave up after ${attempt} attempts, ${elapsedMs} ms`),
      },
    ).catch((e: unknown) => e as Error);
    expect(err.message).toMatch(/^gave up after \d+ attempts/);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('stops waiting when its signal aborts', async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('SIGTERM')), 20);
    const t0 = Date.now();
    const err = await retry(
      async () => {
        throw refused();
      },
      { baseMs: 10_000, signal: stop.signal },
    ).catch((e: unknown) => e as Error);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(stop.signal.aborted).toBe(true);
    expect(err).toBeInstanceOf(Error);
  });

  it('is the only backoff loop in src/', () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.tsx?$/.test(n)) files.push(p);
      }
    };
    walk(join(REPO_ROOT, 'src'));
    const loops = files
      .filter((f) => /\* 2 \*\* |\b2 \*\* (\(|attempt|Math)/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(REPO_ROOT, f));
    expect(loops).toEqual(['src/lib/retry/index.ts']);
  });
});
