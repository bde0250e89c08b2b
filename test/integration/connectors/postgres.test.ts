import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorFixture } from './fixture.js';

// Needs the local stack: Kafka, Connect with Debezium, PostgreSQL (scripts/stack/up kafka connect postgres),
// and the built CLI (npm run build). The steps below run in order and share one connector.
describe('connectors: the PostgreSQL connector from apply to delete', () => {
  const fx = new ConnectorFixture('cxpg');

  beforeAll(async () => {
    await fx.setUp();
    // Rows that exist before the connector: they reach Kafka through the initial snapshot (SELECT).
    await fx.sql(
      `INSERT INTO users (id, email, full_name, city) VALUES (1, 'snap@example.com', 'Snap Shot', 'Berlin')`,
    );
    await fx.sql(
      `INSERT INTO auth_credentials (user_id, password_hash) VALUES (1, 'HASH-SNAPSHOT-${fx.id}')`,
    );
  });
  afterAll(async () => {
    await fx.tearDown();
  });

  it('apply creates the connector and waits until its task runs', async () => {
    const r = await fx.cli(['connectors', 'apply', fx.connector]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${fx.connector}: apply: created`);
    expect(r.stdout).toMatch(new RegExp(`${fx.connector}: wait until running: RUNNING, task 0 RUNNING`));
    const live = await fx.connectorConfig();
    // Connect stores the reference, never the password.
    expect(live['database.password']).toBe(`\${file:${fx.secretsFile}:pg.password}`);
    expect(live['topic.prefix']).toBe(fx.topicPrefix);
    expect(await fx.slotExists()).toBe(true);
  });

  it('a row inserted into products arrives on <prefix>.public.products with its price as a string', async () => {
    await fx.sql(`INSERT INTO sellers (id, name, country) VALUES (7, 'Seller Seven', 'DE')`);
    await fx.sql(
      `INSERT INTO products (id, seller_id, sku, name, category, price) VALUES (4242, 7, 'SKU-${fx.id}', 'Mug', 'kitchen', 12.50)`,
    );
    const ev = await fx.waitForEvent(
      `${fx.topicPrefix}.public.products`,
      (v) => (v?.after as { id?: number } | null)?.id === 4242,
    );
    expect(ev.op).toBe('c');
    expect(ev.after).toMatchObject({
      id: 4242,
      seller_id: 7,
      sku: `SKU-${fx.id}`,
      category: 'kitchen',
      price: '12.50',
      active: true,
    });
    // No schema/payload wrapper (value.converter.schemas.enable=false).
    expect(ev).not.toHaveProperty('schema');
  });

  it('auth_credentials events carry no password_hash, from the snapshot and from the stream', async () => {
    await fx.sql(`INSERT INTO users (id, email) VALUES (2, 'stream@example.com')`);
    await fx.sql(
      `INSERT INTO auth_credentials (user_id, password_hash, failed_logins) VALUES (2, 'HASH-STREAM-${fx.id}', 3)`,
    );
    const topic = `${fx.topicPrefix}.public.auth_credentials`;
    const snap = await fx.waitForEvent(
      topic,
      (v) => (v?.after as { user_id?: number } | null)?.user_id === 1,
    );
    const stream = await fx.waitForEvent(
      topic,
      (v) => (v?.after as { user_id?: number } | null)?.user_id === 2,
    );
    expect(snap.op).toBe('r');
    expect(stream.op).toBe('c');
    expect(stream.after).toMatchObject({ user_id: 2, failed_logins: 3 });
    for (const ev of [snap, stream]) {
      expect(ev.after).not.toHaveProperty('password_hash');
      expect(JSON.stringify(ev)).not.toContain('HASH-');
    }
  });

  it('apply again changes nothing and says so', async () => {
    const before = await fx.connectorConfig();
    const r = await fx.cli(['connectors', 'apply', fx.connector, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      connectors: Array<{ connector: string; action: string; changes: unknown[]; state: string }>;
    };
    expect(out.connectors).toEqual([
      expect.objectContaining({
        connector: fx.connector,
        action: 'unchanged',
        changes: [],
        state: 'RUNNING, task 0 RUNNING',
      }),
    ]);
    expect(await fx.connectorConfig()).toEqual(before);
    const text = await fx.cli(['connectors', 'apply', fx.connector]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('unchanged, nothing to do');
    expect(text.stdout).toContain('1 unchanged');
  });

  it('diff is clean (exit 0) while the live config matches the template', async () => {
    const r = await fx.cli(['connectors', 'diff', fx.connector]);
    expect(r.code, `${r.stdout}\n${r.stderr.slice(-2000)}`).toBe(0);
    expect(r.stdout).toContain(`${fx.connector}: in sync with template shop-postgres`);
  });

  it('a changed template shows in diff (exit 1) and apply updates the connector', async () => {
    const file = join(fx.templatesDir, 'shop-postgres.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8')
        .replace(/^(\s*)(heartbeat\.interval\.ms:.*)$/m, '$1$2\n$1max.batch.size: 1024')
        .replace(/^(\s*)tombstones\.on\.delete: true$/m, '$1tombstones.on.delete: false'),
    );
    const diff = await fx.cli(['connectors', 'diff', fx.connector]);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toContain('+ max.batch.size: 1024');
    expect(diff.stdout).toContain('~ tombstones.on.delete: true → false');
    expect(diff.stderr).toMatch(/1 connector differs from the templates/);

    const json = await fx.cli(['connectors', 'diff', fx.connector, '--json']);
    expect(json.code).toBe(1);
    const err = JSON.parse(json.stdout) as {
      error: {
        code: string;
        exitCode: number;
        details: { connectors: Array<{ status: string; changes: Array<{ key: string }> }> };
      };
    };
    expect(err.error).toMatchObject({ code: 'CONNECTOR_DRIFT', exitCode: 1 });
    expect(err.error.details.connectors[0]!.changes.map((c) => c.key)).toEqual([
      'max.batch.size',
      'tombstones.on.delete',
    ]);

    const dry = await fx.cli(['connectors', 'apply', fx.connector, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would update; nothing changed (dry run)');
    expect((await fx.connectorConfig())['max.batch.size']).toBeUndefined();

    const apply = await fx.cli(['connectors', 'apply', fx.connector]);
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain(`${fx.connector}: apply: updated`);
    expect(apply.stdout).toContain('+ max.batch.size: 1024');
    const live = await fx.connectorConfig();
    expect(live['max.batch.size']).toBe('1024');
    expect(live['tombstones.on.delete']).toBe('false');
    expect((await fx.cli(['connectors', 'diff', fx.connector])).code).toBe(0);

    // Still streaming after the update.
    await fx.sql(
      `INSERT INTO products (id, seller_id, sku, category, price) VALUES (4343, 7, 'SKU2-${fx.id}', 'garden', 3.99)`,
    );
    const ev = await fx.waitForEvent(
      `${fx.topicPrefix}.public.products`,
      (v) => (v?.after as { id?: number } | null)?.id === 4343,
    );
    expect((ev.after as { price: string }).price).toBe('3.99');
  });

  it('status shows the connector as a table and as JSON', async () => {
    const table = await fx.cli(['connectors', 'status', fx.connector]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^CONNECTOR\s+STATE\s+TASKS\s+TYPE\s+PLUGIN\s+TEMPLATE\s+WORKER/m);
    expect(table.stdout).toMatch(
      new RegExp(
        `^${fx.connector}\\s+RUNNING\\s+1/1\\s+source\\s+PostgresConnector\\s+shop-postgres\\s`,
        'm',
      ),
    );
    const json = await fx.cli(['connectors', 'status', fx.connector, '--json']);
    expect(json.code).toBe(0);
    const out = JSON.parse(json.stdout) as { connectors: Array<Record<string, unknown>> };
    expect(out.connectors).toEqual([
      expect.objectContaining({
        name: fx.connector,
        state: 'RUNNING',
        template: 'shop-postgres',
        connectorClass: 'io.debezium.connector.postgresql.PostgresConnector',
        tasks: [expect.objectContaining({ id: 0, state: 'RUNNING' })],
      }),
    ]);
  });

  it('pause and resume', async () => {
    const dry = await fx.cli(['connectors', 'pause', fx.connector, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(
      `${fx.connector}: would pause (now RUNNING, task 0 RUNNING); nothing changed (dry run)`,
    );
    const p = await fx.cli(['connectors', 'pause', fx.connector]);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain('wait until paused: PAUSED, task 0 PAUSED');
    // Applying an unchanged template to a paused connector leaves it paused.
    const a = await fx.cli(['connectors', 'apply', fx.connector]);
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('PAUSED, task 0 PAUSED');
    const r = await fx.cli(['connectors', 'resume', fx.connector]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('wait until running: RUNNING, task 0 RUNNING');
  });

  it('restart restarts the connector and its tasks', async () => {
    const r = await fx.cli(['connectors', 'restart', fx.connector]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('wait until running: RUNNING, task 0 RUNNING');
  });

  it('delete refuses without a terminal unless --yes, then removes the connector and, with --drop-slot, its slot', async () => {
    const refused = await fx.cli(['connectors', 'delete', fx.connector]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/stdin is not a terminal/);
    expect(await fx.connectorExists()).toBe(true);
    const dry = await fx.cli(['connectors', 'delete', fx.connector, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would delete; nothing changed (dry run)');
    expect(await fx.connectorExists()).toBe(true);

    const r = await fx.cli(['connectors', 'delete', fx.connector, '--yes', '--drop-slot', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      connectors: [{ connector: fx.connector, deleted: true, slot: { name: fx.slot, outcome: 'dropped' } }],
    });
    expect(await fx.connectorExists()).toBe(false);
    expect(await fx.slotExists()).toBe(false);

    const again = await fx.cli(['connectors', 'delete', fx.connector, '--yes']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`No connector named ${fx.connector}`);
  });

  it('no output of any run above holds the database password', () => {
    expect(fx.runs.length).toBeGreaterThanOrEqual(15);
    fx.assertNoSecretLeaked();
  });
});
