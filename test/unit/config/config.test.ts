import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, maskUrl, maskUrlPasswords, requirePiiSalt } from '../../../src/lib/config/index.js';
import { ConfigError, ExitCode } from '../../../src/lib/errors/index.js';

/** A fresh, empty directory: never the shared tmpdir, where a stray shopdata.yaml would be read. */
function emptyDir(): string {
  return mkdtempSync(join(tmpdir(), 'shopdata-cfg-'));
}

function dirWithYaml(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'shopdata-cfg-'));
  writeFileSync(join(dir, 'shopdata.yaml'), yaml);
  return dir;
}

describe('loadConfig', () => {
  it('uses the embedded defaults with nothing configured', () => {
    const { config, sources } = loadConfig({ env: {}, cwd: emptyDir() });
    expect(config.clickhouse.url).toBe('chdb:./.shopdata/warehouse');
    expect(config.lake.uri).toBe('./.shopdata/lake');
    expect(config.kafka.brokers).toEqual([]);
    expect(config.stream.topics).toContain('shop.public.products');
    expect(config.stream.topics).toContain('shopev.shop_events.purchases');
    expect(config.stream.dlqTopic).toBe('shopdata.dlq');
    expect(sources).toEqual({});
  });

  it('applies flags > env > yaml > defaults', () => {
    const cwd = dirWithYaml(
      'clickhouse:\n  url: http://yaml:8123\nlake:\n  uri: s3://yaml/lake\nkafka:\n  brokers: [yaml:9092]\n',
    );
    const env = { SHOPDATA_LAKE: 's3://env/lake', SHOPDATA_KAFKA_BROKERS: 'a:1, b:2' };
    const { config, sources } = loadConfig({ env, cwd, flags: { 'kafka.brokers': ['flag:9'] } });
    expect(config.clickhouse.url).toBe('http://yaml:8123');
    expect(sources['clickhouse.url']).toBe('file');
    expect(config.lake.uri).toBe('s3://env/lake');
    expect(sources['lake.uri']).toBe('env');
    expect(config.kafka.brokers).toEqual(['flag:9']);
    expect(sources['kafka.brokers']).toBe('flag');
  });

  it('parses booleans and lists from the environment', () => {
    const { config } = loadConfig({
      env: { SHOPDATA_KAFKA_SSL: 'true', SHOPDATA_STREAM_TOPICS: 'x, y' },
      cwd: emptyDir(),
    });
    expect(config.kafka.ssl).toBe(true);
    expect(config.stream.topics).toEqual(['x', 'y']);
  });

  it('names the bad key and where it came from', () => {
    let err: unknown;
    try {
      loadConfig({ env: { SHOPDATA_CLICKHOUSE_URL: 'ftp://nope' }, cwd: emptyDir() });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(ExitCode.Usage);
    expect((err as Error).message).toContain('clickhouse.url');
    expect((err as Error).message).toContain('SHOPDATA_CLICKHOUSE_URL');
  });

  it('rejects unknown keys in shopdata.yaml, naming them', () => {
    const cwd = dirWithYaml('clickhouse:\n  urll: http://x:8123\n');
    expect(() => loadConfig({ env: {}, cwd })).toThrow(/urll/);
  });

  it('rejects invalid YAML and a missing --config file with exit 2', () => {
    const cwd = dirWithYaml('clickhouse: [unclosed\n');
    expect(() => loadConfig({ env: {}, cwd })).toThrow(ConfigError);
    expect(() => loadConfig({ env: {}, cwd: emptyDir(), configFile: '/nonexistent/shopdata.yaml' })).toThrow(
      /Cannot read config file/,
    );
  });

  it('requires the PII salt outside demo and masks URL passwords', () => {
    const { config } = loadConfig({ env: {}, cwd: emptyDir() });
    expect(() => requirePiiSalt(config)).toThrow(/SHOPDATA_PII_SALT/);
    const withSalt = loadConfig({
      env: { SHOPDATA_PII_SALT: 'f92b8cfe6dad97ff53c54d849399e0cadfed03bea7ccc355cc82010fc7d1ccbe' },
      cwd: emptyDir(),
    }).config;
    expect(requirePiiSalt(withSalt)).toBe('f92b8cfe6dad97ff53c54d849399e0cadfed03bea7ccc355cc82010fc7d1ccbe');
    expect(maskUrl('http://bi:s3cret@host:8123')).toBe('http://bi:***@host:8123');
  });
});

describe('secrets never echo from configuration errors (issue 18 §7)', () => {
  it('masks the password of an empty-user URL, and one holding @ or / whole', () => {
    expect(maskUrl('http://:SECRETPW@host:8123')).toBe('http://:***@host:8123');
    expect(maskUrl('http://bi:p@ss@w0rd@host:8123/?x=1')).toBe('http://bi:***@host:8123/?x=1');
    expect(maskUrl('http://bi:pa/ss@host:8123')).toBe('http://bi:***@host:8123');
    expect(maskUrl('http://bi@host:8123')).toBe('http://bi@host:8123');
    expect(maskUrl('http://host:8123/path')).toBe('http://host:8123/path');
    expect(maskUrlPasswords('a http://u:x1@h1:8123,http://u:x2@h2:8123 b', '#')).toBe(
      'a http://u:#@h1:8123,http://u:#@h2:8123 b',
    );
  });

  it('a ClickHouse URL with an unencoded / in the password or a bad port is a config error (exit 2) that does not show the password', () => {
    for (const url of ['http://u:pa/ss-XYZ@127.0.0.1:8123', 'http://u:pass-XYZ@127.0.0.1:99999']) {
      let err: unknown;
      try {
        loadConfig({ env: { SHOPDATA_CLICKHOUSE_URL: url }, cwd: tmpdir() });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).exitCode).toBe(2);
      expect((err as Error).message).toMatch(/clickhouse.url: .*percent-encoded.*SHOPDATA_CLICKHOUSE_URL/s);
      expect(JSON.stringify(err)).not.toContain('XYZ');
    }
    // Percent-encoded, and several endpoints of a cluster, are fine.
    const ok = loadConfig({
      env: { SHOPDATA_CLICKHOUSE_URL: 'http://u:pa%2Fss@h1:8123,http://u:pa%2Fss@h2:8123' },
      cwd: tmpdir(),
    });
    expect(ok.config.clickhouse.url).toContain('pa%2Fss');
  });

  it('a shopdata.yaml syntax error names line and problem, never the lines of the file', () => {
    for (const yaml of [
      'clickhouse:\n  url: http://u:S3CR3T-1@h:8123\n  retries: [unclosed\n',
      'postgres:\n  url: postgres://u:S3CR3T-1@h/db: x\n',
      'pii:\n  salt: *S3CR3T-1\n',
      'pii:\n  salt: !!S3CR3T-1 x\n  salt: y\n',
    ]) {
      const cwd = dirWithYaml(yaml);
      let err: unknown;
      const warn = process.emitWarning;
      const warnings: string[] = [];
      process.emitWarning = ((w: string | Error) =>
        void warnings.push(String(w))) as typeof process.emitWarning;
      try {
        loadConfig({ env: {}, cwd });
      } catch (e) {
        err = e;
      } finally {
        process.emitWarning = warn;
      }
      expect(err, yaml).toBeInstanceOf(ConfigError);
      const shown = JSON.stringify({ m: (err as Error).message, h: (err as ConfigError).hint, warnings });
      expect(shown, yaml).not.toContain('S3CR3T');
      expect((err as Error).message, yaml).toMatch(
        /not valid YAML: .+ at line \d+, column \d+|Unresolved alias/,
      );
    }
  });
});
