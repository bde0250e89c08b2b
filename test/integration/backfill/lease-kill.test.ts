import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { openLake, type LakeIO } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import { runBackfill } from '../../../src/lib/backfill/run.js';
import {
  acquireLease,
  ensureLedger,
  ledgerRuns,
  BackfillLockedError,
} from '../../../src/lib/backfill/ledger.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';
import type { VaultDatabases } from '../../../src/lib/vault/tables.js';
import { stack, s3Env, uniqueName, REPO_ROOT } from '../../helpers/stack.js';
import { sampleChanges, onDay, DAY1 } from '../../fixtures/lake/changes.js';
import { s3Lake } from '../lake/helpers.js';
import { SALT, createVault, dropVault, loadLikeStream, vaultSnapshot, openServer } from './helpers.js';

process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

let wh: Warehouse;
let io: LakeIO;
let lake: string;
const dbsList: VaultDatabases[] = [];
// Big enough that staging takes a few seconds, so the kill lands in it.
const changes = sampleChanges(30000, 17);
const all = SOURCE_TABLES.flatMap((t) => changes[t]);

beforeAll(async () => {
  wh = await openServer();
  lake = s3Lake('bfkill');
  io = openLake(lake, { s3Endpoint: stack.s3Endpoint });
  for (const t of SOURCE_TABLES) await writeChangelog(io, t, changes[t], { format: 'iceberg' });
});
afterAll(async () => {
  for (const d of dbsList) await dropVault(wh, d);
  io?.close();
  await wh?.close();
});

async function vault(prefix: string): Promise<{ dbs: VaultDatabases; suffix: string }> {
  const suffix = uniqueName(prefix);
  const dbs = await createVault(wh, prefix, suffix);
  dbsList.push(dbs);
  return { dbs, suffix };
}

describe('the per-day lease', () => {
  it('keeps two backfills of one day apart, and concurrent claims never both win', async () => {
    const { dbs } = await vault('lease');
    await ensureLedger(wh, dbs.ops);
    const other = await acquireLease(wh, dbs.ops, DAY1, 'other-run');
    await expect(
      runBackfill({
        wh,
        io,
        dbs,
        days: [DAY1],
        format: 'iceberg',
        mode: 'push',
        piiSalt: SALT,
        lockWaitMs: 1500,
      }),
    ).rejects.toBeInstanceOf(BackfillLockedError);
    await other.release();

    // Eight runs race for one day: whoever holds it is alone until it releases.
    let holders = 0;
    let maxHolders = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const lease = await acquireLease(wh, dbs.ops, '2026-01-01', `racer-${i}`, { waitMs: 60_000 });
        holders++;
        maxHolders = Math.max(maxHolders, holders);
        await new Promise((r) => setTimeout(r, 150));
        holders--;
        await lease.release();
      }),
    );
    expect(maxHolders).toBe(1);
  });
});

function startCli(
  args: string[],
  suffix: string,
): {
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  kill: (s: NodeJS.Signals) => void;
  waitFor: (re: RegExp) => Promise<void>;
} {
  const child = spawn(process.execPath, [`${REPO_ROOT}bin/run.js`, ...args, '--db-suffix', suffix], {
    env: {
      ...process.env,
      ...s3Env,
      SHOPDATA_CLICKHOUSE_URL: stack.clickhouseUrl,
      SHOPDATA_LAKE: lake,
      SHOPDATA_S3_ENDPOINT: stack.s3Endpoint,
      SHOPDATA_PII_SALT: SALT,
      SHOPDATA_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of waiters.splice(0))
      if (w.re.test(stderr)) w.resolve();
      else waiters.push(w);
  });
  child.stdout.resume();
  return {
    done: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr }))),
    kill: (s) => child.kill(s),
    waitFor: (re) => new Promise((resolve) => (re.test(stderr) ? resolve() : waiters.push({ re, resolve }))),
  };
}

describe('killing a backfill', () => {
  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`${signal} while staging: previous data stays visible, the re-run completes`, async () => {
      const { dbs, suffix } = await vault('kill');
      const day1 = onDay(all, DAY1);
      const lossy = day1.filter((_, i) => i % 10 !== 0); // the stream missed 10 %
      await loadLikeStream(wh, dbs, lossy);
      const before = await vaultSnapshot(wh, dbs);

      const run = startCli(['backfill', '--date', DAY1, '--mode', 'push'], suffix);
      await run.waitFor(/reading the lake into staging/);
      run.kill(signal);
      const res = await run.done;
      if (signal === 'SIGTERM') expect(res.code, res.stderr).toBe(130);
      else expect(res.signal).toBe('SIGKILL');
      expect(res.stderr).not.toMatch(/verifying staging row counts/);
      expect(await vaultSnapshot(wh, dbs)).toEqual(before);

      const again = startCli(['backfill', '--date', DAY1, '--mode', 'push', '--lock-wait', '90'], suffix);
      const done = await again.done;
      expect(done.code, done.stderr.slice(-2000)).toBe(0);
      const { dbs: exp } = await vault('killexp');
      await loadLikeStream(wh, exp, day1);
      expect(await vaultSnapshot(wh, dbs)).toEqual(await vaultSnapshot(wh, exp));
      const runs = await ledgerRuns(wh, dbs.ops, DAY1);
      expect(runs.at(-1)!.status).toBe('done');
      if (signal === 'SIGTERM') expect(runs[0]!.status).toBe('failed');
    });
  }
});
