import { describe, expect, it } from 'vitest';
import { chooseCheckLake } from '../../../src/lib/check/lake-choice.js';

describe('vault check: which lake', () => {
  const exists = () => true;
  it('takes a configured lake, whatever the warehouse', () => {
    for (const lakeSource of ['flag', 'env', 'file'])
      expect(
        chooseCheckLake({ lakeUri: 's3://b/p', lakeSource, warehouseUrl: 'http://u:pw@ch:8123', exists }),
      ).toEqual({ uri: 's3://b/p' });
  });

  it('takes the embedded default only with the embedded warehouse, and only if it exists', () => {
    const base = { lakeUri: './.shopdata/lake', lakeSource: 'default' };
    expect(chooseCheckLake({ ...base, warehouseUrl: 'chdb:./.shopdata/warehouse', exists })).toEqual({
      uri: './.shopdata/lake',
    });
    const missing = chooseCheckLake({ ...base, warehouseUrl: 'chdb:x', exists: () => false });
    expect(missing.uri).toBeUndefined();
    expect(missing.reason).toMatch(/does not exist/);
    const server = chooseCheckLake({
      ...base,
      lakeSource: undefined,
      warehouseUrl: 'http://u:pw@ch:8123',
      exists,
    });
    expect(server.uri).toBeUndefined();
    expect(server.reason).toMatch(
      /applies only with the embedded warehouse, not with http:\/\/u:\*\*\*@ch:8123/,
    );
  });
});
