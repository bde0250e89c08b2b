import { createClient } from '@clickhouse/client';
import { afterAll, describe, expect, it } from 'vitest';
import { stack, uniqueName } from '../../helpers/stack.js';

// Needs scripts/stack/up clickhouse (ClickHouse server 18.16 from Debian).
describe('stack: clickhouse', () => {
  const client = createClient({ url: stack.clickhouseUrl });
  const db = uniqueName('stack_probe');
  afterAll(async () => {
    await client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await client.close();
  });

  it('is version 18.16 and runs in UTC', async () => {
    const rs = await client.query({
      query: 'SELECT version() AS v, timezone() AS tz',
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ v: string; tz: string }>();
    expect(row?.v.startsWith('18.16')).toBe(true);
    expect(row?.tz).toMatch(/UTC$/);
  });

  it('stores and reads rows in a MergeTree table', async () => {
    await client.command({ query: `CREATE DATABASE ${db}` });
    await client.command({
      query: `CREATE TABLE ${db}.t (d Date, k UInt64, amount Decimal(18,2)) ENGINE = MergeTree PARTITION BY toYYYYMMDD(d) ORDER BY k`,
    });
    await client.insert({
      table: `${db}.t`,
      values: [
        // 18.16 parses a Decimal in JSONEachRow only from a bare number, not from a JSON string.
        { d: '2026-11-25', k: 1, amount: 12.5 },
        { d: '2026-11-25', k: 2, amount: 0.75 },
      ],
      format: 'JSONEachRow',
    });
    const rs = await client.query({
      query: `SELECT count() AS n, sum(amount) AS s FROM ${db}.t`,
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ n: string; s: string | number }>();
    expect(Number(row?.n)).toBe(2);
    expect(String(row?.s)).toBe('13.25');
  });
});
