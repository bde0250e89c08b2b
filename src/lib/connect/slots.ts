import pg from 'pg';
import { DependencyUnavailableError, isNetworkError } from '../errors/index.js';
import { maskUrl } from '../config/index.js';

export type SlotOutcome = 'dropped' | 'absent';

/**
 * Drops a PostgreSQL connector's logical replication slot after the connector was deleted: Debezium
 * keeps it (slot.drop.on.stop=false), and an abandoned slot makes PostgreSQL retain WAL forever.
 * The slot stays active until the deleted task's walsender exits, so this waits for that first.
 */
export async function dropReplicationSlot(
  postgresUrl: string,
  slot: string,
  opts: { timeoutMs?: number } = {},
): Promise<SlotOutcome> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new DependencyUnavailableError(
      'postgres',
      `Cannot connect to PostgreSQL at ${maskUrl(postgresUrl)} to drop slot ${slot}: ${(err as Error).message}`,
      {
        hint: isNetworkError(err)
          ? 'Check SHOPDATA_POSTGRES_URL and that the database is up.'
          : 'Check the credentials in SHOPDATA_POSTGRES_URL.',
        cause: err,
      },
    );
  }
  try {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    for (;;) {
      const r = await client.query<{ active: boolean; active_pid: number | null }>(
        'SELECT active, active_pid FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      const row = r.rows[0];
      if (!row) return 'absent';
      if (!row.active) {
        try {
          await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
          return 'dropped';
        } catch (err) {
          // Became active again between the two statements, or dropped by someone else: look again.
          if (!/is active|does not exist/.test((err as Error).message)) throw err;
        }
      } else if (Date.now() > deadline) {
        throw new Error(
          `Replication slot ${slot} is still in use (pid ${row.active_pid}) ${((opts.timeoutMs ?? 30_000) / 1000).toFixed(0)} s after the connector was deleted; drop it later with SELECT pg_drop_replication_slot('${slot}').`,
        );
      }
      await new Promise((res) => setTimeout(res, 500));
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
