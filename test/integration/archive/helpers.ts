import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT, stack, s3Env } from '../../helpers/stack.js';
import { openLake } from '../../../src/lib/lake/io.js';
import { loadTableMetadata } from '../../../src/lib/lake/iceberg/metadata.js';
import { LAKE_SCHEMAS } from '../../../src/lib/lake/schema.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';
import { pyTool } from '../lake/helpers.js';
import { writeFileSync } from 'node:fs';
import { encodeChange, encodeTombstone } from '../../helpers/debezium.js';
import { TopicRouter } from '../../../src/lib/debezium/topics.js';
import type { SourceChange, SourceTable } from '../../../src/lib/vault/types.js';

/** A bcrypt hash that must never reach the lake (docs/CONTRACT.md §4). */
export const PASSWORD_HASH = '$2a$10$CwTycUXWue0Thq9StjUM0uJ8.hashThatMustNeverLeave/PG';

export interface EventLine {
  topic: string;
  partition: number;
  offset: number;
  key: string;
  value: string | null;
  /** The change the event carries (undefined for tombstones and poison). */
  change?: SourceChange;
}

export interface EventStream {
  lines: EventLine[];
  /** Changes that must land in the lake, per table. */
  expected: Record<string, number>;
}

const PG_TABLES = new Set<SourceTable>(['sellers', 'users', 'auth_credentials', 'products']);

/**
 * The Debezium events of `changes` in commit order, as Kafka would hold them: with and without the
 * schema wrapper, decimals precise and as strings, tombstones after PostgreSQL deletes, users on two
 * partitions (by key), and `password_hash` in every auth_credentials after-image (as a connector
 * without the column exclusion would send it).
 */
export function eventStream(changes: readonly SourceChange[], router = new TopicRouter()): EventStream {
  const lines: EventLine[] = [];
  const next = new Map<string, number>();
  const expected: Record<string, number> = {};
  changes.forEach((change, i) => {
    const withSchema = i % 3 !== 0;
    const event = encodeChange(change, {
      withSchema,
      decimalMode: withSchema && i % 2 === 0 ? 'precise' : 'string',
      router,
    });
    let value = event.value;
    if (change.table === 'auth_credentials' && value) {
      const v = JSON.parse(value) as { payload?: Record<string, unknown> } & Record<string, unknown>;
      const payload = (v.payload ?? v) as { after?: Record<string, unknown> | null };
      if (payload.after) payload.after.password_hash = PASSWORD_HASH;
      value = JSON.stringify(v);
    }
    const partition = change.table === 'users' ? Number(change.row.id) % 2 : 0;
    const events = [{ ...event, value, change }];
    if (change.op === 'd' && PG_TABLES.has(change.table))
      events.push({ ...encodeTombstone(change, { router }), change: undefined as never });
    for (const e of events) {
      const k = `${e.topic}/${partition}`;
      const offset = next.get(k) ?? 0;
      next.set(k, offset + 1);
      lines.push({
        topic: e.topic,
        partition,
        offset,
        key: e.key,
        value: e.value,
        ...(e.change ? { change: e.change } : {}),
      });
    }
    expected[change.table] = (expected[change.table] ?? 0) + 1;
  });
  return { lines, expected };
}

/** One line of a replay file: every 5th in the envelope `kcat -C -J` prints, the rest plain. */
export function replayLine(l: EventLine, i: number): string {
  if (i % 5 === 4) {
    return JSON.stringify({
      topic: l.topic,
      partition: l.partition,
      offset: l.offset,
      tstype: 'create',
      ts: 1_700_000_000_000 + i,
      broker: 0,
      headers: ['origin', 'test'],
      key: l.key,
      payload: l.value,
    });
  }
  return JSON.stringify({
    topic: l.topic,
    partition: l.partition,
    offset: l.offset,
    key: l.key,
    value: l.value,
  });
}

export function writeReplay(path: string, lines: readonly string[], trailingNewline = true): void {
  writeFileSync(path, lines.join('\n') + (trailingNewline ? '\n' : ''));
}

// ------------------------------------------------------------------------ processes and counts

export interface Child {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the built CLI (`npm run build` first) as its own process, like an operator would. */
export function spawnCli(args: string[], env: Record<string, string | undefined> = {}): Child {
  const proc = spawn(process.execPath, [`${REPO_ROOT}bin/run.js`, ...args], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      SHOPDATA_LOG_LEVEL: 'info',
      SHOPDATA_ICEBERG_CATALOG_URI: undefined,
      ...s3Env,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, stdout: () => out, stderr: () => err, exited };
}

export interface TableCount {
  rows: number;
  /** Distinct (key columns, __ts): equal to rows when nothing is doubled. */
  distinct: number;
  snapshots: number;
}

/**
 * Rows per lake table as pyiceberg reads them (the reference implementation, not our reader),
 * with the number of distinct (key, __ts).
 */
export async function lakeCounts(lake: string): Promise<Record<string, TableCount>> {
  const io = openLake(lake, { s3Endpoint: stack.s3Endpoint });
  try {
    const out: Record<string, TableCount> = {};
    for (const t of SOURCE_TABLES) {
      const md = await loadTableMetadata(io, io.url('iceberg', t));
      out[t] = md
        ? await pyTool<TableCount>('count', { metadata: md.uri, key: LAKE_SCHEMAS[t].key })
        : { rows: 0, distinct: 0, snapshots: 0 };
    }
    return out;
  } finally {
    io.close();
  }
}

/** Snapshots committed so far over all tables (our metadata reader: only to time a kill). */
export async function snapshotCount(lake: string): Promise<number> {
  const io = openLake(lake, { s3Endpoint: stack.s3Endpoint });
  try {
    let n = 0;
    for (const t of SOURCE_TABLES)
      n += (await loadTableMetadata(io, io.url('iceberg', t)))?.metadata.snapshots?.length ?? 0;
    return n;
  } finally {
    io.close();
  }
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
