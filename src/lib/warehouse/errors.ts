import { DependencyUnavailableError, ShopdataError, ExitCode, isNetworkError } from '../errors/index.js';

/** ClickHouse rejected a statement (syntax, missing table, type mismatch). */
export class WarehouseQueryError extends ShopdataError {
  readonly exitCode = ExitCode.DataProblem;
  readonly code = 'WAREHOUSE_QUERY';
  constructor(
    readonly operation: string,
    readonly sql: string,
    cause: unknown,
  ) {
    const msg = (cause as Error)?.message ?? String(cause);
    super(`ClickHouse rejected the ${operation}: ${msg.split('\n')[0]}`, {
      cause,
      hint: 'If the vault tables are missing or old, run `shopdata warehouse migrate`.',
      details: { sql: sql.length > 500 ? sql.slice(0, 500) + '…' : sql },
    });
  }
}

/**
 * ClickHouse error codes that mean "this endpoint cannot serve writes right now" rather than "the
 * statement is wrong": the replica lost ZooKeeper (read-only), a shard or replica it needs is
 * unreachable, or an insert's outcome is unknown (safe to resend: replicated tables drop a block
 * they already have). Such an endpoint counts as down: writers try the next one, then back off.
 */
export const ENDPOINT_DOWN_CODES: ReadonlyMap<number, string> = new Map([
  [32, 'ATTEMPT_TO_READ_AFTER_EOF'], // a remote server closed the connection mid-answer
  [198, 'DNS_ERROR'],
  [209, 'SOCKET_TIMEOUT'],
  [210, 'NETWORK_ERROR'],
  [225, 'NO_ZOOKEEPER'],
  [242, 'TABLE_IS_READ_ONLY'], // replicated table without a ZooKeeper session
  [252, 'TOO_MANY_PARTS'], // the server asks writers to slow down
  [279, 'ALL_CONNECTION_TRIES_FAILED'],
  [285, 'TOO_FEW_LIVE_REPLICAS'],
  [286, 'UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE'],
  [289, 'REPLICA_IS_NOT_IN_QUORUM'], // a sequentially consistent read on a replica still catching up
  [319, 'UNKNOWN_STATUS_OF_INSERT'],
  [999, 'KEEPER_EXCEPTION'],
]);

/** The ClickHouse error code in an error or its causes (18.16 sends "Code: 242, e.displayText() = …"). */
export function clickhouseErrorCode(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
    const m = /\bCode: (\d+)/.exec(String((e as { message?: unknown }).message ?? ''));
    if (m) return Number(m[1]);
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** True when the endpoint is unreachable, read-only or cut off from what it needs (see ENDPOINT_DOWN_CODES). */
export function isEndpointDown(err: unknown): boolean {
  if (err instanceof DependencyUnavailableError || isNetworkError(err)) return true;
  const code = clickhouseErrorCode(err);
  return code !== undefined && ENDPOINT_DOWN_CODES.has(code);
}

/** "read-only (TABLE_IS_READ_ONLY)", "unreachable", … for messages. */
export function describeDown(err: unknown): string {
  if (isNetworkError(err)) return 'unreachable';
  const code = clickhouseErrorCode(err);
  const name = code === undefined ? undefined : ENDPOINT_DOWN_CODES.get(code);
  if (code === 242) return 'read-only (lost ZooKeeper: TABLE_IS_READ_ONLY)';
  return name ? `not serving writes (${name})` : 'unavailable';
}

/** The first line of the innermost message (the server's own words, without our wrapping). */
export function rootMessage(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && (e as { cause?: unknown })?.cause instanceof Error; depth++)
    e = (e as { cause: unknown }).cause;
  return String((e as Error)?.message ?? e).split('\n')[0]!;
}
