import { ShopdataError, ExitCode } from '../errors/index.js';

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
