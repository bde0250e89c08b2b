import { describe, it, expect } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { generateShop } from '../../../src/lib/shop/index.js';
import { encodeChange } from '../../helpers/debezium.js';
import { openWarehouse } from '../../../src/lib/warehouse/index.js';

// `stream --dry-run`: decodes and maps everything, loads nothing, writes no dead letter.
describe('stream --dry-run', () => {
  it('reports what would load and leaves the vault and the rejects file untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopdata-stream-dry-'));
    const env = {
      SHOPDATA_CLICKHOUSE_URL: `chdb:${join(dir, 'wh')}`,
      SHOPDATA_PII_SALT: '1d3aa2bf2383e1d9fe4f083401740bd4ae0020c7e73bde4d76837927151f8c65',
    };
    expect((await runCli(['warehouse', 'migrate'], { env, cwd: dir })).code).toBe(0);
    const changes = generateShop({
      seed: 3,
      days: 1,
      users: 10,
      products: 10,
      sellers: 2,
      eventsPerDay: 30,
    }).changes;
    const lines = changes.map((c, i) => {
      const e = encodeChange(c);
      return JSON.stringify({ topic: e.topic, partition: 0, offset: i, key: e.key, value: e.value });
    });
    lines.push(
      '{"topic":"shop.public.products","partition":0,"offset":99999,"key":null,"value":"{not json"}',
    );
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, lines.join('\n') + '\n');

    const r = await runCli(['stream', '--from-file', file, '--dry-run', '--json'], { env, cwd: dir });
    expect(r.code, r.stderr.slice(-1500)).toBe(0);
    const out = JSON.parse(r.stdout) as {
      vaultRows: Record<string, number>;
      dlq: { count: number; destination: string };
    };
    expect(Object.values(out.vaultRows).reduce((a, b) => a + b, 0)).toBeGreaterThan(changes.length);
    expect(out.dlq).toMatchObject({ count: 1, destination: 'nowhere (dry run)' });
    expect(existsSync(`${file}.rejects.jsonl`)).toBe(false);

    const wh = await openWarehouse(env.SHOPDATA_CLICKHOUSE_URL);
    try {
      for (const table of ['hub_user', 'hub_product', 'sat_product', 'sat_order', 'link_order_user']) {
        const [row] = await wh.query<{ n: string }>(`SELECT count() AS n FROM vault.${table}`);
        expect(row, table).toEqual({ n: '0' });
      }
    } finally {
      await wh.close();
    }
  });
});
