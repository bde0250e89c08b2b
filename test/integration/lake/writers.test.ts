import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join, relative } from 'node:path';
import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { loadConfig } from '../../../src/lib/config/index.js';
import { openLake, type LakeIO } from '../../../src/lib/lake/io.js';
import { readChangelog, writeChangelog, openConfiguredLake } from '../../../src/lib/lake/index.js';
import {
  loadTableMetadata,
  parseJsonExact,
  stringifyJsonExact,
  type TableMetadata,
} from '../../../src/lib/lake/iceberg/metadata.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { pathTables } from '../../../src/lib/lake/tables.js';
import { openLakeTables } from '../../../src/lib/lake/catalog/index.js';
import { LAKE_SCHEMAS, icebergSchemaOf } from '../../../src/lib/lake/schema.js';
import { runArchive } from '../../../src/lib/archive/index.js';
import { runBackfill } from '../../../src/lib/backfill/run.js';
import { runChecks } from '../../../src/lib/check/index.js';
import { TopicRouter } from '../../../src/lib/debezium/topics.js';
import { createLogger } from '../../../src/lib/log/index.js';
import { SOURCE_TABLES, type SourceChange, type SourceTable } from '../../../src/lib/vault/types.js';
import { stack, s3Env, uniqueName } from '../../helpers/stack.js';
import { sampleChanges, DAY1, DAY2 } from '../../fixtures/lake/changes.js';
import { pyTool, repoTmpDir, removeTmpDirs, expectedRow, sortRows } from './helpers.js';
import { eventStream, replayLine, writeReplay } from '../archive/helpers.js';
import { LosingProxy } from '../archive/proxy.js';
import { catalogUrl, dropCatalogNamespace } from '../archive/catalog.js';
import { SALT, createVault, vaultSnapshot } from '../backfill/helpers.js';

// Tables written by `archive` (path-based and through the REST catalog), by pyiceberg through the
// catalog, and by our writer read the same in shopdata, in pyiceberg and in ClickHouse (chDB).
process.env.AWS_ACCESS_KEY_ID ??= s3Env.AWS_ACCESS_KEY_ID;
process.env.AWS_SECRET_ACCESS_KEY ??= s3Env.AWS_SECRET_ACCESS_KEY;
const logger = createLogger({ level: 'warn' });
// MongoDB dates have millisecond precision: the fixture's µs in `ts` would not survive Debezium.
const changes = Object.fromEntries(
  Object.entries(sampleChanges(16, 3)).map(([t, cs]) => [
    t,
    cs.map((c) =>
      typeof c.row.ts === 'number' ? { ...c, row: { ...c.row, ts: Math.floor(c.row.ts / 1000) * 1000 } } : c,
    ),
  ]),
) as Record<SourceTable, SourceChange[]>;
const all = SOURCE_TABLES.flatMap((t) => changes[t]).sort((a, b) => a.commitTsUs - b.commitTsUs);
let wh: Warehouse;
const ios: LakeIO[] = [];
const s3 = `${stack.s3Endpoint.replace(/\/$/, '')}`;

beforeAll(async () => {
  wh = await openWarehouse(`chdb:${repoTmpDir('chdb_writers')}`);
});
const namespaces: string[] = [];
/** A unique namespace of the shared catalog, dropped after the file. */
function testNamespace(prefix: string): string {
  const n = uniqueName(prefix);
  namespaces.push(n);
  return n;
}
afterAll(async () => {
  for (const n of namespaces) await dropCatalogNamespace(n);
  ios.forEach((io) => io.close());
  await wh?.close();
  removeTmpDirs();
});

function catalogConfig(namespace: string, uri = catalogUrl()) {
  return loadConfig({
    env: {
      SHOPDATA_ICEBERG_CATALOG_URI: uri,
      SHOPDATA_ICEBERG_CATALOG_NAMESPACE: namespace,
      SHOPDATA_S3_ENDPOINT: stack.s3Endpoint,
    },
    configFile: undefined,
  }).config;
}

async function archiveInto(tables: ReturnType<typeof pathTables>, dir: string, cs: readonly SourceChange[]) {
  const { lines } = eventStream(cs);
  const file = join(dir, `events-${uniqueName('f')}.jsonl`);
  writeReplay(file, lines.map(replayLine));
  return runArchive({
    config: loadConfig({ env: {}, configFile: undefined }).config,
    logger,
    signal: new AbortController().signal,
    tables,
    fromFile: file,
    untilIdle: true,
    idleMs: 0,
    topics: [],
    groupId: 'unused',
    dlqTopic: 'unused',
    router: new TopicRouter(),
    rollBytes: 1 << 30,
    rollMs: 3_600_000,
    maxBufferedBytes: 1 << 30,
    maxLineBytes: 1 << 24,
    giveUpAfterMs: 30_000,
    shutdownGraceMs: 5_000,
  });
}

/** (key, __op, __ts) per row as ClickHouse reads the table. */
async function chRows(fromSql: string, table: SourceTable): Promise<string[]> {
  const key = LAKE_SCHEMAS[table].key[0]!;
  const rows = await wh.query<{ k: string }>(
    `SELECT concat(toString(${key}), '|', __op, '|', toString(toUnixTimestamp64Micro(__ts))) AS k FROM ${fromSql}`,
  );
  return rows.map((r) => r.k).sort();
}

function expectedKeys(table: SourceTable): string[] {
  const key = LAKE_SCHEMAS[table].key[0]!;
  return changes[table].map((c) => `${String(c.row[key])}|${c.op}|${c.commitTsUs}`).sort();
}

const range = { format: 'iceberg' as const, from: DAY1, to: DAY2 };

describe('the lake tables of every writer read the same in shopdata, pyiceberg and ClickHouse', () => {
  it('archive into a path-based lake', async () => {
    const dir = repoTmpDir('writers-archive');
    const io = openLake(join(dir, 'lake'));
    ios.push(io);
    await archiveInto(pathTables(io), dir, all);
    for (const t of SOURCE_TABLES) {
      const want = sortRows(changes[t].map(expectedRow));
      const ours = await readChangelog(io, t, range);
      expect(sortRows(ours.map(expectedRow)), t).toEqual(want);
      const md = await loadTableMetadata(io, io.url('iceberg', t));
      const py = await pyTool<{ rows: Record<string, unknown>[] }>('read', { metadata: md!.uri });
      expect(sortRows(py.rows), t).toEqual(want);
      const path = relative(process.cwd(), io.url('iceberg', t));
      expect(await chRows(`icebergLocal('${path}')`, t), t).toEqual(expectedKeys(t));
    }
  });

  it('archive through the REST catalog, and pyiceberg through the same catalog', async () => {
    const ns = testNamespace('wr');
    const config = catalogConfig(ns);
    const tables = await openLakeTables(config);
    ios.push(tables.io);
    await archiveInto(tables, repoTmpDir('writers-catalog'), all);
    // pyiceberg writes one more table of its own into the catalog.
    const pyNs = testNamespace('py');
    await pyTool('rest_write', {
      uri: catalogUrl(),
      namespace: pyNs,
      table: 'ratings',
      schema: icebergSchemaOf(LAKE_SCHEMAS.ratings),
      rows: changes.ratings.map(expectedRow),
    });
    const pyIo = openConfiguredLake(catalogConfig(pyNs));
    ios.push(pyIo);
    const fromPy = await readChangelog(pyIo, 'ratings', range);
    expect(sortRows(fromPy.map(expectedRow))).toEqual(sortRows(changes.ratings.map(expectedRow)));

    const io = openConfiguredLake(config);
    ios.push(io);
    for (const t of SOURCE_TABLES) {
      const want = sortRows(changes[t].map(expectedRow));
      expect(sortRows((await readChangelog(io, t, range)).map(expectedRow)), t).toEqual(want);
      const py = await pyTool<{ rows: Record<string, unknown>[] }>('rest_read', {
        uri: catalogUrl(),
        namespace: ns,
        table: t,
      });
      expect(sortRows(py.rows), t).toEqual(want);
      const loaded = (await (await fetch(`${catalogUrl()}/v1/namespaces/${ns}/tables/${t}`)).json()) as {
        'metadata-location': string;
        metadata: { location: string };
      };
      const location = loaded.metadata.location.replace(/\/$/, '');
      const file = loaded['metadata-location'].slice(location.length + 1);
      const url = `${s3}/${location.replace(/^s3:\/\//, '')}/`;
      expect(
        await chRows(
          `icebergS3('${url}', 'test', 'test', SETTINGS iceberg_metadata_file_path = '${file}')`,
          t,
        ),
        t,
      ).toEqual(expectedKeys(t));
    }
  });

  it('merged manifests and expired snapshots read the same in pyiceberg and ClickHouse', async () => {
    const dir = repoTmpDir('writers-merge');
    const io = openLake(join(dir, 'lake'));
    ios.push(io);
    const cs = changes.purchases;
    await writeChangelog(io, 'purchases', cs.slice(0, 1), { format: 'iceberg' });
    const uri = io.url('iceberg', 'purchases');
    const first = (await loadTableMetadata(io, uri))!;
    const md = parseJsonExact<TableMetadata>(readFileSync(first.uri, 'utf8'));
    md.properties = {
      ...md.properties,
      'commit.manifest.min-count-to-merge': '3',
      'history.expire.max-snapshot-age-ms': '0',
      'history.expire.min-snapshots-to-keep': '2',
    };
    writeFileSync(first.uri, stringifyJsonExact(md, 2));
    for (const c of cs.slice(1)) await writeChangelog(io, 'purchases', [c], { format: 'iceberg' });
    const loaded = (await loadTableMetadata(io, uri))!;
    expect(loaded.metadata.snapshots).toHaveLength(2);
    const want = sortRows(cs.map(expectedRow));
    const py = await pyTool<{ rows: Record<string, unknown>[] }>('read', { metadata: loaded.uri });
    expect(sortRows(py.rows)).toEqual(want);
    expect(sortRows((await readChangelog(io, 'purchases', range)).map(expectedRow))).toEqual(want);
    expect(await chRows(`icebergLocal('${relative(process.cwd(), uri)}')`, 'purchases')).toEqual(
      expectedKeys('purchases'),
    );
  });

  it('column statistics let pyiceberg skip files', async () => {
    const dir = repoTmpDir('writers-stats');
    const io = openLake(join(dir, 'lake'));
    ios.push(io);
    const day1 = changes.ratings.filter((c) => new Date(c.commitTsUs / 1000).toISOString().startsWith(DAY1));
    const low = day1.map((c) => ({ ...c, row: { ...c.row, user_id: Number(c.row.user_id) } }));
    const high = day1.map((c) => ({ ...c, row: { ...c.row, user_id: Number(c.row.user_id) + 1000 } }));
    await writeChangelog(io, 'ratings', low, { format: 'iceberg' });
    await writeChangelog(io, 'ratings', high, { format: 'iceberg' });
    const md = await loadTableMetadata(io, io.url('iceberg', 'ratings'));
    const all2 = await pyTool<{ files: number; rows: number }>('plan', {
      metadata: md!.uri,
      filter: 'user_id >= 0',
    });
    expect(all2).toEqual({ files: 2, rows: low.length + high.length });
    const pruned = await pyTool<{ files: number; rows: number }>('plan', {
      metadata: md!.uri,
      filter: 'user_id >= 1000',
    });
    expect(pruned).toEqual({ files: 1, rows: high.length });
    const none = await pyTool<{ files: number; rows: number }>('plan', {
      metadata: md!.uri,
      filter: `_id == 'no such rating'`,
    });
    expect(none.rows).toBe(0);
  });
});

describe('reading through the REST catalog', () => {
  it('sends the bearer token, or OAuth2 client credentials for a token', async () => {
    const headers: string[] = [];
    const proxy = new LosingProxy(catalogUrl(), (req) => {
      headers.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
      return false;
    });
    await proxy.start();
    try {
      const ns = testNamespace('auth');
      await pyTool('rest_write', {
        uri: catalogUrl(),
        namespace: ns,
        table: 'users',
        schema: icebergSchemaOf(LAKE_SCHEMAS.users),
        rows: changes.users.map(expectedRow),
      });
      process.env.SHOPDATA_ICEBERG_CATALOG_TOKEN = 'tok-123';
      const a = openConfiguredLake(catalogConfig(ns, proxy.url));
      expect(await readChangelog(a, 'users', range)).toHaveLength(changes.users.length);
      a.close();
      delete process.env.SHOPDATA_ICEBERG_CATALOG_TOKEN;
      process.env.SHOPDATA_ICEBERG_CATALOG_CREDENTIAL = 'shopdata:s3cret';
      const b = openConfiguredLake(catalogConfig(ns, proxy.url));
      expect(await readChangelog(b, 'users', range)).toHaveLength(changes.users.length);
      b.close();
    } finally {
      delete process.env.SHOPDATA_ICEBERG_CATALOG_TOKEN;
      delete process.env.SHOPDATA_ICEBERG_CATALOG_CREDENTIAL;
      await proxy.stop();
    }
    const tokenCalls = headers.filter((h) => h.endsWith('Bearer tok-123'));
    expect(tokenCalls.some((h) => h.startsWith('GET /v1/namespaces/'))).toBe(true);
    expect(headers.some((h) => h.startsWith('POST /v1/oauth/tokens'))).toBe(true);
    const after = headers.slice(headers.findIndex((h) => h.startsWith('POST /v1/oauth/tokens')) + 1);
    expect(after.length).toBeGreaterThan(0);
    for (const h of after) expect(h).toMatch(/Bearer \S*shopdata/);
  });

  it('backfill push and pull through the catalog give the same vault; a pinned snapshot reads the past', async () => {
    const ns = testNamespace('bfc');
    const config = catalogConfig(ns);
    const tables = await openLakeTables(config);
    ios.push(tables.io);
    const first = all.filter((c) => c.commitTsUs < all[Math.floor(all.length / 2)]!.commitTsUs);
    const r1 = await archiveInto(tables, repoTmpDir('bf-catalog'), first);
    await archiveInto(tables, repoTmpDir('bf-catalog'), all);
    const io = openConfiguredLake(config);
    ios.push(io);
    const s3Creds = { endpoint: stack.s3Endpoint, accessKeyId: 'test', secretAccessKey: 'test' };
    const pushDbs = await createVault(wh, 'cpush');
    const pullDbs = await createVault(wh, 'cpull');
    const push = await runBackfill({
      wh,
      io,
      dbs: pushDbs,
      days: [DAY1, DAY2],
      format: 'auto',
      mode: 'push',
      piiSalt: SALT,
    });
    const pull = await runBackfill({
      wh,
      io,
      dbs: pullDbs,
      days: [DAY1, DAY2],
      format: 'auto',
      mode: 'pull',
      piiSalt: SALT,
      s3: s3Creds,
    });
    expect(pull.days.map((d) => d.mode)).toEqual(['pull', 'pull']);
    expect(push.days.map((d) => d.status)).toEqual(pull.days.map((d) => d.status));
    const a = await vaultSnapshot(wh, pushDbs);
    expect(Object.values(a).reduce((n, rows) => n + rows.length, 0)).toBeGreaterThan(50);
    expect(await vaultSnapshot(wh, pullDbs)).toEqual(a);

    // vault check's lake checks read through the catalog too: the backfilled vault matches the lake.
    const { report } = await runChecks({
      wh,
      dbs: pushDbs,
      checks: ['reconcile-lake', 'lost-changes'],
      lake: { io, uri: config.lake.uri },
      piiSalt: SALT,
    });
    for (const c of report.checks) expect(c.status, `${c.id}: ${c.message}`).toBe('pass');
    expect(report.checks.map((c) => c.id).sort()).toEqual(['lost-changes', 'reconcile-lake']);

    // Pinned to the first archive run's snapshot of ratings: only the first half of its changes.
    const pinned = await readChangelog(io, 'ratings', {
      ...range,
      snapshotId: BigInt(r1.tables.ratings!.snapshotId!),
    });
    expect(pinned).toHaveLength(first.filter((c) => c.table === 'ratings').length);
    expect(pinned.length).toBeLessThan(changes.ratings.length);
  });
});
