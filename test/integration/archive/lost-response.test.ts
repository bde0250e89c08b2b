import { describe, it, expect, afterEach, onTestFinished } from 'vitest';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { stack, s3Env, uniqueName } from '../../helpers/stack.js';
import { generateShop } from '../../../src/lib/shop/index.js';
import { openLake } from '../../../src/lib/lake/io.js';
import { writeChangelog } from '../../../src/lib/lake/index.js';
import { loadTableMetadata } from '../../../src/lib/lake/iceberg/metadata.js';
import { LAKE_SCHEMAS } from '../../../src/lib/lake/schema.js';
import { SOURCE_TABLES, type SourceTable } from '../../../src/lib/vault/types.js';
import type { ArchiveResult } from '../../../src/lib/archive/index.js';
import { pyTool, repoTmpDir, removeTmpDirs, s3Lake } from '../lake/helpers.js';
import { eventStream, replayLine, writeReplay } from './helpers.js';
import { LosingProxy } from './proxy.js';
import { catalogUrl, dropCatalogNamespace } from './catalog.js';

// The conditional-PUT commit (and the catalog commit) is safe to retry: a response lost after the
// write took effect makes the client retry, get 412 (or 409), and before this fix append the same
// data again at the next version. Here the response really is lost, by a proxy in front of the
// stack's moto S3 and of the REST catalog.
process.env.AWS_ACCESS_KEY_ID ??= s3Env.AWS_ACCESS_KEY_ID;
process.env.AWS_SECRET_ACCESS_KEY ??= s3Env.AWS_SECRET_ACCESS_KEY;
const proxies: LosingProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
  removeTmpDirs();
});

async function counts(metadata: string, table: SourceTable) {
  return pyTool<{ rows: number; distinct: number; snapshots: number }>('count', {
    metadata,
    key: LAKE_SCHEMAS[table].key,
  });
}

function replayOf(dir: string, days = 2): { file: string; expected: Record<string, number> } {
  const changes = generateShop({ seed: 5, days, start: '2026-10-01' }).changes;
  const { lines, expected } = eventStream(changes);
  const file = join(dir, 'events.jsonl');
  writeReplay(file, lines.map(replayLine));
  return { file, expected };
}

describe('a commit whose response is lost is not applied twice', () => {
  it('path-based S3 lake: the metadata PUT succeeded, its response never arrived', async () => {
    let metadataPuts = 0;
    const proxy = new LosingProxy(stack.s3Endpoint, (req) => {
      const isCommit =
        req.method === 'PUT' &&
        /\/ratings\/metadata\/v\d+\.metadata\.json/.test(req.url ?? '') &&
        req.headers['if-none-match'] === '*';
      return isCommit && ++metadataPuts === 1;
    });
    proxies.push(proxy);
    await proxy.start();
    const dir = repoTmpDir('lost-s3');
    const { file, expected } = replayOf(dir);
    const lake = s3Lake('lost');
    const r = await runCli(['archive', '--from-file', file, '--until-idle', '--json'], {
      env: {
        SHOPDATA_LAKE: lake,
        SHOPDATA_S3_ENDPOINT: proxy.url,
        SHOPDATA_ICEBERG_CATALOG_URI: undefined,
        ...s3Env,
      },
    });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(proxy.dropped).toHaveLength(1);
    expect(proxy.dropped[0]).toMatch(/PUT .*ratings\/metadata\/v1\.metadata\.json\S* → 200/);
    const io = openLake(lake, { s3Endpoint: stack.s3Endpoint });
    for (const t of SOURCE_TABLES) {
      const md = await loadTableMetadata(io, io.url('iceberg', t));
      const c = await counts(md!.uri, t);
      expect(c.rows, t).toBe(expected[t] ?? 0);
      expect(c.distinct, t).toBe(c.rows);
      expect(c.snapshots, t).toBe(1);
    }
    io.close();
    const result = JSON.parse(r.stdout) as ArchiveResult;
    expect(result.tables.ratings?.commits).toBe(1);
  });

  it('the writer API (writeChangelog) recognises its own commit after a lost response', async () => {
    let n = 0;
    const proxy = new LosingProxy(
      stack.s3Endpoint,
      (req) => req.method === 'PUT' && /v2\.metadata\.json/.test(req.url ?? '') && ++n === 1,
    );
    proxies.push(proxy);
    await proxy.start();
    const lake = s3Lake('lost-api');
    const io = openLake(lake, { s3Endpoint: proxy.url });
    const changes = generateShop({ seed: 3, days: 1, start: '2026-10-01' }).changes.filter(
      (c) => c.table === 'ratings',
    );
    await writeChangelog(io, 'ratings', changes.slice(0, 5), { format: 'iceberg' });
    const second = await writeChangelog(io, 'ratings', changes.slice(5), { format: 'iceberg' });
    io.close();
    expect(proxy.dropped).toHaveLength(1);
    expect(second.snapshotId).toBeDefined();
    const direct = openLake(lake, { s3Endpoint: stack.s3Endpoint });
    const md = await loadTableMetadata(direct, direct.url('iceberg', 'ratings'));
    direct.close();
    expect(md!.metadata.snapshots).toHaveLength(2);
    const c = await counts(md!.uri, 'ratings');
    expect(c.rows).toBe(changes.length);
  });

  it('REST catalog: the commit POST succeeded, its response never arrived', async () => {
    const namespace = uniqueName('lost');
    onTestFinished(() => dropCatalogNamespace(namespace));
    let commits = 0;
    const proxy = new LosingProxy(catalogUrl(), (req) => {
      const isCommit =
        req.method === 'POST' && new RegExp(`/namespaces/${namespace}/tables/ratings$`).test(req.url ?? '');
      return isCommit && ++commits === 1;
    });
    proxies.push(proxy);
    await proxy.start();
    const dir = repoTmpDir('lost-catalog');
    const { file, expected } = replayOf(dir, 1);
    const r = await runCli(['archive', '--from-file', file, '--until-idle', '--json'], {
      env: {
        SHOPDATA_ICEBERG_CATALOG_URI: proxy.url,
        SHOPDATA_ICEBERG_CATALOG_NAMESPACE: namespace,
        SHOPDATA_S3_ENDPOINT: stack.s3Endpoint,
        ...s3Env,
      },
    });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(proxy.dropped).toHaveLength(1);
    const res = await fetch(`${catalogUrl()}/v1/namespaces/${namespace}/tables/ratings`);
    const loaded = (await res.json()) as { 'metadata-location': string };
    const c = await counts(loaded['metadata-location'], 'ratings');
    expect(c.rows).toBe(expected.ratings);
    expect(c.distinct).toBe(c.rows);
    expect(c.snapshots).toBe(1);
  });
});
