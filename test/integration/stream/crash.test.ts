import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamResult } from '../../../src/lib/stream/types.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import {
  countRows,
  createTopics,
  createVault,
  deleteTopics,
  dropVault,
  encodeAll,
  expectedVault,
  makeChanges,
  namespace,
  produce,
  readVault,
  spawnStream,
  streamArgs,
  testKafka,
  committedTotal,
} from './support.js';

// `kill -9` of the stream process three times while it loads 100,000 Debezium events; after a
// restart that catches up, the vault holds exactly the expected rows: none lost (offsets were
// committed only after ClickHouse confirmed) and none doubled in what readers see (FINAL).

const ns = namespace('scrash');
const kafka = testKafka();
const topics = ns.router.allTopics();
const N = 100_000;
let wh: Warehouse;
let total = 0;

describe('stream: crash safety', () => {
  const changes = makeChanges(N, 23);

  beforeAll(async () => {
    wh = await createVault(ns);
    await createTopics(kafka, topics, 3);
    await createTopics(kafka, [ns.dlqTopic], 1);
    const messages = encodeAll(changes, ns.router, { light: true });
    total = messages.length;
    await produce(kafka, messages, 5000);
  }, 300_000);

  afterAll(async () => {
    await deleteTopics(kafka, [...topics, ns.dlqTopic]);
    await dropVault(wh, ns);
    await wh.close();
  });

  it('loses nothing and shows no duplicates after three kill -9', async () => {
    const kills: number[] = [];
    for (const fraction of [0.15, 0.4, 0.65]) {
      const child = spawnStream(streamArgs(ns, ['--batch-size', '2000', '--batch-max-ms', '500']));
      const deadline = Date.now() + 120_000;
      // Kill once the group committed past `fraction`, i.e. in the middle of the load.
      for (;;) {
        const done = await committedTotal(kafka, ns.group, topics);
        if (done >= fraction * total) break;
        if (Date.now() > deadline)
          throw new Error(`no progress past ${done}/${total}; stderr: ${child.stderr().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      child.proc.kill('SIGKILL');
      const exit = await child.exited;
      expect(exit.signal).toBe('SIGKILL');
      kills.push(await committedTotal(kafka, ns.group, topics));
    }
    expect(kills[0]!).toBeLessThan(total);
    expect(kills[2]!).toBeLessThan(total);

    // Restart and catch up.
    const final = spawnStream(
      streamArgs(ns, ['--batch-size', '2000', '--until-idle', '--idle-ms', '1500', '--json']),
    );
    const exit = await final.exited;
    expect(exit.code, final.stderr().slice(-3000)).toBe(0);
    const result = JSON.parse(final.stdout()) as StreamResult;
    expect(result.dlq.count).toBe(0);
    expect(await committedTotal(kafka, ns.group, topics)).toBe(total);

    const expected = expectedVault(changes);
    const actual = await readVault(wh, ns.dbs);
    for (const [table, rows] of expected) {
      expect(actual.get(table)!.length, table).toBe(rows.length);
      expect(actual.get(table), table).toEqual(rows);
    }
    const visible = await countRows(wh, ns.dbs, true);
    for (const [table, rows] of expected) expect(visible[table], table).toBe(rows.length);
    const physical = await countRows(wh, ns.dbs, false);
    // Redelivered batches were inserted twice; FINAL (what readers use) collapses them.
    console.log(
      `crash test: committed at kills ${kills.join(', ')} of ${total}; physical rows ${Object.values(physical).reduce((a, b) => a + b, 0)}, visible ${Object.values(visible).reduce((a, b) => a + b, 0)}`,
    );
  }, 600_000);
});
