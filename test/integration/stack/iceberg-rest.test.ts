import { spawnSync } from 'node:child_process';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, STACK_DIR, s3Env, stack, uniqueName } from '../../helpers/stack.js';
import { stackPort } from './ports.js';
import { catalogTool, catalogUri, dropNamespaces, scanLake } from '../lake-sink/support.js';

// Needs scripts/stack/up iceberg-rest (and s3, python): Apache Iceberg's REST catalog server on
// loopback, tables on the stack's S3, metadata in SQLite under .stack/iceberg-rest.
const port = stackPort('ICEBERG_REST_PORT');
const ns = uniqueName('stack_rest');
const script = (...args: string[]) =>
  spawnSync('bash', [`${REPO_ROOT}scripts/stack/${args[0]}`, ...args.slice(1)], {
    encoding: 'utf8',
    env: { ...process.env, SHOPDATA_STACK_DIR: STACK_DIR },
  });

describe('stack: iceberg-rest', () => {
  afterAll(async () => {
    await dropNamespaces([ns]);
  });

  it('status reports the catalog, its version, warehouse and metadata store', () => {
    const r = script('status', 'iceberg-rest');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^iceberg-rest +up +Iceberg REST catalog 1\\.10\\.0 http://127\\.0\\.0\\.1:${port} warehouse s3://shopdata-lake/catalog, metadata .*/iceberg-rest/catalog\\.db \\(\\d+ namespaces\\)`,
      ),
    );
  });

  it('listens on loopback only, and a second start is a no-op', () => {
    const ss = spawnSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
    const local = ss.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[3]);
    expect(local.length).toBeGreaterThan(0);
    for (const addr of local) expect(addr).toMatch(/^(\[::ffff:127\.0\.0\.1\]|127\.0\.0\.1):\d+$/);
    const pid = spawnSync('cat', [`${STACK_DIR}/run/iceberg-rest.pid`], { encoding: 'utf8' }).stdout;
    const again = script('services/iceberg-rest.sh', 'start');
    expect(again.status, again.stderr).toBe(0);
    expect(spawnSync('cat', [`${STACK_DIR}/run/iceberg-rest.pid`], { encoding: 'utf8' }).stdout).toBe(pid);
  });

  it('pyiceberg creates, appends and reads a table through it; files on S3, the table in SQLite', async () => {
    await catalogTool('create', {
      uri: catalogUri,
      identifier: `${ns}.t`,
      columns: [
        ['id', 'long'],
        ['name', 'string'],
      ],
    });
    const appended = await catalogTool<{ snapshot_id: number; location: string }>('append', {
      uri: catalogUri,
      identifier: `${ns}.t`,
      rows: [
        { id: 1, name: 'one' },
        { id: 2, name: 'two' },
      ],
    });
    expect(appended.location).toBe(`s3://${stack.s3Bucket}/catalog/${ns}/t`);
    const lake = await scanLake(ns, ['t']);
    expect(lake.t!.rows).toEqual([
      { id: 1, name: 'one' },
      { id: 2, name: 'two' },
    ]);
    expect(lake.t!.snapshots.map((s) => s.id)).toEqual([appended.snapshot_id]);

    const s3 = new S3Client({
      endpoint: stack.s3Endpoint,
      region: s3Env.AWS_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: s3Env.AWS_ACCESS_KEY_ID, secretAccessKey: s3Env.AWS_SECRET_ACCESS_KEY },
    });
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: stack.s3Bucket, Prefix: `catalog/${ns}/t/` }),
    );
    s3.destroy();
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    expect(keys.some((k) => k.endsWith('.parquet'))).toBe(true);
    expect(keys.some((k) => k.endsWith('.metadata.json'))).toBe(true);

    const db = spawnSync(
      stack.python,
      [
        '-c',
        'import sqlite3, sys; c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True); ' +
          'print(c.execute("select metadata_location from iceberg_tables where table_namespace = ? and table_name = ?", (sys.argv[2], "t")).fetchone()[0])',
        `${STACK_DIR}/iceberg-rest/catalog.db`,
        ns,
      ],
      { encoding: 'utf8' },
    );
    expect(db.status, db.stderr).toBe(0);
    expect(db.stdout.trim()).toMatch(
      new RegExp(`^s3://${stack.s3Bucket}/catalog/${ns}/t/metadata/00001-.*\\.metadata\\.json$`),
    );
  });
});
