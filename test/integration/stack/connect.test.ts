import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stack } from '../../helpers/stack.js';

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

  it('resolves ${file:...} references in connector configs (FileConfigProvider)', async () => {
    const secrets = join(tmp, 'connector.properties');
    writeFileSync(secrets, 'good_prefix=shop_from_file\nbad_prefix=has a space\n');
    // A resolved valid value passes, and the reference (not the secret) is what Connect echoes.
    expect(await validateTopicPrefix(`\${file:${secrets}:good_prefix}`)).toEqual({
      value: `\${file:${secrets}:good_prefix}`,
      errors: [],
    });
    const bad = await validateTopicPrefix(`\${file:${secrets}:bad_prefix}`);
    expect(bad.errors.join(' ')).toMatch(/resolved from the config provider/);
  });

  it('resolves ${env:...} references in connector configs (EnvVarConfigProvider)', async () => {
    // HOME is set for every worker and holds '/', which topic.prefix rejects only once resolved.
    const resolved = await validateTopicPrefix('${env:HOME}');
    expect(resolved.errors.join(' ')).toMatch(/resolved from the config provider/);
    // An unset variable stays a literal reference and fails as plain text.
    const unresolved = await validateTopicPrefix('${env:SHOPDATA_STACK_TEST_SURELY_UNSET}');
    expect(unresolved.errors.join(' ')).toMatch(/invalid format/);
  });
});
