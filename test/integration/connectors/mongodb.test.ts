import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { runCli } from '../../helpers/cli.js';
import { stack, uniqueName } from '../../helpers/stack.js';

// Needs Connect with the Debezium MongoDB plugin and FerretDB (scripts/stack/up connect ferretdb).
// The local stack has no MongoDB replica set: FerretDB speaks the wire protocol but has no change
// streams, so the MongoDB connector can be validated here, not run.
describe('connectors: the MongoDB template on the real Connect worker', () => {
  const id = uniqueName('cxmongo');
  const env = {
    SHOPDATA_CONNECT_URL: stack.connectUrl,
    SHOPDATA_MONGO_URL: `${stack.mongoUrl.replace(/\/shop_events$/, '')}/${id}`,
    SHOPDATA_POSTGRES_URL: undefined,
    SHOPDATA_CONNECT_TEMPLATES: undefined,
    SHOPDATA_CONNECT_MONGO_NAME: id.replace(/_/g, '-'),
    SHOPDATA_CONNECT_MONGO_TOPIC_PREFIX: id,
    SHOPDATA_CONNECT_MONGO_SELECTION_TIMEOUT_MS: '2000',
  };
  // Debezium's validation lists databases and reads an empty list as missing rights: the source
  // database exists with its collections, as a shop's would.
  const mongo = new MongoClient(stack.mongoUrl);
  beforeAll(async () => {
    await mongo.connect();
    for (const c of ['purchases', 'cancellations', 'ratings']) await mongo.db(id).createCollection(c);
  });
  afterAll(async () => {
    await mongo
      .db(id)
      .dropDatabase()
      .catch(() => undefined);
    await mongo.close();
  });
  // Where FerretDB must answer, give Debezium's validation time on a loaded machine.
  const reachable = { ...env, SHOPDATA_CONNECT_MONGO_SELECTION_TIMEOUT_MS: '15000' };

  it('validates: the plugin is loaded and knows every setting of the template', async () => {
    const r = await runCli(['connectors', 'validate', 'shop-mongodb', '--json'], { env: reachable });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { connectors: Array<Record<string, unknown>> };
    expect(out.connectors).toEqual([
      expect.objectContaining({
        connector: env.SHOPDATA_CONNECT_MONGO_NAME,
        template: 'shop-mongodb',
        connectorClass: 'io.debezium.connector.mongodb.MongoDbConnector',
        valid: true,
        errors: [],
        unknownKeys: [],
      }),
    ]);
    const config = out.connectors[0]!.config as Record<string, string>;
    expect(config['topic.prefix']).toBe(id);
    expect(config['collection.include.list']).toBe(`${id}.purchases,${id}.cancellations,${id}.ratings`);
  });

  it('apply --dry-run renders and validates, and changes nothing', async () => {
    const r = await runCli(['connectors', 'apply', 'shop-mongodb', '--dry-run'], { env: reachable });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('would create; nothing changed (dry run)');
    expect(r.stdout).toContain(`+ mongodb.connection.string: mongodb://127.0.0.1:`);
    const res = await fetch(`${stack.connectUrl}/connectors/${env.SHOPDATA_CONNECT_MONGO_NAME}`);
    expect(res.status).toBe(404);
  });

  it('a replica set that cannot be found is an unreachable source: exit 3 with the driver’s reason', async () => {
    const r = await runCli(['connectors', 'validate', 'shop-mongodb'], {
      env: { ...env, SHOPDATA_MONGO_URL: `${env.SHOPDATA_MONGO_URL}?replicaSet=rs0` },
    });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(
      /mongodb.connection.string: Unable to connect: Timed out while waiting for a server/,
    );
    expect(r.stderr).toMatch(/could not reach the source database/);
  });

  it('a MongoDB password is only ever a reference, and the URL’s password never shows', async () => {
    const r = await runCli(['connectors', 'validate', 'shop-mongodb', '--json'], {
      env: {
        ...env,
        SHOPDATA_MONGO_URL: env.SHOPDATA_MONGO_URL.replace('mongodb://', 'mongodb://app:mongo-Secret-77@'),
        SHOPDATA_CONNECT_MONGO_PASSWORD_REF: '${env:SHOPDATA_MONGO_PASSWORD}',
      },
    });
    expect(r.stdout + r.stderr).not.toContain('mongo-Secret-77');
    // FerretDB has no user "app": the driver's authentication failure is a configuration error.
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as {
      error: { message: string; details: { connectors: Array<{ config: Record<string, string> }> } };
    };
    expect(out.error.message).toMatch(
      /mongodb.connection.string: Unable to connect: Exception authenticating MongoCredential/,
    );
    const config = out.error.details.connectors[0]!.config;
    expect(config['mongodb.user']).toBe('app');
    expect(config['mongodb.password']).toBe('${env:SHOPDATA_MONGO_PASSWORD}');
    expect(config['mongodb.connection.string']).toMatch(/^mongodb:\/\/127\.0\.0\.1:\d+\/$/);
  });
});
