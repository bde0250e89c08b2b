import { describe, it, expect } from 'vitest';
import { pathsGlob, sqlIdent, sqlString, sqlStringList, sqlTable } from '../../../src/lib/warehouse/quote.js';
import { sqlString as vaultSqlString } from '../../../src/lib/vault/sql.js';
import { lakeSource, srcTableSql } from '../../../src/lib/backfill/pull.js';
import { testDatabases } from '../../../src/lib/vault/tables.js';
import { dialectFor } from '../../../src/lib/warehouse/dialect.js';
import { parseVersion } from '../../../src/lib/warehouse/types.js';
import { openLake } from '../../../src/lib/lake/io.js';

describe('the one SQL quoting helper', () => {
  it('escapes backslash before quote, so a value cannot close the literal', () => {
    expect(sqlString("it's")).toBe("'it\\'s'");
    expect(sqlString('a\\')).toBe("'a\\\\'");
    // `\'` in the input must not turn into an escaped backslash followed by a bare quote.
    expect(sqlString("\\'")).toBe("'\\\\\\''");
    expect(vaultSqlString).toBe(sqlString);
  });

  it('quotes identifiers in back quotes, escaping back quote and backslash', () => {
    expect(sqlIdent('hub_user')).toBe('`hub_user`');
    expect(sqlIdent('a`b')).toBe('`a\\`b`');
    expect(sqlIdent('a\\`b')).toBe('`a\\\\\\`b`');
    expect(sqlTable('ops', 'loads WHERE 0 UNION ALL SELECT 1')).toBe(
      '`ops`.`loads WHERE 0 UNION ALL SELECT 1`',
    );
    expect(sqlStringList(['a', "b'"])).toBe("'a', 'b\\''");
  });

  it('turns lake paths into a glob without glob characters of their own', () => {
    expect(pathsGlob(['lake/t/dt=1/a.parquet'])).toBe('lake/t/dt=1/a.parquet');
    expect(pathsGlob(['lake/t/dt=1/b}.parquet'])).toBe('lake/t/dt=1/b?.parquet');
    expect(pathsGlob(['l/t/dt=1/a{x}.parquet', 'l/t/dt=1/c*.parquet', 'l/t/dt=1/e,f?.parquet'])).toBe(
      'l/t/dt=1/{a?x?.parquet,c?.parquet,e?f?.parquet}',
    );
    expect(pathsGlob(['l/t/dt=1/a.parquet', 'l/t/dt=2/b.parquet'])).toBe(
      'l/t/{dt=1/a.parquet,dt=2/b.parquet}',
    );
  });
});

describe('pull reads exactly the planned lake files', () => {
  const ctx = {
    dbs: testDatabases('unit'),
    dialect: dialectFor(parseVersion('26.7.2')),
    saltSql: "'s'",
    loadSec: 1_800_000_000,
    cwd: '/work/x',
  };
  const plan = (tableUri: string, names: string[]) =>
    ({
      format: 'parquet',
      tableUri,
      files: names.map((n) => ({ uri: `${tableUri}/${n}`, bytes: 1 })),
    }) as never;

  it('a local file named b}.parquet stays one file: glob with ?, exact _path filter', () => {
    const src = lakeSource(
      openLake('/work/x/lake'),
      plan('/work/x/lake/parquet/users', ['dt=2026-11-24/b}.parquet', "dt=2026-11-24/o'k.parquet"]),
      ctx,
    );
    expect(src.from).toBe(`file('lake/parquet/users/dt=2026-11-24/{b?.parquet,o\\'k.parquet}', 'Parquet')`);
    expect(src.where).toBe(
      `_path IN ('/work/x/lake/parquet/users/dt=2026-11-24/b}.parquet', '/work/x/lake/parquet/users/dt=2026-11-24/o\\'k.parquet')`,
    );
    const sql = srcTableSql('users', 20261124, '2026-11-24', '2026-11-25', src, ctx).insert;
    expect(sql.endsWith(` AND ${src.where}`)).toBe(true);
  });

  it('an S3 file name with glob characters: ? in the URL, bucket/key in the filter', () => {
    const src = lakeSource(
      openLake('s3://bucket/pre'),
      plan('s3://bucket/pre/parquet/users', ['dt=2026-11-24/a{1,2}.parquet']),
      { ...ctx, s3: { endpoint: 'http://s3:9000' } },
    );
    expect(src.from).toBe(
      `s3('http://s3:9000/bucket/pre/parquet/users/dt=2026-11-24/a?1?2?.parquet', 'Parquet')`,
    );
    expect(src.where).toBe(`_path IN ('bucket/pre/parquet/users/dt=2026-11-24/a{1,2}.parquet')`);
  });
});
