import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { openLake, parseS3Uri, S3LakeIO, type LakeIO } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import { runBackfill } from '../../../src/lib/backfill/run.js';
import { SOURCE_TABLES } from '../../../src/lib/vault/types.js';
import { stack } from '../../helpers/stack.js';
import { sampleChanges, DAY1 } from '../../fixtures/lake/changes.js';
import { s3Lake, repoTmpDir, removeTmpDirs } from '../lake/helpers.js';
import { createVault, vaultSnapshot } from './helpers.js';

// Issue 18 §6 and §10 on embedded ClickHouse 26 (chDB) with the stack's S3 (moto):
// - the PII salt and the AWS credentials are never part of the SQL a pull sends (servers keep
//   the SQL text in system.query_log and system.processes), yet the rows equal push's and S3
//   requests are signed with the intended credentials (seen by a recording proxy before moto);
// - lake file names with glob characters are read exactly.
// chDB signs with this process's AWS_* variables: unique values, set before chDB loads.
const KEY_ID = `AKIASHOPDATA${randomBytes(4).toString('hex').toUpperCase()}`;
const SECRET = `aws-secret-${randomBytes(8).toString('hex')}`;
process.env.AWS_ACCESS_KEY_ID = KEY_ID;
process.env.AWS_SECRET_ACCESS_KEY = SECRET;
const SALT = `pull-salt-${randomBytes(8).toString('hex')}`;

let wh: Warehouse;
let proxy: Server;
let proxyUrl = '';
/** The access key id of every S3 request that went through the proxy. */
const signedWith: string[] = [];
const ios: LakeIO[] = [];
const changes = sampleChanges(24, 11);

beforeAll(async () => {
  wh = await openWarehouse(`chdb:${repoTmpDir('chdb_sec')}`);
  const moto = new URL(stack.s3Endpoint);
  proxy = createServer((req, res) => {
    signedWith.push(/Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? 'unsigned');
    const up = request(
      { host: moto.hostname, port: moto.port, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  ios.forEach((io) => io.close());
  await wh?.close();
  await new Promise((r) => proxy?.close(r));
  removeTmpDirs();
});

/** The warehouse, recording the text of every statement and its settings (what a server logs). */
function recording(inner: Warehouse): { wh: Warehouse; sqlText: string[]; inserts: Map<string, object[]> } {
  const sqlText: string[] = [];
  const inserts = new Map<string, object[]>();
  const wrapped = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'exec' || prop === 'query')
        return (sql: string, settings?: object) => {
          sqlText.push(`${sql} ${JSON.stringify(settings ?? {})}`);
          return (target[prop] as (s: string, x?: object) => Promise<unknown>).call(target, sql, settings);
        };
      if (prop === 'insert')
        return (table: string, rows: readonly object[], settings?: object) => {
          sqlText.push(`INSERT INTO ${table} ${JSON.stringify(settings ?? {})}`);
          inserts.set(table, [...(inserts.get(table) ?? []), ...rows]);
          return target.insert(table, rows, settings as never);
        };
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return { wh: wrapped, sqlText, inserts };
}

async function lake(kind: 's3' | 'local', format: 'iceberg' | 'parquet'): Promise<LakeIO> {
  const io =
    kind === 's3'
      ? openLake(s3Lake('bfsec'), { s3Endpoint: stack.s3Endpoint })
      : openLake(repoTmpDir('bfsec'));
  ios.push(io);
  for (const t of SOURCE_TABLES) await writeChangelog(io, t, changes[t], { format, codec: 'ZSTD' });
  return io;
}

/** Renames one Parquet file of a table's day to `name` (a lake file name is data, not SQL). */
async function renameOneFile(io: LakeIO, table: string, name: string): Promise<void> {
  const files = (await io.list(io.url('parquet', table, `dt=${DAY1}`))).filter((f) =>
    f.uri.endsWith('.parquet'),
  );
  expect(files.length).toBeGreaterThan(0);
  const from = files[0]!.uri;
  await io.write(`${from.slice(0, from.lastIndexOf('/'))}/${name}`, await io.read(from));
  if (io instanceof S3LakeIO) {
    const { bucket, key } = parseS3Uri(from);
    await io.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  } else rmSync(from);
  expect((await io.list(from)).length).toBe(0);
}

async function pushSnapshot(io: LakeIO, format: 'iceberg' | 'parquet'): Promise<Record<string, unknown[]>> {
  const dbs = await createVault(wh, 'secpush');
  await runBackfill({ wh, io, dbs, days: [DAY1], format, mode: 'push', piiSalt: SALT });
  return vaultSnapshot(wh, dbs);
}

function expectNoSecretIn(sqlText: string[]): void {
  const all = sqlText.join('\n');
  for (const secret of [SALT, SECRET, KEY_ID]) expect(all).not.toContain(secret);
}

describe('pull sends no secret as SQL, and reads every lake file name exactly (chDB)', () => {
  for (const [kind, format] of [
    ['s3', 'iceberg'],
    ['s3', 'parquet'],
    ['local', 'parquet'],
  ] as const) {
    it(`${format} lake on ${kind}: no salt or AWS key in any statement, rows = push`, async () => {
      const io = await lake(kind, format);
      if (format === 'parquet') {
        await renameOneFile(io, 'users', 'b}.parquet');
        await renameOneFile(io, 'products', "a{1,2}*?'.parquet");
      }
      const expected = await pushSnapshot(io, format);
      const rec = recording(wh);
      const dbs = await createVault(wh, 'secpull');
      signedWith.length = 0;
      const res = await runBackfill({
        wh: rec.wh,
        io,
        dbs,
        days: [DAY1],
        format,
        mode: 'pull',
        piiSalt: SALT,
        s3: { endpoint: proxyUrl },
        cwd: process.cwd(),
      });
      expect(res.days[0]!.mode).toBe('pull');
      expect(await vaultSnapshot(wh, dbs)).toEqual(expected);
      expect(Object.values(expected).reduce((n, rows) => n + rows.length, 0)).toBeGreaterThan(40);
      expectNoSecretIn(rec.sqlText);
      // The salt reached the engine once, as the data of an insert into the day's key table...
      const keyTables = [...rec.inserts.keys()].filter((t) => t.endsWith('_key'));
      expect(keyTables).toEqual([`${dbs.ops}.backfill_${DAY1.replaceAll('-', '')}_key`]);
      expect(rec.inserts.get(keyTables[0]!)).toEqual([{ salt: SALT }]);
      // ...which is gone with the staging tables.
      const left = await wh.query(
        `SELECT name FROM system.tables WHERE database = '${dbs.ops}' AND name LIKE '%_key'`,
      );
      expect(left).toEqual([]);
      // chDB signed every S3 request with this process's credentials.
      if (kind === 's3') {
        expect(signedWith.length).toBeGreaterThan(0);
        expect(new Set(signedWith)).toEqual(new Set([KEY_ID]));
      }
    });
  }

  it('with a named collection the collection signs, and the SQL names only the collection', async () => {
    const io = await lake('s3', 'parquet');
    const ncKey = `AKIACOLLECTION${randomBytes(3).toString('hex').toUpperCase()}`;
    const nc = `shopdata_lake_${randomBytes(3).toString('hex')}`;
    // What an operator would define on the server (config.xml or CREATE NAMED COLLECTION).
    await wh.exec(
      `CREATE NAMED COLLECTION ${nc} AS access_key_id = '${ncKey}', secret_access_key = 'collection-secret-1'`,
    );
    try {
      const expected = await pushSnapshot(io, 'parquet');
      const rec = recording(wh);
      const dbs = await createVault(wh, 'secnc');
      signedWith.length = 0;
      await runBackfill({
        wh: rec.wh,
        io,
        dbs,
        days: [DAY1],
        format: 'parquet',
        mode: 'pull',
        piiSalt: SALT,
        s3: { endpoint: proxyUrl, namedCollection: nc },
      });
      expect(await vaultSnapshot(wh, dbs)).toEqual(expected);
      expectNoSecretIn(rec.sqlText);
      expect(rec.sqlText.join('\n')).not.toContain('collection-secret-1');
      expect(rec.sqlText.some((s) => s.includes(`s3(\`${nc}\`, url = `))).toBe(true);
      expect(new Set(signedWith)).toEqual(new Set([ncKey]));
    } finally {
      await wh.exec(`DROP NAMED COLLECTION IF EXISTS ${nc}`);
    }
  });
});
