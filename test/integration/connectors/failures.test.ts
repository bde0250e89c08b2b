import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorFixture } from './fixture.js';
import { runCli } from '../../helpers/cli.js';

// Needs the local stack (Kafka, Connect with Debezium, PostgreSQL) and the built CLI.
describe('connectors: failures and their exit codes', () => {
  const fx = new ConnectorFixture('cxfail');

  beforeAll(async () => {
    await fx.setUp();
  });
  afterAll(async () => {
    await fx.tearDown();
  });

  it('a bad database host fails validation with Debezium’s reason, exit 3, and creates nothing', async () => {
    const started = Date.now();
    const r = await fx.cli(['connectors', 'apply', fx.connector], {
      SHOPDATA_POSTGRES_URL: fx.sourceUrl.replace('@127.0.0.1:', '@db-does-not-exist.invalid:'),
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/could not reach the source database of connector/);
    expect(r.stderr).toContain(
      'database.hostname: Error while validating connector config: The connection attempt failed.',
    );
    expect(r.stderr).toMatch(/Nothing was changed/);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await fx.connectorExists()).toBe(false);
  });

  it('a task that fails after creation is reported with its trace (exit 1); restart --failed-only brings it back', async () => {
    const publication = `${fx.id}_pub`;
    const env = { SHOPDATA_CONNECT_PG_PUBLICATION: publication };
    const r = await fx.cli(['connectors', 'apply', fx.connector], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${fx.connector}: apply: created`);
    expect(r.stderr).toMatch(new RegExp(`Connector ${fx.connector}: task 0 FAILED:`));
    expect(r.stderr).toContain(
      'Publication autocreation is disabled, please create one and restart the connector.',
    );
    expect(r.stderr).toContain(`shopdata connectors restart ${fx.connector} --failed-only`);
    // Only the exception chain, not the Java frames.
    expect(r.stderr).not.toMatch(/^\s+at /m);

    const status = await fx.cli(['connectors', 'status', fx.connector]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^${fx.connector}\\s+RUNNING\\s+0/1 \\(FAILED\\)`, 'm'));
    expect(status.stdout).toContain(`${fx.connector}: task 0 FAILED:`);

    await fx.sql(
      `CREATE PUBLICATION ${publication} FOR TABLE sellers, users, products, auth_credentials (user_id, last_login_at, failed_logins, updated_at)`,
    );
    const restart = await fx.cli(['connectors', 'restart', fx.connector, '--failed-only'], env);
    expect(restart.code).toBe(0);
    expect(restart.stdout).toContain('wait until running: RUNNING, task 0 RUNNING');

    await fx.sql(`INSERT INTO sellers (id, name) VALUES (99, 'after restart')`);
    const ev = await fx.waitForEvent(
      `${fx.topicPrefix}.public.sellers`,
      (v) => (v?.after as { id?: number } | null)?.id === 99,
    );
    expect(ev.op).toBe('c');

    // The same template applied with the right publication is what runs now: nothing to change.
    const again = await fx.cli(['connectors', 'apply', fx.connector], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('unchanged, nothing to do');
  });

  it('a secret that Connect echoes back in a validation error is masked (exit 2: invalid config)', async () => {
    // The worker resolves the reference to the password and complains that it is no valid topic prefix.
    const r = await fx.cli(['connectors', 'validate', fx.connector, '--json'], {
      SHOPDATA_CONNECT_PG_TOPIC_PREFIX: `\${file:${fx.secretsFile}:pg.password}`,
    });
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as {
      error: {
        message: string;
        details: { errors: Array<{ key: string; messages: string[] }>; connectors: unknown[] };
      };
    };
    expect(out.error.details.connectors).toHaveLength(1);
    const messages = out.error.details.errors.find((e) => e.key === 'topic.prefix')!.messages.join(' ');
    expect(messages).toMatch(/The 'topic.prefix' value is invalid: \*{8} has invalid format/);
    expect(out.error.message).toContain('********');
  });

  it('an inline secret is refused before anything reaches Connect (exit 2)', async () => {
    const r = await fx.cli(['connectors', 'apply', fx.connector, '--dry-run'], {
      SHOPDATA_CONNECT_PG_PASSWORD_REF: fx.password,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /database.password holds an inline secret; use a Kafka Connect config-provider reference/,
    );
  });

  it('validate reports a valid template (exit 0) and lists unknown settings as warnings', async () => {
    const r = await fx.cli(['connectors', 'validate', fx.connector, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      connectors: Array<{
        valid: boolean;
        errors: unknown[];
        unknownKeys: string[];
        config: Record<string, string>;
      }>;
    };
    expect(out.connectors[0]).toMatchObject({ valid: true, errors: [], unknownKeys: [] });
    expect(out.connectors[0]!.config['database.password']).toBe(`\${file:${fx.secretsFile}:pg.password}`);
  });

  it('no output of the runs above holds the database password', () => {
    fx.assertNoSecretLeaked();
  });
});

describe('connectors: unreachable or missing Kafka Connect', () => {
  let server: Server;
  let silentPort = 0;
  let closedPort = 0;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    // A port nobody listens on (bound, then released).
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    // A port that accepts connections and never answers: the worst case for a timeout.
    server = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    silentPort = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('a refused port: clear message and exit 3 within ~15 s', async () => {
    const started = Date.now();
    const r = await runCli(['connectors', 'status'], {
      env: { SHOPDATA_CONNECT_URL: `http://127.0.0.1:${closedPort}` },
    });
    const took = Date.now() - started;
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      new RegExp(
        `Kafka Connect at http://127\\.0\\.0\\.1:${closedPort} is unreachable: ECONNREFUSED \\(\\d+ attempts in \\d+\\.\\d s\\)`,
      ),
    );
    expect(r.stderr).toMatch(/Hint: Check that the worker runs/);
    expect(took).toBeLessThan(15_000);
  });

  it('a port that never answers: exit 3 within ~15 s, also with --json', async () => {
    const started = Date.now();
    const r = await runCli(['connectors', 'apply', '--json'], {
      env: {
        SHOPDATA_CONNECT_URL: `http://127.0.0.1:${silentPort}`,
        SHOPDATA_POSTGRES_URL: 'postgres://u:never-printed-pw@127.0.0.1:1/shop',
        SHOPDATA_MONGO_URL: 'mongodb://127.0.0.1:1/shop_events',
        SHOPDATA_ICEBERG_CATALOG_URI: 'http://127.0.0.1:1',
      },
    });
    const took = Date.now() - started;
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout) as { error: { code: string; exitCode: number; message: string } };
    expect(out.error.exitCode).toBe(3);
    expect(out.error.message).toMatch(/no answer within \d+ ms/);
    expect(took).toBeLessThan(15_000);
    expect(r.stdout + r.stderr).not.toContain('never-printed-pw');
  });

  it('no Connect URL at all: exit 2, naming the variable', async () => {
    const r = await runCli(['connectors', 'status'], { env: { SHOPDATA_CONNECT_URL: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('SHOPDATA_CONNECT_URL');
  });
});
