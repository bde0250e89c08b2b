import { describe, expect, it } from 'vitest';
import { parseEndpoints, maskEndpoints } from '../../../src/lib/warehouse/endpoints.js';
import { isEndpointDown, clickhouseErrorCode } from '../../../src/lib/warehouse/errors.js';
import { shardKeyOf, shardOfKey, type ClusterTopology } from '../../../src/lib/warehouse/cluster.js';
import { renderForCluster } from '../../../src/lib/warehouse/migrations/cluster.js';
import { ConfigError, DependencyUnavailableError } from '../../../src/lib/errors/index.js';
import { loadConfig } from '../../../src/lib/config/index.js';
import { testDatabases } from '../../../src/lib/vault/tables.js';

describe('SHOPDATA_CLICKHOUSE_URL with several endpoints', () => {
  it('takes full URLs and host:port entries that inherit scheme and credentials', () => {
    expect(parseEndpoints('http://w:s3cret@ch1:8123, ch2:8124,https://x:y@ch3:8443')).toEqual([
      'http://w:s3cret@ch1:8123',
      'http://w:s3cret@ch2:8124',
      'https://x:y@ch3:8443',
    ]);
    expect(parseEndpoints('http://ch1:8123')).toEqual(['http://ch1:8123']);
    expect(parseEndpoints('chdb:./x')).toEqual(['chdb:./x']);
  });

  it('refuses lists it cannot use, with exit 2 and without showing the password', () => {
    for (const bad of ['chdb:./a,chdb:./b', 'http://u:pw@ch1:1,ch2', 'http://u:pw@a:1,ftp://b:2', ',,']) {
      let err: unknown;
      try {
        parseEndpoints(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(ConfigError);
      expect((err as Error).message).not.toContain('pw@');
    }
    expect(maskEndpoints('http://u:pw@a:1,http://v:pw2@b:2')).toBe('http://u:***@a:1,http://v:***@b:2');
  });

  it('comes from the environment comma-separated or from shopdata.yaml as a list', () => {
    const env = loadConfig({ env: { SHOPDATA_CLICKHOUSE_URL: 'http://a:1,b:2' }, cwd: '/nonexistent' });
    expect(env.config.clickhouse.url).toBe('http://a:1,b:2');
    const flags = loadConfig({
      flags: { 'clickhouse.url': ['http://a:1', 'http://b:2'] },
      cwd: '/nonexistent',
    });
    expect(flags.config.clickhouse.url).toBe('http://a:1,http://b:2');
    expect(() => loadConfig({ env: { SHOPDATA_CLICKHOUSE_URL: 'ftp://a' }, cwd: '/nonexistent' })).toThrow(
      ConfigError,
    );
  });
});

describe('which failures make an endpoint count as down', () => {
  it('network errors, read-only replicas, ZooKeeper loss and unreachable shards; not bad SQL', () => {
    const ch = (text: string) => new Error(text);
    expect(isEndpointDown(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isEndpointDown(ch('Code: 242, e.displayText() = DB::Exception: Table is in readonly mode'))).toBe(
      true,
    );
    expect(isEndpointDown(ch('Code: 999, e.displayText() = Coordination::Exception: Connection loss'))).toBe(
      true,
    );
    expect(
      isEndpointDown(ch('Code: 279, e.displayText() = DB::NetException: All connection tries failed')),
    ).toBe(true);
    expect(isEndpointDown(new DependencyUnavailableError('clickhouse', 'down'))).toBe(true);
    expect(isEndpointDown(ch('Code: 62, e.displayText() = DB::Exception: Syntax error'))).toBe(false);
    expect(isEndpointDown(ch("Code: 60, e.displayText() = DB::Exception: Table x doesn't exist"))).toBe(
      false,
    );
    expect(clickhouseErrorCode(new Error('wrapped', { cause: ch('Code: 242, e.displayText() = x') }))).toBe(
      242,
    );
  });
});

describe('sharding by hash key', () => {
  const topo: ClusterTopology = {
    name: 'c',
    shards: [
      { shard: 1, weight: 1, replicas: [] },
      { shard: 2, weight: 2, replicas: [] },
    ],
  };
  it('reads the first four bytes of the hex key little-endian, like reinterpretAsUInt32(unhex(…))', () => {
    expect(shardKeyOf('01000000FFFFFFFFFFFFFFFFFFFFFFFF')).toBe(1);
    expect(shardKeyOf('000000800000000000000000000000AA')).toBe(0x80000000);
  });
  it('routes key mod total weight to the shards in order, by weight', () => {
    expect([0, 1, 2, 3, 4, 5].map((k) => shardOfKey(k, topo))).toEqual([1, 2, 2, 1, 2, 2]);
  });
});

describe('migrations rendered for a cluster', () => {
  const dbs = testDatabases('x');
  const ctx = { cluster: 'shopdata', dbs };
  it('shards a vault table behind a Distributed table by its hash key', () => {
    const out = renderForCluster(
      `CREATE TABLE IF NOT EXISTS vault_x.sat_user\n(\n    hk_user FixedString(32)\n)\nENGINE = ReplacingMergeTree(is_deleted)\nPARTITION BY toYYYYMMDD(effective_ts)\nORDER BY (hk_user, effective_us)`,
      ctx,
    );
    expect(out).toEqual([
      `CREATE TABLE IF NOT EXISTS vault_x.sat_user_local ON CLUSTER shopdata\n(\n    hk_user FixedString(32)\n)\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/shopdata/{shard}/vault_x/sat_user', '{replica}', is_deleted)\nPARTITION BY toYYYYMMDD(effective_ts)\nORDER BY (hk_user, effective_us)`,
      `CREATE TABLE IF NOT EXISTS vault_x.sat_user ON CLUSTER shopdata AS vault_x.sat_user_local\nENGINE = Distributed(shopdata, vault_x, sat_user_local, reinterpretAsUInt32(unhex(substring(hk_user, 1, 8))))`,
    ]);
  });
  it('replicates ops tables to every server and puts views and drops on every server', () => {
    expect(
      renderForCluster(
        `CREATE TABLE IF NOT EXISTS ops_x.loads\n(\n    a UInt8\n)\nENGINE = MergeTree\nORDER BY a`,
        ctx,
      ),
    ).toEqual([
      `CREATE TABLE IF NOT EXISTS ops_x.loads ON CLUSTER shopdata\n(\n    a UInt8\n)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/shopdata/all/ops_x/loads', '{replica}')\nORDER BY a`,
    ]);
    expect(renderForCluster('CREATE DATABASE IF NOT EXISTS mart_x', ctx)).toEqual([
      'CREATE DATABASE IF NOT EXISTS mart_x ON CLUSTER shopdata',
    ]);
    expect(renderForCluster('DROP TABLE IF EXISTS mart_x.v', ctx)).toEqual([
      'DROP TABLE IF EXISTS mart_x.v ON CLUSTER shopdata',
    ]);
    expect(renderForCluster('CREATE VIEW IF NOT EXISTS mart_x.v AS\nSELECT 1', ctx)).toEqual([
      'CREATE VIEW IF NOT EXISTS mart_x.v ON CLUSTER shopdata AS\nSELECT 1',
    ]);
    expect(renderForCluster('ALTER TABLE vault_x.hub_user ADD COLUMN c UInt8', ctx)).toEqual([
      'ALTER TABLE vault_x.hub_user_local ON CLUSTER shopdata ADD COLUMN c UInt8',
      'ALTER TABLE vault_x.hub_user ON CLUSTER shopdata ADD COLUMN c UInt8',
    ]);
  });
  it('runs a table rewriting its own rows through the Distributed table, and leaves merging to the replicas', () => {
    const rewrite =
      'INSERT INTO vault_x.hub_user (hk_user, ver) SELECT hk_user, ver * 16 FROM vault_x.hub_user WHERE ver <= 9';
    expect(renderForCluster(rewrite, ctx)).toEqual([rewrite]);
    // 18.16 fails OPTIMIZE … ON CLUSTER on replicated tables; readers use FINAL.
    expect(renderForCluster('OPTIMIZE TABLE vault_x.hub_user FINAL', ctx)).toEqual([]);
  });
  it('refuses statements it has no cluster form for', () => {
    expect(() => renderForCluster('INSERT INTO ops_x.loads VALUES (1)', ctx)).toThrow(/no cluster form/);
    expect(() =>
      renderForCluster('INSERT INTO vault_x.hub_user (hk_user) SELECT hk_user FROM vault_x.hub_order', ctx),
    ).toThrow(/no cluster form/);
    expect(() =>
      renderForCluster(
        'CREATE TABLE IF NOT EXISTS vault_x.other\n(\n a UInt8\n)\nENGINE = MergeTree\nORDER BY a',
        ctx,
      ),
    ).toThrow(/not a table of the vault model/);
  });
});
