import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { stack, uniqueName } from '../../helpers/stack.js';

// Needs the worker of scripts/stack/services/connect.sh (scripts/stack/up connect).
const DEBEZIUM_VERSION = '3.6.1.Final';
const POSTGRES_CONNECTOR = 'io.debezium.connector.postgresql.PostgresConnector';
const MONGODB_CONNECTOR = 'io.debezium.connector.mongodb.MongoDbConnector';

interface PluginInfo {
  class: string;
  type: string;
  version: string;
}
interface ValidateResponse {
  configs: Array<{ value: { name: string; value: string | null; errors: string[] } }>;
}

interface ConnectorStatus {
  connector: { state: string; trace?: string };
  tasks: Array<{ id: number; state: string; trace?: string }>;
}

async function connectRequest(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${stack.connectUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Polls until the connector and its one task run; fails at once with Connect's trace if one failed. */
async function waitRunning(name: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const res = await connectRequest('GET', `/connectors/${name}/status`);
    if (res.status === 200) {
      const status = (await res.json()) as ConnectorStatus;
      const failed = [status.connector, ...status.tasks].find((s) => s.state === 'FAILED');
      if (failed) throw new Error(`connector ${name} failed: ${failed.trace ?? '(no trace)'}`);
      if (
        status.connector.state === 'RUNNING' &&
        status.tasks.length === 1 &&
        status.tasks[0]?.state === 'RUNNING'
      )
        return;
      last = JSON.stringify(status);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`connector ${name} not running within ${timeoutMs} ms; last status ${last}`);
}

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(`${stack.connectUrl}${path}`);
  expect(res.status, `GET ${path}`).toBe(200);
  return (await res.json()) as T;
}

/** Asks Connect to validate a PostgreSQL connector config and returns the verdict on topic.prefix. */
async function validateTopicPrefix(topicPrefix: string): Promise<{ value: string | null; errors: string[] }> {
  const res = await fetch(`${stack.connectUrl}/connector-plugins/PostgresConnector/config/validate`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ 'connector.class': POSTGRES_CONNECTOR, 'topic.prefix': topicPrefix }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as ValidateResponse;
  const field = body.configs.find((c) => c.value.name === 'topic.prefix');
  expect(field).toBeDefined();
  return { value: field!.value.value, errors: field!.value.errors };
}

describe('local Kafka Connect worker', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'stack-connect-test-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('is a Kafka 4 worker on the local cluster and healthy', async () => {
    const info = await getJson<{ version: string; kafka_cluster_id: string }>('/');
    expect(info.version).toMatch(/^4\.\d+\.\d+$/);
    expect(info.kafka_cluster_id).toBe('c2hvcGRhdGEtc3RhY2stMQ');
    const health = await getJson<{ status: string }>('/health');
    expect(health.status).toBe('healthy');
  });

  it(`lists the Debezium PostgreSQL and MongoDB source connectors at ${DEBEZIUM_VERSION}`, async () => {
    const plugins = await getJson<PluginInfo[]>('/connector-plugins');
    const debezium = plugins.filter((p) => p.class === POSTGRES_CONNECTOR || p.class === MONGODB_CONNECTOR);
    expect(debezium.sort((a, b) => a.class.localeCompare(b.class))).toEqual([
      { class: MONGODB_CONNECTOR, type: 'source', version: DEBEZIUM_VERSION },
      { class: POSTGRES_CONNECTOR, type: 'source', version: DEBEZIUM_VERSION },
    ]);
  });

  // topic.prefix accepts only [A-Za-z0-9._-], so a reference Connect left unresolved always fails
  // validation, quoting the reference. (Kafka 4.3 quotes a resolved value in the message, 4.4 says
  // "the value resolved from the config provider reference failed validation"; both omit the reference.)
  it('resolves ${file:...} references in connector configs (FileConfigProvider)', async () => {
    const secrets = join(tmp, 'connector.properties');
    writeFileSync(secrets, 'good_prefix=shop_from_file\nbad_prefix=has a space\n');
    expect((await validateTopicPrefix(`\${file:${secrets}:good_prefix}`)).errors).toEqual([]);
    const bad = await validateTopicPrefix(`\${file:${secrets}:bad_prefix}`);
    expect(bad.errors).not.toEqual([]);
    expect(bad.errors.join(' ')).not.toContain('${file:');
  });

  it('resolves ${env:...} references in connector configs (EnvVarConfigProvider)', async () => {
    // HOME is set for every worker and holds '/', which topic.prefix rejects once resolved.
    const resolved = await validateTopicPrefix('${env:HOME}');
    expect(resolved.errors).not.toEqual([]);
    expect(resolved.errors.join(' ')).not.toContain('${env:HOME}');
    // An unset variable stays a literal reference.
    const unresolved = await validateTopicPrefix('${env:SHOPDATA_STACK_TEST_SURELY_UNSET}');
    expect(unresolved.errors.join(' ')).toContain('${env:SHOPDATA_STACK_TEST_SURELY_UNSET}');
  });

  it('runs a Debezium PostgreSQL connector: snapshot, then streamed update, with credentials from ${file:...}', async () => {
    const name = uniqueName('stack_dbz');
    const table = `public.${name}`;
    const topic = `${name}.${table}`;
    const db = new pg.Client({ connectionString: stack.postgresUrl });
    const kafka = new Kafka({
      clientId: 'stack-connect-test',
      brokers: [...stack.kafkaBrokers],
      logLevel: logLevel.NOTHING,
    });
    const consumer = kafka.consumer({ groupId: `${name}_group` });
    const admin = kafka.admin();
    const secrets = join(tmp, `${name}.properties`);
    writeFileSync(
      secrets,
      `user=${new URL(stack.postgresUrl).username}\npassword=${new URL(stack.postgresUrl).password}\n`,
    );
    await db.connect();
    try {
      await db.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, price numeric(12,2) NOT NULL)`);
      await db.query(`INSERT INTO ${table} VALUES (1, 12.50), (2, 3.10)`);
      const pgUrl = new URL(stack.postgresUrl);
      const res = await connectRequest('PUT', `/connectors/${name}/config`, {
        'connector.class': POSTGRES_CONNECTOR,
        'database.hostname': pgUrl.hostname,
        'database.port': pgUrl.port,
        'database.user': `\${file:${secrets}:user}`,
        'database.password': `\${file:${secrets}:password}`,
        'database.dbname': pgUrl.pathname.slice(1),
        'topic.prefix': name,
        'plugin.name': 'pgoutput',
        'slot.name': name,
        'publication.name': name,
        'publication.autocreate.mode': 'filtered',
        'table.include.list': table,
        'decimal.handling.mode': 'string',
        'tasks.max': '1',
      });
      expect(res.status).toBe(201);
      await waitRunning(name);

      const events: Array<{ op: string; after: { id: number; price: string } | null }> = [];
      await admin.connect();
      // The snapshot creates the topic; wait for it before subscribing.
      const topicDeadline = Date.now() + 60_000;
      while (!(await admin.listTopics()).includes(topic)) {
        if (Date.now() > topicDeadline) throw new Error(`topic ${topic} did not appear within 60 s`);
        await new Promise((r) => setTimeout(r, 500));
      }
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (!message.value) return; // tombstone
          const env = JSON.parse(message.value.toString()) as {
            payload: { op: string; after: { id: number; price: string } | null };
          };
          events.push({ op: env.payload.op, after: env.payload.after });
        },
      });
      const waitFor = async (what: string, pred: () => boolean): Promise<void> => {
        const deadline = Date.now() + 60_000;
        while (!pred()) {
          if (Date.now() > deadline)
            throw new Error(`${what} not seen within 60 s; events: ${JSON.stringify(events)}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      };
      await waitFor('two snapshot reads', () => events.filter((e) => e.op === 'r').length === 2);
      expect(events.filter((e) => e.op === 'r').map((e) => e.after)).toEqual([
        { id: 1, price: '12.50' },
        { id: 2, price: '3.10' },
      ]);
      await db.query(`UPDATE ${table} SET price = 13 WHERE id = 1`);
      await waitFor('the streamed update', () => events.some((e) => e.op === 'u'));
      expect(events.find((e) => e.op === 'u')?.after).toEqual({ id: 1, price: '13.00' });
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await connectRequest('DELETE', `/connectors/${name}`).catch(() => undefined);
      // The slot stays active for a moment after the task stops; a leftover slot would pin WAL.
      for (let i = 0; i < 30; i++) {
        const r = await db.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [name]);
        if (r.rows.length === 0) break;
        if (!(r.rows[0] as { active: boolean }).active) {
          await db.query('SELECT pg_drop_replication_slot($1)', [name]);
          break;
        }
        await new Promise((res) => setTimeout(res, 500));
      }
      await db.query(`DROP PUBLICATION IF EXISTS ${name}`);
      await db.query(`DROP TABLE IF EXISTS ${table}`);
      await db.end();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});
