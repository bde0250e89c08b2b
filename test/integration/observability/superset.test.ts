import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chownSync,
  cpSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openWarehouse, type Warehouse } from '../../../src/lib/warehouse/index.js';
import { migrate } from '../../../src/lib/warehouse/migrations/index.js';
import { insertRowSet, mapChanges, type VaultDatabases } from '../../../src/lib/vault/index.js';
import { renderBiUser } from '../../../src/lib/warehouse/bi-user.js';
import { randomBytes } from 'node:crypto';
import { ports, REPO_ROOT, stack, STACK_DIR, uniqueName } from '../../helpers/stack.js';

// The Superset bundle of templates/superset/ imported into the stack's real Superset 6
// (scripts/stack/services/superset.sh), its charts queried through Superset's API from the stack's
// ClickHouse 18.16 as the read-only BI user. The marts live in unique databases with a few known
// rows; the BI user template is installed under a unique name for them (as test/integration/vault
// does), so nothing here touches the shared vault/mart databases.
const SUPERSET = `http://127.0.0.1:${ports.SUPERSET_PORT}`;
const BUNDLE = join(REPO_ROOT, 'templates/superset/shopdata_dashboard');
const USERS_D = join(STACK_DIR, 'clickhouse/etc/users.d');
const suffix = uniqueName('ss');
const dbs: VaultDatabases = { vault: `vault_${suffix}`, mart: `mart_${suffix}`, ops: `ops_${suffix}` };
const biUser = `bi_${suffix}`;
const biPassword = `bi-${randomBytes(12).toString('hex')}`;
const usersFile = join(USERS_D, `zz-${suffix}.xml`);
let admin: Warehouse;
let token = '';
const work = mkdtempSync(join(tmpdir(), 'superset-bundle-'));

async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${SUPERSET}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined && !(body instanceof FormData) ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* HTML error page */
  }
  return { status: res.status, json: json as T };
}

/** Superset's SQLite metadata keeps table names unique: remove what an earlier run imported. */
async function removeBundleObjects(): Promise<void> {
  const find = async (kind: string, col: string, value: string) =>
    (
      await api<{ result?: Array<{ id: number }> }>(
        'GET',
        `/api/v1/${kind}/?q=(filters:!((col:${col},opr:eq,value:'${encodeURIComponent(value)}')))`,
      )
    ).json.result?.map((r) => r.id) ?? [];
  const yamlField = (file: string, field: string) =>
    new RegExp(`^${field}: (.*)$`, 'm').exec(readFileSync(file, 'utf8'))?.[1]?.trim() ?? '';
  for (const id of await find('dashboard', 'slug', 'shopdata-sales'))
    await api('DELETE', `/api/v1/dashboard/${id}`);
  for (const f of readdirSync(join(BUNDLE, 'charts'))) {
    for (const id of await find('chart', 'slice_name', yamlField(join(BUNDLE, 'charts', f), 'slice_name')))
      await api('DELETE', `/api/v1/chart/${id}`);
  }
  for (const f of readdirSync(join(BUNDLE, 'datasets/shopdata_ClickHouse'))) {
    for (const id of await find('dataset', 'table_name', f.replace(/\.yaml$/, '')))
      await api('DELETE', `/api/v1/dataset/${id}`);
  }
  for (const id of await find(
    'database',
    'database_name',
    yamlField(join(BUNDLE, 'databases/shopdata_ClickHouse.yaml'), 'database_name'),
  )) {
    await api('DELETE', `/api/v1/database/${id}`);
  }
}

beforeAll(async () => {
  admin = await openWarehouse(stack.clickhouseUrl);
  await migrate(admin, { dbs });
  const day1 = Date.UTC(2026, 10, 20, 10) * 1000;
  const day2 = Date.UTC(2026, 10, 21, 9) * 1000;
  await insertRowSet(
    admin,
    mapChanges(
      [
        {
          table: 'products',
          op: 'c',
          commitTsUs: day1,
          row: {
            id: 1,
            seller_id: 1,
            sku: 'S1',
            name: 'Lamp',
            category: 'home',
            price: '4.00',
            active: true,
          },
        },
        {
          table: 'products',
          op: 'c',
          commitTsUs: day1,
          row: {
            id: 2,
            seller_id: 1,
            sku: 'S2',
            name: 'Ball',
            category: 'toys',
            price: '2.50',
            active: true,
          },
        },
        {
          table: 'purchases',
          op: 'c',
          commitTsUs: day1,
          row: {
            _id: 'a',
            order_id: 'o-1',
            user_id: 1,
            ts: day1,
            items: [
              { product_id: 1, qty: 2, unit_price: '4.00' },
              { product_id: 2, qty: 1, unit_price: '2.50' },
            ],
          },
        },
        {
          table: 'purchases',
          op: 'c',
          commitTsUs: day2,
          row: {
            _id: 'b',
            order_id: 'o-2',
            user_id: 2,
            ts: day2,
            items: [{ product_id: 2, qty: 4, unit_price: '2.50' }],
          },
        },
        {
          table: 'cancellations',
          op: 'c',
          commitTsUs: day2,
          row: { _id: 'c', order_id: 'o-1', user_id: 1, reason: 'late', ts: day2 },
        },
        {
          table: 'ratings',
          op: 'c',
          commitTsUs: day1,
          row: { _id: 'r1', user_id: 1, product_id: 1, stars: 4, ts: day1 },
        },
        {
          table: 'ratings',
          op: 'c',
          commitTsUs: day2,
          row: { _id: 'r2', user_id: 2, product_id: 1, stars: 5, ts: day2 },
        },
        {
          table: 'ratings',
          op: 'c',
          commitTsUs: day2,
          row: { _id: 'r3', user_id: 2, product_id: 2, stars: 3, ts: day2 },
        },
      ],
      { piiSalt: 'd723baa19b67db489ec786703069dc9ee04924b8d240e3c0498fb8843f53af2c', loadTs: new Date() },
    ),
    dbs,
  );
  // The BI user (`shopdata warehouse bi-user`), for this test's databases, under a unique name;
  // the server reloads users.d.
  const xml = renderBiUser({
    format: 'xml',
    user: biUser,
    allowFrom: ['127.0.0.1', '::1'],
    dbs,
    password: biPassword,
  }).config;
  writeFileSync(usersFile, xml);
  const owner = statSync(USERS_D);
  chownSync(usersFile, owner.uid, owner.gid);
  for (let i = 0; ; i++) {
    const r = await fetch(`http://127.0.0.1:${ports.CH_HTTP_PORT}/?user=${biUser}&password=${biPassword}`, {
      method: 'POST',
      body: `SELECT count() FROM ${dbs.mart}.product_ratings`,
    });
    if (r.ok) break;
    if (i > 60) throw new Error(`BI user ${biUser} not accepted: ${await r.text()}`);
    await sleep(500);
  }

  const login = await fetch(`${SUPERSET}/api/v1/security/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'admin', provider: 'db', refresh: false }),
  });
  expect(login.status).toBe(200);
  token = ((await login.json()) as { access_token: string }).access_token;
  await removeBundleObjects();
});

afterAll(async () => {
  rmSync(usersFile, { force: true });
  if (token) await removeBundleObjects().catch(() => undefined);
  if (admin) {
    for (const db of Object.values(dbs))
      await admin.exec(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
    await admin.close();
  }
  rmSync(work, { recursive: true, force: true });
});

interface ChartDataResult {
  result: Array<{
    colnames: string[];
    rowcount: number;
    data: Array<Record<string, unknown>>;
    query: string;
  }>;
}

/** A chart's data through POST /api/v1/chart/data with the query context the bundle saved for it. */
async function chartData(sliceName: string): Promise<ChartDataResult['result'][number]> {
  const charts = await api<{
    result: Array<{ id: number; slice_name: string; form_data: { datasource: string } }>;
  }>('GET', '/api/v1/dashboard/shopdata-sales/charts');
  expect(charts.status).toBe(200);
  const chart = charts.json.result.find((c) => c.slice_name === sliceName);
  expect(chart, `chart "${sliceName}" on the dashboard`).toBeDefined();
  const full = await api<{ result: { query_context: string } }>('GET', `/api/v1/chart/${chart!.id}`);
  const qc = JSON.parse(full.json.result.query_context) as { datasource: { id: number; type: string } };
  // The bundle cannot know the dataset's id in this Superset; the chart's form data does.
  const [id, type] = chart!.form_data.datasource.split('__');
  qc.datasource = { id: Number(id), type: type! };
  const r = await api<ChartDataResult | string>('POST', '/api/v1/chart/data', qc);
  expect(r.status, JSON.stringify(r.json).slice(0, 500)).toBe(200);
  return (r.json as ChartDataResult).result[0]!;
}

describe('Superset bundle (templates/superset) in a real Superset on ClickHouse 18.16', () => {
  it('imports: one dashboard with the four charts on the three marts, connected as the BI user', async () => {
    const dir = join(work, 'shopdata_dashboard');
    cpSync(BUNDLE, dir, { recursive: true });
    const dbFile = join(dir, 'databases/shopdata_ClickHouse.yaml');
    writeFileSync(
      dbFile,
      readFileSync(dbFile, 'utf8').replace(
        'clickhouse+http://shopdata_bi:XXXXXXXXXX@127.0.0.1:8123/mart',
        `clickhouse+http://${biUser}:XXXXXXXXXX@127.0.0.1:${ports.CH_HTTP_PORT}/${dbs.mart}`,
      ),
    );
    for (const f of readdirSync(join(dir, 'datasets/shopdata_ClickHouse'))) {
      const p = join(dir, 'datasets/shopdata_ClickHouse', f);
      writeFileSync(p, readFileSync(p, 'utf8').replace(/^schema: mart$/m, `schema: ${dbs.mart}`));
    }
    const zip = join(work, 'bundle.zip');
    execFileSync('python3', ['-m', 'zipfile', '-c', zip, 'shopdata_dashboard/'], { cwd: work });

    const form = new FormData();
    form.append('formData', new Blob([readFileSync(zip)]), 'bundle.zip');
    form.append('passwords', JSON.stringify({ 'databases/shopdata_ClickHouse.yaml': biPassword }));
    form.append('overwrite', 'true');
    const r = await api<{ message: string }>('POST', '/api/v1/dashboard/import/', form);
    expect(r.status, JSON.stringify(r.json).slice(0, 300)).toBe(200);

    const charts = await api<{ result: Array<{ slice_name: string }> }>(
      'GET',
      '/api/v1/dashboard/shopdata-sales/charts',
    );
    expect(charts.json.result.map((c) => c.slice_name).sort()).toEqual([
      'Orders and cancellations by day',
      'Product ratings',
      'Revenue by day',
      'Revenue by day and category',
    ]);
    const databases = await api<{
      result: Array<{ database_name: string; backend: string; expose_in_sqllab: boolean }>;
    }>('GET', '/api/v1/database/?q=(columns:!(database_name,backend,expose_in_sqllab))');
    // Not in SQL Lab by default (issue 18 §11): the BI connection serves the dashboard only.
    expect(databases.json.result).toEqual(
      expect.arrayContaining([
        { database_name: 'shopdata ClickHouse', backend: 'clickhouse', expose_in_sqllab: false },
      ]),
    );
  });

  it("answers the ratings chart from mart.product_ratings through Superset's chart data API", async () => {
    const d = await chartData('Product ratings');
    expect(d.colnames).toEqual(['product_id', 'ratings', 'avg_stars']);
    expect(d.query).toContain(`FROM ${dbs.mart}.product_ratings`);
    expect(
      d.data.map((r) => ({ ...r, product_id: Number(r.product_id), ratings: Number(r.ratings) })),
    ).toEqual([
      { product_id: 1, ratings: 2, avg_stars: 4.5 },
      { product_id: 2, ratings: 1, avg_stars: 3 },
    ]);
  });

  it('answers the revenue-by-category and orders/cancellations time series per day', async () => {
    const byCat = await chartData('Revenue by day and category');
    // Pivoted by category: one row per day, one column per category. Revenue: Σ qty × unit price.
    const rows = byCat.data.map((r) => ({ ...r, day: new Date(r.day as number).toISOString().slice(0, 10) }));
    expect(rows).toEqual([
      { day: '2026-11-20', 'Revenue, home': 8, 'Revenue, toys': 2.5 },
      { day: '2026-11-21', 'Revenue, home': null, 'Revenue, toys': 10 },
    ]);
    const oc = await chartData('Orders and cancellations by day');
    expect(oc.data.map((r) => ({ ...r, day: new Date(r.day as number).toISOString().slice(0, 10) }))).toEqual(
      [
        { day: '2026-11-20', Orders: 1, Cancellations: 0 },
        { day: '2026-11-21', Orders: 1, Cancellations: 1 },
      ],
    );
  });
});
