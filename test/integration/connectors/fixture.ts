import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Kafka, logLevel } from 'kafkajs';
import { expect } from 'vitest';
import { REPO_ROOT, stack, uniqueName } from '../../helpers/stack.js';
import { runCli, type CliResult } from '../../helpers/cli.js';

/**
 * One isolated PostgreSQL source per test file: its own database (schema and publication from
 * templates/postgres/shop.sql), its own login role with a random password that only the Connect
 * worker reads (through a ${file:…} reference), and unique connector, slot and topic prefix.
 * Every CLI run is recorded so the suite can assert that the password never shows.
 */
export class ConnectorFixture {
  readonly id: string;
  readonly password: string;
  readonly dir: string;
  readonly secretsFile: string;
  readonly templatesDir: string;
  readonly runs: Array<{ args: string[]; result: CliResult }> = [];
  private readonly admin = new pg.Pool({ connectionString: stack.postgresUrl, max: 2 });
  private readonly kafka = new Kafka({
    clientId: 'connectors-test',
    brokers: [...stack.kafkaBrokers],
    logLevel: logLevel.NOTHING,
  });
  private extraSlots = new Set<string>();
  private extraConnectors = new Set<string>();

  constructor(prefix: string) {
    this.id = uniqueName(prefix);
    // '!' and ' ' are invalid in a topic prefix: Connect echoes such a resolved value in validation errors.
    this.password = `pw!${randomBytes(9).toString('hex')}`;
    this.dir = mkdtempSync(join(tmpdir(), `${this.id}-`));
    this.secretsFile = join(this.dir, 'connect-secrets.properties');
    writeFileSync(this.secretsFile, `pg.password=${this.password}\n`, { mode: 0o600 });
    this.templatesDir = join(this.dir, 'templates');
    cpSync(join(REPO_ROOT, 'templates/connectors'), this.templatesDir, { recursive: true });
  }

  get connector(): string {
    return this.id.replace(/_/g, '-');
  }
  get slot(): string {
    return this.id;
  }
  get topicPrefix(): string {
    return this.id;
  }
  get sourceUrl(): string {
    return `postgres://${this.id}:${encodeURIComponent(this.password)}@127.0.0.1:${new URL(stack.postgresUrl).port}/${this.id}`;
  }

  /** The environment of a CLI run for this fixture's connector. */
  env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return {
      SHOPDATA_CONNECT_URL: stack.connectUrl,
      SHOPDATA_POSTGRES_URL: this.sourceUrl,
      SHOPDATA_MONGO_URL: undefined,
      SHOPDATA_CONNECT_TEMPLATES: this.templatesDir,
      SHOPDATA_CONNECT_PG_NAME: this.connector,
      SHOPDATA_CONNECT_PG_SLOT: this.slot,
      SHOPDATA_CONNECT_PG_TOPIC_PREFIX: this.topicPrefix,
      SHOPDATA_CONNECT_PG_PASSWORD_REF: `\${file:${this.secretsFile}:pg.password}`,
      SHOPDATA_CONNECT_HEARTBEAT_MS: '10000',
      SHOPDATA_LOG_LEVEL: 'warn',
      ...extra,
    };
  }

  async cli(
    args: string[],
    extraEnv: Record<string, string | undefined> = {},
    opts: { timeoutMs?: number } = {},
  ): Promise<CliResult> {
    const result = await runCli(args, { env: this.env(extraEnv), timeoutMs: opts.timeoutMs ?? 150_000 });
    this.runs.push({ args, result });
    return result;
  }

  /** The password (and its URL-encoded form) appears in no output of any run. */
  assertNoSecretLeaked(): void {
    expect(this.runs.length).toBeGreaterThan(0);
    for (const { args, result } of this.runs) {
      for (const s of [this.password, encodeURIComponent(this.password), this.password.slice(3)]) {
        expect(result.stdout, `stdout of ${args.join(' ')}`).not.toContain(s);
        expect(result.stderr, `stderr of ${args.join(' ')}`).not.toContain(s);
      }
    }
  }

  async sql<T extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    params: unknown[] = [],
  ): Promise<T[]> {
    const c = new pg.Client({ connectionString: stack.postgresUrl.replace(/\/shop$/, `/${this.id}`) });
    await c.connect();
    try {
      return (await c.query<T>(text, params)).rows;
    } finally {
      await c.end();
    }
  }

  async setUp(): Promise<void> {
    await this.admin.query(`CREATE DATABASE ${this.id}`);
    await this.admin.query(
      `CREATE ROLE ${this.id} LOGIN REPLICATION PASSWORD '${this.password.replace(/'/g, "''")}'`,
    );
    const schema = readFileSync(join(REPO_ROOT, 'templates/postgres/shop.sql'), 'utf8');
    await this.sql(schema);
    await this.sql(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${this.id}`);
  }

  trackSlot(slot: string): void {
    this.extraSlots.add(slot);
  }
  trackConnector(name: string): void {
    this.extraConnectors.add(name);
  }

  async slotExists(slot = this.slot): Promise<boolean> {
    const r = await this.admin.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    return r.rowCount === 1;
  }

  async connectorExists(name = this.connector): Promise<boolean> {
    const r = await fetch(`${stack.connectUrl}/connectors/${name}`);
    return r.status === 200;
  }

  async connectorConfig(name = this.connector): Promise<Record<string, string>> {
    const r = await fetch(`${stack.connectUrl}/connectors/${name}/config`);
    expect(r.status).toBe(200);
    return (await r.json()) as Record<string, string>;
  }

  /** Reads `topic` from the beginning until `match` finds a message (or fails after timeoutMs). */
  async waitForEvent(
    topic: string,
    match: (value: Record<string, unknown> | null, key: unknown) => boolean,
    timeoutMs = 60_000,
  ): Promise<Record<string, unknown>> {
    const admin = this.kafka.admin();
    await admin.connect();
    const deadline = Date.now() + timeoutMs;
    try {
      while (!(await admin.listTopics()).includes(topic)) {
        if (Date.now() > deadline) throw new Error(`topic ${topic} did not appear within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      await admin.disconnect();
    }
    const consumer = this.kafka.consumer({ groupId: `${this.id}-${randomBytes(3).toString('hex')}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      return await new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching event on ${topic} within ${timeoutMs} ms`)),
          Math.max(1000, deadline - Date.now()),
        );
        consumer
          .run({
            eachMessage: async ({ message }) => {
              const value = message.value
                ? (JSON.parse(message.value.toString()) as Record<string, unknown>)
                : null;
              const key = message.key ? (JSON.parse(message.key.toString()) as unknown) : null;
              if (match(value, key)) {
                clearTimeout(timer);
                resolve(value!);
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
  }

  /** Removes connectors, slots, topics, the database, the role and the temp dir, whatever state the test left. */
  async tearDown(): Promise<void> {
    for (const name of [this.connector, ...this.extraConnectors]) {
      await fetch(`${stack.connectUrl}/connectors/${name}`, { method: 'DELETE' }).catch(() => undefined);
    }
    for (const slot of [this.slot, ...this.extraSlots]) {
      for (let i = 0; i < 60; i++) {
        const r = await this.admin.query<{ active: boolean }>(
          'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
          [slot],
        );
        if (r.rowCount === 0) break;
        if (!r.rows[0]!.active) {
          await this.admin.query('SELECT pg_drop_replication_slot($1)', [slot]).catch(() => undefined);
          continue;
        }
        await new Promise((res) => setTimeout(res, 500));
      }
    }
    await this.admin.query(`DROP DATABASE IF EXISTS ${this.id} WITH (FORCE)`).catch(() => undefined);
    await this.admin.query(`DROP ROLE IF EXISTS ${this.id}`).catch(() => undefined);
    await this.admin.end();
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const mine = (await admin.listTopics()).filter(
        (t) => t.startsWith(`${this.topicPrefix}.`) || t.endsWith(`.${this.topicPrefix}`),
      );
      if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    } catch {
      // Best effort: leftover topics only take a little disk.
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
