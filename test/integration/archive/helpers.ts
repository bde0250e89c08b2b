import { writeFileSync } from 'node:fs';
import { encodeChange, encodeTombstone } from '../../../src/lib/debezium/encode.js';
import { TopicRouter } from '../../../src/lib/debezium/topics.js';
import type { SourceChange, SourceTable } from '../../../src/lib/vault/types.js';

/** A bcrypt hash that must never reach the lake (CONTRACT.md §4). */
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
