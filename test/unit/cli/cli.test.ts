import { describe, it, expect } from 'vitest';
import { runCli } from '../../helpers/cli.js';

// Runs the built CLI (npm run build) the way users do.
describe('shopdata CLI surface', () => {
  it('lists every topic of the contract in --help', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const topic of ['demo', 'seed', 'warehouse', 'connectors', 'stream', 'backfill', 'vault', 'top']) {
      expect(r.stdout).toContain(topic);
    }
  });

  it('exits 2 with a helpful line for an unknown command', async () => {
    const r = await runCli(['nonsense']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a shopdata command/);
    expect(r.stderr).toMatch(/shopdata --help/);
  });

  it('exits 2 for a bad flag, naming it', async () => {
    const r = await runCli(['backfill', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--bogus');
  });

  it('exits 2 for an invalid SHOPDATA_* value, naming the variable', async () => {
    const r = await runCli(['warehouse', 'status', '--json'], {
      env: { SHOPDATA_CLICKHOUSE_URL: 'ftp://x' },
    });
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as { error: { message: string; exitCode: number } };
    expect(out.error.exitCode).toBe(2);
    expect(out.error.message).toContain('SHOPDATA_CLICKHOUSE_URL');
  });

  it('prints the version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^shopdata\/\d+\.\d+\.\d+/);
  });
});
