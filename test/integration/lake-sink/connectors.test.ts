import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stack, uniqueName } from '../../helpers/stack.js';
import { runCli, type CliResult } from '../../helpers/cli.js';
import { createTopicsReady } from '../../helpers/kafka.js';
import { generateShop, countOps } from '../../../src/lib/shop/index.js';
import { encodeChange, encodeTombstone } from '../../../src/lib/debezium/encode.js';
import { TopicRouter } from '../../../src/lib/debezium/topics.js';
import { sinkTableSchema } from '../../../src/lib/connect/lake-tables.js';
import { SOURCE_TABLES, type SourceTable } from '../../../src/lib/vault/types.js';
import { PrivateConnect, freePort } from './private-connect.js';
import {
  catalogGet,
  catalogTool,
  catalogUri,
  dropNamespaces,
  lakeTotals,
  scanLake,
  waitFor,
} from './support.js';

// `shopdata connectors apply|validate|diff|status|restart|delete` with the Iceberg sink template
// (templates/connectors/shop-lake.yaml) against a real Connect worker with the Iceberg plugin and
// the stack's Iceberg REST catalog on moto S3. The worker is a private one (same jars, config and
// plugin path as the stack's) so this file does not depend on when the stack's worker was started.
// Needs: scripts/stack/up kafka connect iceberg-rest python; npm run build.

const id = uniqueName('lks_cx');
const ns = id;
const connector = id.replace(/_/g, '-');
const PG = ['sellers', 'users', 'auth_credentials', 'products'] as const;
const router = new TopicRouter({ postgres: `${id}.public.`, mongo: `${id}ev.shop_events.` });
const dir = mkdtempSync(join(tmpdir(), `${id}-`));
const secretsFile = join(dir, 'lake-secrets.properties');
const token = `tok-${randomBytes(12).toString('hex')}`;
const worker = new PrivateConnect(`${id}-connect`);
const runs: Array<{ args: string[]; r: CliResult }> = [];

function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    SHOPDATA_CONNECT_URL: worker.url,
    SHOPDATA_ICEBERG_CATALOG_URI: catalogUri,
    SHOPDATA_S3_ENDPOINT: stack.s3Endpoint,
    SHOPDATA_ICEBERG_CATALOG_NAMESPACE: ns,
    SHOPDATA_CONNECT_LAKE_NAME: connector,
    SHOPDATA_CONNECT_PG_TOPIC_PREFIX: id,
    SHOPDATA_CONNECT_MONGO_TOPIC_PREFIX: `${id}ev`,
    SHOPDATA_CONNECT_LAKE_COMMIT_INTERVAL_MS: '3000',
    SHOPDATA_CONNECT_LAKE_CATALOG_TOKEN_REF: `\${file:${secretsFile}:token}`,
    SHOPDATA_POSTGRES_URL: undefined,
    SHOPDATA_MONGO_URL: undefined,
    SHOPDATA_CONNECT_TEMPLATES: undefined,
    SHOPDATA_ICEBERG_CATALOG_TOKEN: undefined,
    SHOPDATA_LOG_LEVEL: 'warn',
    ...extra,
  };
}

async function cli(args: string[], extra: Record<string, string | undefined> = {}): Promise<CliResult> {
  const r = await runCli(args, { env: env(extra), timeoutMs: 170_000 });
  runs.push({ args, r });
  return r;
}

const kafka = new Kafka({
  clientId: 'lake-sink-cx',
  brokers: [...stack.kafkaBrokers],
  logLevel: logLevel.NOTHING,
});

// A small shop, as Debezium would have written it with the JSON schema wrapper.
const shop = generateShop({ seed: 11, days: 1, start: '2026-03-02', eventsPerDay: 60 });
const ops = countOps(shop.changes);
const expectedRows = (t: SourceTable) => ops[t].c + ops[t].u + ops[t].d;

describe('connectors: the Iceberg sink (shop-lake) from validate to delete', () => {
  beforeAll(async () => {
    writeFileSync(secretsFile, `token=${token}\n`, { mode: 0o600 });
    await worker.init();
    await worker.start();
    const admin = kafka.admin();
    await admin.connect();
    await createTopicsReady(
      admin,
      router.allTopics().map((topic) => ({ topic, numPartitions: 2, replicationFactor: 1 })),
    );
    await admin.disconnect();
  });

  afterAll(async () => {
    await worker.destroy({
      topics: [...router.allTopics(), `${connector}-control`, `${connector}-dlq`],
      groups: [`connect-${connector}`, `connect-${connector}-bad`],
    });
    await dropNamespaces([ns, `${ns}_bad`]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('validate: the plugin accepts every setting; the lake tables are reported missing', async () => {
    const r = await cli(['connectors', 'validate', 'shop-lake', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      connectors: Array<{
        valid: boolean;
        errors: unknown[];
        unknownKeys: string[];
        lakeTables: Array<{ identifier: string; state: string }>;
      }>;
    };
    expect(out.connectors[0]).toMatchObject({ valid: true, errors: [], unknownKeys: [] });
    expect(out.connectors[0]!.lakeTables).toEqual(
      SOURCE_TABLES.map((t) => ({ identifier: `${ns}.${t}`, state: 'missing', problems: [] })),
    );
  });

  it('apply --dry-run creates neither tables nor the connector', async () => {
    const r = await cli(['connectors', 'apply', 'shop-lake', '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      connectors: Array<{ action: string; lakeTables: Array<{ state: string }> }>;
    };
    expect(out.connectors[0]!.action).toBe('would-create');
    expect(out.connectors[0]!.lakeTables.map((t) => t.state)).toEqual(
      SOURCE_TABLES.map(() => 'would-create'),
    );
    expect((await catalogGet(`/v1/namespaces/${ns}`)).status).toBe(404);
    expect((await fetch(`${worker.url}/connectors/${connector}`)).status).toBe(404);
  });

  it('apply creates the seven tables with the contract schema and day(__ts), then the running connector', async () => {
    const r = await cli(['connectors', 'apply', 'shop-lake']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain(`${connector}: lake tables: 7 in the catalog, 7 created`);
    expect(r.stdout).toMatch(new RegExp(`${connector}: wait until running: RUNNING, task 0 RUNNING`));
    const lake = await scanLake(ns, SOURCE_TABLES);
    for (const t of SOURCE_TABLES) {
      const want = sinkTableSchema(t).fields;
      expect(lake[t]!.schema.fields, t).toEqual(want);
      expect(lake[t]!.spec, t).toEqual([['day', '__ts']]);
      expect(lake[t]!.rows).toEqual([]);
    }
    // Connect holds references only: the S3 keys and the catalog token stay on the worker.
    const live = (await (await fetch(`${worker.url}/connectors/${connector}/config`)).json()) as Record<
      string,
      string
    >;
    expect(live).toMatchObject({
      'iceberg.catalog.token': `\${file:${secretsFile}:token}`,
      'iceberg.catalog.s3.access-key-id': '${env:AWS_ACCESS_KEY_ID}',
      'iceberg.catalog.s3.secret-access-key': '${env:AWS_SECRET_ACCESS_KEY}',
      'iceberg.tables': SOURCE_TABLES.map((t) => `${ns}.${t}`).join(','),
    });
  });

  it('Debezium events of every table reach their lake table; a schemaless event goes to the dead-letter topic', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const messages = shop.changes.flatMap((c) => {
      const e = encodeChange(c, { router, decimalMode: 'string' });
      const tomb = (PG as readonly string[]).includes(c.table) && c.op === 'd';
      return tomb ? [e, encodeTombstone(c, { router })] : [e];
    });
    // What a source connector with schemas.enable=false writes: no wrapper, so the sink cannot type it.
    const wrapped = encodeChange(
      shop.changes.find((c) => c.table === 'users')!,
      {
        router,
        decimalMode: 'string',
      },
    );
    const plain = {
      topic: wrapped.topic,
      key: JSON.stringify((JSON.parse(wrapped.key) as { payload: unknown }).payload),
      value: JSON.stringify((JSON.parse(wrapped.value!) as { payload: unknown }).payload),
    };
    const byTopic = new Map<string, Array<{ key: string; value: string | null }>>();
    for (const m of [...messages, plain]) {
      if (!byTopic.has(m.topic)) byTopic.set(m.topic, []);
      byTopic.get(m.topic)!.push({ key: m.key, value: m.value });
    }
    await producer.sendBatch({
      topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
    });
    await producer.disconnect();

    await waitFor('every change in the lake', 120_000, async () => {
      const n = await lakeTotals(ns, SOURCE_TABLES);
      return SOURCE_TABLES.every((t) => n[t]! >= expectedRows(t)) ? n : undefined;
    });
    const lake = await scanLake(ns, SOURCE_TABLES);
    for (const t of SOURCE_TABLES) expect(lake[t]!.rows.length, t).toBe(expectedRows(t));
    const deleted = lake.users!.rows.filter((r) => r.__deleted === true);
    expect(deleted.length).toBe(ops.users.d);
    expect(deleted.every((r) => r.__op === 'd')).toBe(true);

    const dlq = await readTopic(`${connector}-dlq`, 1, 60_000);
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.headers['__connect.errors.exception.message']).toMatch(/schemas\.enable/);
    expect(dlq[0]!.headers['__connect.errors.topic']).toBe(router.topicFor('users'));
    const status = (await (await fetch(`${worker.url}/connectors/${connector}/status`)).json()) as {
      tasks: Array<{ state: string }>;
    };
    expect(status.tasks.map((t) => t.state)).toEqual(['RUNNING']);
  });

  it('diff shows a changed setting and exits 1; apply updates it; diff is then clean', async () => {
    const same = await cli(['connectors', 'diff', 'shop-lake']);
    expect(same.code, same.stdout + same.stderr).toBe(0);
    const changed = { SHOPDATA_CONNECT_LAKE_COMMIT_INTERVAL_MS: '4000' };
    const d = await cli(['connectors', 'diff', 'shop-lake'], changed);
    expect(d.code).toBe(1);
    expect(d.stdout).toContain('~ iceberg.control.commit.interval-ms: 3000 → 4000');
    const a = await cli(['connectors', 'apply', 'shop-lake', '--json'], changed);
    expect(a.code, a.stderr).toBe(0);
    const out = JSON.parse(a.stdout) as {
      connectors: Array<{ action: string; lakeTables: Array<{ state: string }> }>;
    };
    expect(out.connectors[0]!.action).toBe('updated');
    expect(out.connectors[0]!.lakeTables.map((t) => t.state)).toEqual(SOURCE_TABLES.map(() => 'exists'));
    expect((await cli(['connectors', 'diff', 'shop-lake'], changed)).code).toBe(0);
  });

  it('status names the template and the sink; restart brings the task back to RUNNING', async () => {
    const s = await cli(['connectors', 'status', connector, '--json']);
    expect(s.code, s.stderr).toBe(0);
    const out = JSON.parse(s.stdout) as { connectors: Array<Record<string, unknown>> };
    expect(out.connectors[0]).toMatchObject({
      name: connector,
      template: 'shop-lake',
      type: 'sink',
      connectorClass: 'org.apache.iceberg.connect.IcebergSinkConnector',
      state: 'RUNNING',
    });
    const r = await cli(['connectors', 'restart', connector], {
      SHOPDATA_CONNECT_LAKE_COMMIT_INTERVAL_MS: '4000',
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const after = await waitFor('the restarted task running', 60_000, async () => {
      const st = (await (await fetch(`${worker.url}/connectors/${connector}/status`)).json()) as {
        tasks: Array<{ state: string }>;
      };
      return st.tasks.length === 1 && st.tasks[0]!.state === 'RUNNING' ? st : undefined;
    });
    expect(after.tasks[0]!.state).toBe('RUNNING');
  });

  it('a table of another layout in the namespace stops apply (exit 2) before anything is created', async () => {
    const badNs = `${ns}_bad`;
    await catalogTool('create', {
      uri: catalogUri,
      identifier: `${badNs}.users`,
      columns: [
        ['id', 'long'],
        ['email', 'string'],
        ['city', 'string'],
        ['created_at', 'string'],
        ['updated_at', 'timestamptz'],
        ['__op', 'string'],
        ['__ts', 'timestamptz'],
        ['__deleted', 'boolean'],
      ],
    });
    const r = await cli(['connectors', 'apply', 'shop-lake'], {
      SHOPDATA_ICEBERG_CATALOG_NAMESPACE: badNs,
      SHOPDATA_CONNECT_LAKE_NAME: `${connector}-bad`,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${badNs}.users: column full_name is missing`);
    expect(r.stderr).toContain('column created_at is string, not timestamptz');
    expect(r.stderr).toContain('the partition spec is not day(__ts)');
    expect((await catalogGet(`/v1/namespaces/${badNs}/tables/sellers`)).status).toBe(404);
    expect((await fetch(`${worker.url}/connectors/${connector}-bad`)).status).toBe(404);
  });

  it('a sink fed by a schemaless Debezium connector is refused (exit 2) before anything is created', async () => {
    const r = await cli(['connectors', 'apply', 'shop-postgres', 'shop-lake'], {
      SHOPDATA_POSTGRES_URL: 'postgres://cdc@127.0.0.1:5432/shop',
      SHOPDATA_CONNECT_PG_NAME: `${connector}-pg`,
      SHOPDATA_CONNECT_LAKE_NAME: `${connector}-2`,
      SHOPDATA_CONNECT_JSON_SCHEMAS: 'false',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${connector}-2 (Iceberg sink) reads topics that ${connector}-pg write without the JSON schema wrapper`,
    );
    for (const name of [`${connector}-pg`, `${connector}-2`])
      expect((await fetch(`${worker.url}/connectors/${name}`)).status).toBe(404);
  });

  it('an inline S3 secret is refused (exit 2) without being printed; an unreachable catalog is exit 3', async () => {
    const secret = `inline-${randomBytes(6).toString('hex')}`;
    const r = await cli(['connectors', 'apply', 'shop-lake'], {
      SHOPDATA_CONNECT_LAKE_S3_SECRET_KEY_REF: secret,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('iceberg.catalog.s3.secret-access-key holds an inline secret');
    expect(r.stdout + r.stderr).not.toContain(secret);
    const closed = await freePort();
    const down = await cli(['connectors', 'apply', 'shop-lake', '--dry-run'], {
      SHOPDATA_ICEBERG_CATALOG_URI: `http://127.0.0.1:${closed}`,
    });
    expect(down.code, down.stderr).toBe(3);
    expect(down.stderr).toContain(
      `Iceberg REST catalog at http://127.0.0.1:${closed} is unreachable: ECONNREFUSED`,
    );
  });

  it('delete removes the connector and keeps the lake tables and their rows', async () => {
    const r = await cli(['connectors', 'delete', connector, '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${connector}: deleted`);
    expect((await fetch(`${worker.url}/connectors/${connector}`)).status).toBe(404);
    const lake = await scanLake(ns, ['users']);
    expect(lake.users!.rows.length).toBe(expectedRows('users'));
  });

  it('no output of any run holds the catalog token', () => {
    expect(runs.length).toBeGreaterThan(8);
    for (const { args, r } of runs) {
      expect(r.stdout, args.join(' ')).not.toContain(token);
      expect(r.stderr, args.join(' ')).not.toContain(token);
    }
  });
});

async function readTopic(
  topic: string,
  count: number,
  timeoutMs: number,
): Promise<Array<{ value: string | null; headers: Record<string, string> }>> {
  const consumer = kafka.consumer({ groupId: `${id}-reader-${randomBytes(3).toString('hex')}` });
  const out: Array<{ value: string | null; headers: Record<string, string> }> = [];
  await consumer.connect();
  try {
    await waitFor(`topic ${topic}`, timeoutMs, async () => {
      const admin = kafka.admin();
      await admin.connect();
      const has = (await admin.listTopics()).includes(topic);
      await admin.disconnect();
      return has ? true : undefined;
    });
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => resolve(), timeoutMs);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
            out.push({ value: message.value?.toString() ?? null, headers });
            if (out.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    // Anything beyond `count` would show up within a moment.
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    await consumer.disconnect();
  }
  return out;
}
