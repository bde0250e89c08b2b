import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { stack } from '../../helpers/stack.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { SALT, createVault, dropVault, encodeAll, makeChanges, namespace } from './support.js';

// load_ts comes from the warehouse server's clock, not the loader host's: a `stream` whose host
// clock runs a day ahead (libfaketime, installed by scripts/stack/up) still writes no load time in
// the server's future, so vault check's future-load-times stays green on skewed hosts.
const FAKETIME_LIB = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const ns = namespace('sskew');
const dir = mkdtempSync(join(tmpdir(), 'shopdata-skew-'));
const file = join(dir, 'events.jsonl');
let wh: Warehouse;

describe('stream on a host whose clock is a day ahead of ClickHouse', () => {
  beforeAll(async () => {
    wh = await createVault(ns);
    const lines = encodeAll(makeChanges(60, 3), ns.router).map((m, offset) =>
      JSON.stringify({ topic: m.topic, partition: 0, offset, key: m.key, value: m.value }),
    );
    writeFileSync(file, lines.join('\n') + '\n');
  });

  afterAll(async () => {
    await dropVault(wh, ns);
    await wh.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stamps load_ts with the server clock', async () => {
    const skewed = { LD_PRELOAD: FAKETIME_LIB, FAKETIME: '+1d', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
    const args = [
      'stream',
      '--from-file',
      file,
      '--until-idle',
      '--json',
      '--clickhouse-url',
      stack.clickhouseUrl,
    ];
    const prefixes = [
      '--postgres-topic-prefix',
      ns.router.prefixes.postgres,
      '--mongo-topic-prefix',
      ns.router.prefixes.mongo,
    ];
    const res = await runCli([...args, ...prefixes, '--db-suffix', ns.suffix], {
      env: { SHOPDATA_PII_SALT: SALT, ...skewed },
      timeoutMs: 120_000,
    });
    expect(res.code, res.stderr.slice(-3000)).toBe(0);
    // The same environment really moves a child's clock a day ahead.
    const probe = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(Date.now()))'], {
      env: { ...process.env, ...skewed },
      encoding: 'utf8',
    });
    expect(Number(probe.stdout) - Date.now()).toBeGreaterThan(20 * 3600_000);

    const rows = await wh.query<{ t: string; n: string; future: string }>(
      `SELECT 'sat_user' AS t, count() AS n, countIf(load_ts > now()) AS future FROM ${ns.dbs.vault}.sat_user
       UNION ALL SELECT 'hub_product', count(), countIf(load_ts > now()) FROM ${ns.dbs.vault}.hub_product
       UNION ALL SELECT 'sat_order', count(), countIf(load_ts > now()) FROM ${ns.dbs.vault}.sat_order`,
    );
    expect(rows).toHaveLength(3);
    for (const r of rows) {
      expect(Number(r.n), r.t).toBeGreaterThan(0);
      expect(Number(r.future), `${r.t}: load_ts after the server's now()`).toBe(0);
    }
  });
});
