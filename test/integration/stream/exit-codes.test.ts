import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { stack } from '../../helpers/stack.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { SALT, createVault, dropVault, freePort, namespace, streamArgs } from './support.js';

// The contract's exit codes for `stream`: 3 when Kafka or ClickHouse cannot be reached (after the
// client's retries), 2 for configuration problems (no PII salt, no vault tables), each with a hint.

const ns = namespace('sexit');
let wh: Warehouse;

describe('stream exit codes', () => {
  beforeAll(async () => {
    wh = await createVault(ns);
  });
  afterAll(async () => {
    await dropVault(wh, ns);
    await wh.close();
  });

  it('exits 3 when Kafka is unreachable', async () => {
    const port = await freePort();
    const res = await runCli(
      ['stream', ...streamArgs(ns, ['--until-idle', '--json'], { brokers: `127.0.0.1:${port}` })],
      { env: { SHOPDATA_PII_SALT: SALT }, timeoutMs: 90_000 },
    );
    expect(res.code).toBe(3);
    expect(JSON.parse(res.stdout).error).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE', exitCode: 3 });
    expect(res.stdout).toContain('Kafka is unreachable');
  });

  it('exits 3 when ClickHouse is unreachable', async () => {
    const port = await freePort();
    const res = await runCli(
      [
        'stream',
        ...streamArgs(ns, ['--until-idle', '--json'], { clickhouseUrl: `http://default:@127.0.0.1:${port}` }),
      ],
      { env: { SHOPDATA_PII_SALT: SALT }, timeoutMs: 90_000 },
    );
    expect(res.code).toBe(3);
    expect(res.stdout).toContain('ClickHouse');
  });

  it('exits 2 without a PII salt', async () => {
    const res = await runCli(['stream', ...streamArgs(ns, ['--until-idle', '--json'])], {
      env: { SHOPDATA_PII_SALT: '' },
      timeoutMs: 30_000,
    });
    expect(res.code).toBe(2);
    expect(res.stdout).toContain('SHOPDATA_PII_SALT');
  });

  it('exits 2 for a replay file that does not exist', async () => {
    const res = await runCli(
      [
        'stream',
        '--from-file',
        '/nonexistent/events.jsonl',
        '--until-idle',
        '--clickhouse-url',
        stack.clickhouseUrl,
        '--db-suffix',
        ns.suffix,
        '--json',
      ],
      { env: { SHOPDATA_PII_SALT: SALT } },
    );
    expect(res.code).toBe(2);
    expect(res.stdout).toContain('--from-file');
  });
});
