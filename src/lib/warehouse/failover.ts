import { DependencyUnavailableError } from '../errors/index.js';
import { maskUrl } from '../config/index.js';
import { HttpWarehouse } from './http.js';
import { retry } from '../retry/index.js';
import { describeDown, isEndpointDown } from './errors.js';
import type { EncodedFormat, OpenWarehouseOptions, ServerVersion, Settings, Warehouse } from './types.js';

/** Every endpoint failed with a "down" error in one round (see isEndpointDown). */
class AllEndpointsDownError extends Error {
  constructor(readonly failures: { endpoint: string; err: unknown }[]) {
    super(
      failures
        .map((f) => `${f.endpoint} ${describeDown(f.err)} (${(f.err as Error).message.split('\n')[0]})`)
        .join('; '),
    );
    this.name = 'AllEndpointsDownError';
  }
}

/**
 * Several endpoints of one ClickHouse cluster behind the one Warehouse interface. A statement goes
 * to the endpoint that answered last; when that one is down (unreachable, read-only without
 * ZooKeeper, cut off from a shard) the next one is tried at once. When every endpoint is down the
 * round is repeated with the usual backoff (src/lib/retry, `retries` times), then exit 3.
 *
 * Resending a write to another endpoint is safe: an insert carries the same rows in the same order
 * (the same block), which the replicated tables recognise and drop if they have it already.
 */
export class FailoverWarehouse implements Warehouse {
  readonly engine = 'clickhouse' as const;
  readonly displayUrl: string;
  readonly members: readonly HttpWarehouse[];
  private preferred: number;
  private cachedVersion: ServerVersion | undefined;

  constructor(
    private readonly urls: readonly string[],
    private readonly opts: OpenWarehouseOptions = {},
  ) {
    // Each member tries once; the rounds below do the retrying across all of them.
    this.members = urls.map((u) => new HttpWarehouse(u, { ...opts, retries: 0 }));
    this.displayUrl = urls.map((u) => maskUrl(u)).join(',');
    // The first endpoint while it answers (operators spread writers by listing them in another order).
    this.preferred = 0;
  }

  /** Rounds over all endpoints before giving up (exit 3). */
  get retries(): number {
    return this.opts.retries ?? 4;
  }

  /** The endpoint statements go to now. */
  get current(): HttpWarehouse {
    return this.members[this.preferred]!;
  }

  private async call<T>(fn: (m: HttpWarehouse) => Promise<T>): Promise<T> {
    const round = async (): Promise<T> => {
      const failures: { endpoint: string; err: unknown }[] = [];
      for (let k = 0; k < this.members.length; k++) {
        const i = (this.preferred + k) % this.members.length;
        const m = this.members[i]!;
        try {
          const result = await fn(m);
          this.preferred = i;
          return result;
        } catch (err) {
          if (!isEndpointDown(err)) throw err;
          failures.push({ endpoint: m.displayUrl, err });
        }
      }
      throw new AllEndpointsDownError(failures);
    };
    try {
      // Rounds over all endpoints, 0.5 s, 1 s, 2 s, … up to 8 s apart.
      return await retry(() => round(), {
        attempts: (this.opts.retries ?? 4) + 1,
        baseMs: 500,
        maxMs: 8000,
        retryable: (e) => e instanceof AllEndpointsDownError,
      });
    } catch (err) {
      if (!(err instanceof AllEndpointsDownError)) throw err;
      throw new DependencyUnavailableError(
        'clickhouse',
        `No ClickHouse endpoint can serve the request: ${err.message}`,
        {
          cause: err.failures.at(-1)?.err,
          hint: 'Check the servers in SHOPDATA_CLICKHOUSE_URL, ZooKeeper (a replica without it is read-only) and that every shard has a live replica (`shopdata warehouse status`).',
        },
      );
    }
  }

  async version(): Promise<ServerVersion> {
    this.cachedVersion ??= await this.call((m) => m.version());
    return this.cachedVersion;
  }

  exec(sql: string, settings?: Settings): Promise<void> {
    return this.call((m) => m.exec(sql, settings));
  }

  query<T = Record<string, unknown>>(sql: string, settings?: Settings): Promise<T[]> {
    return this.call((m) => m.query<T>(sql, settings));
  }

  insert(table: string, rows: readonly object[], settings?: Settings): Promise<void> {
    return this.call((m) => m.insert(table, rows, settings));
  }

  /** The same bytes to whichever endpoint answers: a resent block is still recognised as one. */
  insertEncoded(
    table: string,
    columns: readonly string[],
    format: EncodedFormat,
    data: Uint8Array,
    settings?: Settings,
  ): Promise<void> {
    return this.call((m) => m.insertEncoded(table, columns, format, data, settings));
  }

  /** The same endpoints with another retry budget (0: one round); close it after use. */
  withRetries(retries: number): FailoverWarehouse {
    return new FailoverWarehouse(this.urls, { ...this.opts, retries });
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.close()));
  }
}

/**
 * Runs `fn` with a copy of `wh` that does not retry (probes of other servers through remote(): a
 * dead server must be reported at once, not waited for); closes the copy afterwards.
 */
export async function withoutRetries<T>(wh: Warehouse, fn: (probe: Warehouse) => Promise<T>): Promise<T> {
  if (!(wh instanceof FailoverWarehouse) && !(wh instanceof HttpWarehouse)) return fn(wh);
  const probe = wh.withRetries(0);
  try {
    return await fn(probe);
  } finally {
    await probe.close();
  }
}

/** The endpoints behind a warehouse: the members of a FailoverWarehouse, else the warehouse itself. */
export function endpointsOf(wh: Warehouse): readonly Warehouse[] {
  return wh instanceof FailoverWarehouse ? wh.members : [wh];
}
