import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { stack } from '../../helpers/stack.js';
import type { StreamResult } from '../../../src/lib/stream/types.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import {
  SALT,
  countRows,
  createVault,
  dropVault,
  encodeAll,
  expectedVault,
  makeChanges,
  namespace,
  poisonMessages,
  readVault,
  spawnStream,
  type TestMessage,
} from './support.js';

// `stream --from-file` against ClickHouse 18.16: every Debezium flavour in all three line formats,
// poison lines rejected to FILE.rejects.jsonl with their reason, everything else loaded exactly
// once (compared row by row with the shared mapping's expected vault), and a second replay of
// the same file changes nothing visible. Needs `npm run build`.

const ns = namespace('srep');
const dir = mkdtempSync(join(tmpdir(), 'shopdata-replay-'));
const file = join(dir, 'events.jsonl');
let wh: Warehouse;

const changes = makeChanges(800, 7);
const messages = encodeAll(changes, ns.router);
const poison = poisonMessages(ns.router, `${ns.router.prefixes.postgres}coupons`);

/** One line per message, alternating the formats the contract allows. */
function line(m: TestMessage, i: number): string {
  const partition = 0;
  const offset = i;
  const parse = (s: string | null) => (s === null ? null : (JSON.parse(s) as unknown));
  switch (i % 3) {
    case 0: {
      // key/value as JSON objects (when they are valid JSON)
      let value: unknown = m.value;
      try {
        value = parse(m.value);
      } catch {
        // malformed JSON stays a string
      }
      let key: unknown = m.key;
      try {
        key = parse(m.key);
      } catch {
        // idem
      }
      return JSON.stringify({ topic: m.topic, partition, offset, key, value });
    }
    case 1:
      return JSON.stringify({ topic: m.topic, partition, offset, key: m.key, value: m.value });
    default: {
      // kcat -C -J
      const headers = Object.entries(m.headers ?? {}).flat();
      return JSON.stringify({
        topic: m.topic,
        partition,
        offset,
        tstype: 'create',
        ts: 1795163400000,
        broker: 1,
        headers,
        key: m.key,
        payload: m.value,
      });
    }
  }
}

const cliArgs = () => [
  'stream',
  '--from-file',
  file,
  '--until-idle',
  '--json',
  '--clickhouse-url',
  stack.clickhouseUrl,
  '--postgres-topic-prefix',
  ns.router.prefixes.postgres,
  '--mongo-topic-prefix',
  ns.router.prefixes.mongo,
  '--db-suffix',
  ns.suffix,
  '--batch-size',
  '97',
];

describe('stream --from-file', () => {
  let lines: string[];
  const badLines = ['this is not json', '[1, 2, 3]'];

  beforeAll(async () => {
    wh = await createVault(ns);
    const all: TestMessage[] = [...messages];
    // Poison messages interleaved with the good ones.
    poison.forEach((p, k) => all.splice(50 + k * 97, 0, p));
    lines = all.map(line);
    lines.splice(10, 0, badLines[0]!);
    lines.splice(400, 0, badLines[1]!);
    writeFileSync(file, lines.join('\n') + '\n');
  });

  afterAll(async () => {
    await dropVault(wh, ns);
    await wh.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads every event exactly once and rejects the poison with its reason', async () => {
    const res = await runCli(cliArgs(), { env: { SHOPDATA_PII_SALT: SALT }, timeoutMs: 120_000 });
    expect(res.stderr.slice(-2000)).not.toMatch(/"level":(50|60)/);
    expect(res.code, res.stderr.slice(-3000)).toBe(0);
    const result = JSON.parse(res.stdout) as StreamResult;

    const tombstones = messages.filter((m) => m.value === null).length;
    const expectedReasons: Record<string, number> = { 'not-a-message': 1, 'malformed-json': 1 };
    for (const p of poison) expectedReasons[p.reason] = (expectedReasons[p.reason] ?? 0) + 1;
    expect(result.stoppedBy).toBe('eof');
    expect(result.dlq.reasons).toEqual(expectedReasons);
    expect(result.dlq.count).toBe(poison.length + badLines.length);
    const totals = Object.values(result.topics).reduce(
      (a, t) => ({
        events: a.events + t.events,
        loaded: a.loaded + t.loaded,
        skipped: a.skipped + t.skipped,
      }),
      { events: 0, loaded: 0, skipped: 0 },
    );
    expect(totals).toEqual({ events: lines.length, loaded: changes.length, skipped: tombstones });
    const perTable: Record<string, number> = {};
    for (const c of changes) perTable[c.table] = (perTable[c.table] ?? 0) + 1;
    expect(result.sourceTables).toEqual(perTable);

    // The rejects file: one line per reject, with reason, position and the original message.
    const rejects = readFileSync(`${file}.rejects.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rejects).toHaveLength(poison.length + badLines.length);
    expect(rejects.find((r) => r.reason === 'malformed-json' && r.line === 11)?.value).toBe(badLines[0]);
    const unknown = rejects.find((r) => r.reason === 'unknown-table')!;
    expect(unknown.topic).toBe(`${ns.router.prefixes.postgres}coupons`);
    expect(String(unknown.error)).toContain('coupons');
    expect(String(rejects.find((r) => r.reason === 'toast-unavailable')!.error)).toContain(
      'REPLICA IDENTITY FULL',
    );

    // The vault equals the mapping of exactly the good changes, row by row.
    const expected = expectedVault(changes);
    const actual = await readVault(wh, ns.dbs);
    for (const [table, rows] of expected) expect(actual.get(table), table).toEqual(rows);
    expect([...expected.values()].reduce((n, r) => n + r.length, 0)).toBeGreaterThan(changes.length);
  });

  it('a second replay of the same file (a full redelivery) leaves the visible vault unchanged', async () => {
    const before = await readVault(wh, ns.dbs);
    const res = await runCli(cliArgs(), { env: { SHOPDATA_PII_SALT: SALT }, timeoutMs: 120_000 });
    expect(res.code, res.stderr.slice(-3000)).toBe(0);
    const after = await readVault(wh, ns.dbs);
    expect(after).toEqual(before);
    const visible = await countRows(wh, ns.dbs, true);
    for (const [table, rows] of before) expect(visible[table], table).toBe(rows.length);
    expect(existsSync(`${file}.rejects.jsonl`)).toBe(true);
  });

  it('without --until-idle follows the file as it grows, until SIGTERM', async () => {
    const ns2 = namespace('sfol');
    const wh2 = await createVault(ns2);
    const followed = join(dir, 'follow.jsonl');
    const more = makeChanges(300, 9);
    const msgs = encodeAll(more, ns2.router).map((m, i) =>
      JSON.stringify({ topic: m.topic, partition: 0, offset: i, key: m.key, value: m.value }),
    );
    const half = Math.floor(msgs.length / 2);
    writeFileSync(followed, msgs.slice(0, half).join('\n') + '\n');
    const child = spawnStream([
      '--from-file',
      followed,
      '--clickhouse-url',
      stack.clickhouseUrl,
      '--postgres-topic-prefix',
      ns2.router.prefixes.postgres,
      '--mongo-topic-prefix',
      ns2.router.prefixes.mongo,
      '--db-suffix',
      ns2.suffix,
      '--batch-max-ms',
      '200',
      '--json',
    ]);
    try {
      const hubs = async () =>
        Number(
          (await wh2.query<{ n: string }>(`SELECT count() AS n FROM ${ns2.dbs.vault}.hub_user`))[0]?.n ?? 0,
        );
      for (const deadline = Date.now() + 60_000; (await hubs()) === 0;) {
        if (Date.now() > deadline) throw new Error(child.stderr().slice(-2000));
        await new Promise((r) => setTimeout(r, 200));
      }
      appendFileSync(followed, msgs.slice(half).join('\n') + '\n');
      const expected = expectedVault(more);
      for (const deadline = Date.now() + 60_000; ;) {
        const actual = await readVault(wh2, ns2.dbs);
        if ([...expected].every(([t, rows]) => actual.get(t)?.length === rows.length)) {
          expect(actual).toEqual(expected);
          break;
        }
        if (Date.now() > deadline) throw new Error('the appended lines were not loaded');
        await new Promise((r) => setTimeout(r, 300));
      }
      child.proc.kill('SIGTERM');
      const exit = await child.exited;
      expect(exit.code, child.stderr().slice(-2000)).toBe(0);
      const result = JSON.parse(child.stdout()) as StreamResult;
      expect(result.stoppedBy).toBe('SIGTERM');
      expect(result.offsetsCommitted[followed]).toBe(String(msgs.length));
    } finally {
      if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
      await dropVault(wh2, ns2);
      await wh2.close();
    }
  });

  it('exits 2 with a hint when the vault tables are missing', async () => {
    const res = await runCli([...cliArgs().slice(0, -4), '--db-suffix', `${ns.suffix}_none`], {
      env: { SHOPDATA_PII_SALT: SALT },
    });
    expect(res.code).toBe(2);
    expect(res.stdout + res.stderr).toContain('warehouse migrate');
  });
});
