import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';

// Issue 18 §7 through the built CLI (npm run build): what a user sees on stdout and stderr.
function dir(yaml = 'clickhouse:\n  retries: 0\n  requestTimeoutMs: 5000\n'): string {
  const d = mkdtempSync(join(tmpdir(), 'shopdata-secrets-'));
  writeFileSync(join(d, 'shopdata.yaml'), yaml);
  return d;
}
const run = (url: string | undefined, cwd = dir()) =>
  runCli(['warehouse', 'status', '--json'], { cwd, env: { SHOPDATA_CLICKHOUSE_URL: url } });

describe('no secret echo from the CLI (issue 18 §7)', () => {
  it('an empty-user URL and a password holding @ are masked whole (server unreachable: exit 3)', async () => {
    for (const [url, secret] of [
      ['http://:SECRETPW@127.0.0.1:1', 'SECRETPW'],
      ['http://u:p@ss-SECRET9@127.0.0.1:1', 'SECRET9'],
    ] as const) {
      const r = await run(url);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stdout + r.stderr).not.toContain(secret);
      expect(JSON.parse(r.stdout).error.message).toMatch(
        /ClickHouse at http:\/\/u?:\*\*\*@127\.0\.0\.1:1 is unreachable/,
      );
    }
  });

  it('a / in the password or a bad port is exit 2 with what to do, not "This looks like a bug"', async () => {
    for (const url of ['http://u:pa/ss-SECRET7@127.0.0.1:1', 'http://u:pass-SECRET7@127.0.0.1:99999']) {
      const r = await run(url);
      expect(r.code, r.stdout).toBe(2);
      const out = r.stdout + r.stderr;
      expect(out).not.toContain('SECRET7');
      expect(out).not.toMatch(/looks like a bug/);
      expect(JSON.parse(r.stdout).error.message).toMatch(/SHOPDATA_CLICKHOUSE_URL/);
      expect(out).toMatch(/percent-encoded/);
    }
  });

  it('a shopdata.yaml syntax error shows line and problem, not the file', async () => {
    const r = await run(undefined, dir('clickhouse:\n  url: http://u:SECRET5@127.0.0.1:1: x\n'));
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).not.toContain('SECRET5');
    expect(JSON.parse(r.stdout).error.message).toMatch(/not valid YAML: .* at line \d+, column \d+/);
  });
});
