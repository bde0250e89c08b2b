import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { DLQ_HEADERS } from '../../../src/lib/stream/dlq.js';
import type { StreamResult } from '../../../src/lib/stream/types.js';
import type { SourceChange } from '../../../src/lib/vault/types.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import {
  SALT,
  createTopics,
  createVault,
  deleteTopics,
  dropVault,
  encodeAll,
  expectedVault,
  makeChanges,
  namespace,
  produce,
  readTopic,
  readVault,
  streamArgs,
  testKafka,
} from './support.js';

// An event that decodes and maps but that ClickHouse itself refuses must not stop the stream or
// take its batch down with it (a poison pill that comes back on every restart). The server here
// refuses any sat_user row whose city is "Atlantis": the test's vault gets a column whose DEFAULT
// is throwIf(city = 'Atlantis'), evaluated by ClickHouse 18.16 on every insert. The stream must
// isolate the refused events (bisecting the batch), dead-letter them with the server's error code
// but without their values, load every other event, commit, and find nothing left on a restart.

const ns = namespace('srefuse');
const kafka = testKafka();
const topics = ns.router.allTopics();
const changes = makeChanges(2000, 41);
const FORBIDDEN = 'Atlantis';
/** Updates of users that exist (so their hub rows exist anyway), one µs after a real change. */
const bad: SourceChange[] = changes
  .filter((c) => c.table === 'users' && c.op === 'c')
  .slice(3, 6)
  .map((c) => ({ ...c, op: 'u', row: { ...c.row, city: FORBIDDEN }, commitTsUs: c.commitTsUs + 1 }));
let wh: Warehouse;

describe('stream: a row ClickHouse refuses', () => {
  beforeAll(async () => {
    wh = await createVault(ns);
    await wh.exec(
      `ALTER TABLE ${ns.dbs.vault}.sat_user ADD COLUMN refuse_guard UInt8 DEFAULT throwIf(city = '${FORBIDDEN}')`,
    );
    await createTopics(kafka, topics, 3);
    await createTopics(kafka, [ns.dlqTopic], 1);
    const messages = encodeAll(changes, ns.router);
    const poison = encodeAll(bad, ns.router);
    poison.forEach((p, k) => messages.splice(400 + k * 500, 0, p));
    await produce(kafka, messages);
  }, 120_000);

  afterAll(async () => {
    await deleteTopics(kafka, [...topics, ns.dlqTopic]);
    await dropVault(wh, ns);
    await wh.close();
  });

  it('dead-letters the refused events without their values and loads the rest of their batches', async () => {
    const run = () =>
      runCli(
        ['stream', ...streamArgs(ns, ['--until-idle', '--idle-ms', '1500', '--batch-size', '400', '--json'])],
        { env: { SHOPDATA_PII_SALT: SALT }, timeoutMs: 150_000 },
      );
    const res = await run();
    expect(res.code, res.stderr.slice(-3000)).toBe(0);
    const result = JSON.parse(res.stdout) as StreamResult;
    expect(result.dlq.reasons).toEqual({ 'rejected-by-clickhouse': bad.length });
    expect(result.sourceTables.users).toBe(changes.filter((c) => c.table === 'users').length);
    expect(res.stderr).toContain('isolating them');
    expect(res.stderr).not.toContain(FORBIDDEN);

    const letters = await readTopic(kafka, ns.dlqTopic, bad.length);
    expect(letters).toHaveLength(bad.length);
    for (const l of letters) {
      expect(l.value).toContain(FORBIDDEN); // the original event, for a replay once fixed
      expect(l.headers[DLQ_HEADERS.reason]).toBe('rejected-by-clickhouse');
      expect(l.headers[DLQ_HEADERS.error]).toContain('395');
      expect(l.headers[DLQ_HEADERS.error]).toContain('sat_user');
      expect(l.headers[DLQ_HEADERS.error]).not.toContain(FORBIDDEN);
      expect(l.headers[DLQ_HEADERS.topic]).toBe(ns.router.topicFor('users'));
    }

    // Every other event is in the vault, exactly once as readers see it.
    const expected = expectedVault(changes);
    const actual = await readVault(wh, ns.dbs);
    for (const [table, rows] of expected) expect(actual.get(table), table).toEqual(rows);

    // No poison pill: a restart of the same group finds everything committed.
    const again = await run();
    expect(again.code, again.stderr.slice(-3000)).toBe(0);
    expect((JSON.parse(again.stdout) as StreamResult).batches).toBe(0);
  }, 300_000);
});
