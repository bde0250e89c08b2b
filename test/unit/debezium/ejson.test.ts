import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BSON } from 'mongodb';
import { decodeMessage } from '../../../src/lib/debezium/decode.js';
import { encodeChange } from '../../helpers/debezium.js';
import { toMongoDocument } from '../../../src/lib/shop/mongo-writer.js';
import type { SourceChange } from '../../../src/lib/vault/types.js';
import { REPO_ROOT } from '../../helpers/stack.js';

// MongoDB extended JSON goes through BSON's EJSON (what the mongodb driver exports as BSON.EJSON):
// what the seed writes into MongoDB, as the driver's EJSON prints it (Debezium's MongoDB connector
// sends `after` that way), decodes to the row it came from; and the encoder's `after` is the
// document the seed writes.
const purchase: SourceChange = {
  table: 'purchases',
  op: 'c',
  row: {
    _id: '6aea54430074748d80000327',
    order_id: 'ORD-00000001',
    user_id: 9_007_199_254_740_000,
    items: [
      { product_id: 3, qty: 2, unit_price: '12.50' },
      { product_id: 4, qty: 1, unit_price: '0.99' },
    ],
    ts: 1_793_741_891_659_000,
  },
  commitTsUs: 1_793_741_891_659_000,
};

describe('MongoDB extended JSON through EJSON', () => {
  it.each([true, false])(
    'decodes the driver’s EJSON (relaxed %s) of a seeded document to its row',
    (relaxed) => {
      const ev = encodeChange(purchase, { withSchema: false });
      const value = JSON.parse(ev.value!) as { after: string };
      value.after = BSON.EJSON.stringify(toMongoDocument('purchases', purchase.row, 'decimal128'), {
        relaxed,
      });
      const decoded = decodeMessage({
        topic: ev.topic,
        partition: 0,
        offset: '0',
        key: ev.key,
        value: JSON.stringify(value),
      });
      expect(decoded.kind).toBe('change');
      if (decoded.kind === 'change') expect(decoded.change.row).toEqual(purchase.row);
    },
  );

  it('encodes `after` as the document the seed writes, typed as BSON', () => {
    for (const extendedJson of ['relaxed', 'canonical'] as const) {
      const ev = encodeChange(purchase, { withSchema: false, extendedJson });
      const after = (JSON.parse(ev.value!) as { after: string }).after;
      const doc = BSON.EJSON.parse(after, { relaxed: false });
      const seeded = toMongoDocument('purchases', purchase.row, 'decimal128');
      if (extendedJson === 'canonical') expect(doc).toEqual(seeded);
      else expect(BSON.EJSON.stringify(doc)).toEqual(BSON.EJSON.stringify(seeded));
    }
  });

  it('no hand-written extended-JSON codec is left in src/lib/debezium', () => {
    for (const f of ['decode.ts', 'encode.ts']) {
      const text = readFileSync(`${REPO_ROOT}src/lib/debezium/${f}`, 'utf8');
      expect(text, f).not.toMatch(/case '\$numberLong'|\{ \$numberLong: |\{ \$oid: /);
    }
  });
});
