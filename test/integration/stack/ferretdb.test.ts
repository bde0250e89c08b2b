import { Long, MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stack, uniqueName } from '../../helpers/stack.js';

// Needs scripts/stack/up ferretdb (FerretDB v1 on SQLite; no auth, no change streams).
describe('stack: ferretdb', () => {
  const client = new MongoClient(stack.mongoUrl, { serverSelectionTimeoutMS: 10_000 });
  const collection = uniqueName('stack_probe');
  beforeAll(async () => {
    await client.connect();
  });
  afterAll(async () => {
    await client
      .db('shop_events')
      .collection(collection)
      .drop()
      .catch(() => undefined);
    await client.close();
  });

  it('answers ping', async () => {
    const res = await client.db('admin').command({ ping: 1 });
    expect(res.ok).toBe(1);
  });

  it('inserts and finds documents shaped like purchases in shop_events', async () => {
    const coll = client.db('shop_events').collection(collection);
    const ts = new Date('2026-11-25T10:00:00Z');
    await coll.insertMany([
      {
        order_id: 'o-1',
        user_id: Long.fromNumber(7),
        items: [{ product_id: Long.fromNumber(3), qty: 2 }],
        ts,
      },
      { order_id: 'o-2', user_id: Long.fromNumber(8), items: [], ts },
    ]);
    const found = await coll.find({ user_id: 7 }).toArray();
    expect(found).toHaveLength(1);
    expect(found[0]?.order_id).toBe('o-1');
    expect(found[0]?.ts).toEqual(ts);
    expect(await coll.countDocuments()).toBe(2);
  });
});
