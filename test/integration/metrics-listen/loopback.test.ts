import { describe, it, expect, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, stack, uniqueName } from '../../helpers/stack.js';
import { runCli } from '../../helpers/cli.js';

// Issue 18 §12: the /metrics endpoints of `stream` and `top` listen on loopback unless
// --metrics-host / SHOPDATA_METRICS_HOST says otherwise. The bound address is read from the
// kernel's socket table (/proc/net/tcp, tcp6), as `ss -ltn` would show it.
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Local addresses listening on `port`, e.g. ['127.0.0.1'] or ['0.0.0.0'] or ['::']. */
function listeners(port: number): string[] {
  const out: string[] = [];
  for (const [file, v6] of [
    ['/proc/net/tcp', false],
    ['/proc/net/tcp6', true],
  ] as const) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6 on this machine
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || state !== '0A') continue; // 0A = LISTEN
      const [addr, p] = local.split(':');
      if (parseInt(p!, 16) !== port) continue;
      if (!v6) out.push([3, 2, 1, 0].map((i) => parseInt(addr!.slice(i * 2, i * 2 + 2), 16)).join('.'));
      else out.push(/^0+$/.test(addr!) ? '::' : addr!);
    }
  }
  return out;
}

/** Starts a long-running CLI command, waits until `port` listens, returns its addresses, stops it. */
async function boundAddresses(args: string[], env: Record<string, string>, port: number): Promise<string[]> {
  const child = spawn(process.execPath, [`${REPO_ROOT}bin/run.js`, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && child.exitCode === null) {
      const found = listeners(port);
      if (found.length > 0) return found;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`nothing listened on ${port}: ${stderr.slice(-1500)}`);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

describe('/metrics listens on loopback by default', () => {
  it('top --metrics-port: 127.0.0.1; SHOPDATA_METRICS_HOST=0.0.0.0 opens it to all interfaces', async () => {
    const env = { SHOPDATA_KAFKA_BROKERS: stack.kafkaBrokers.join(','), SHOPDATA_METRICS_HOST: '' };
    const args = (port: number) => [
      'top',
      '--metrics-port',
      String(port),
      '--group',
      uniqueName('lo'),
      '--interval',
      '5',
    ];
    let port = await freePort();
    expect(await boundAddresses(args(port), env, port)).toEqual(['127.0.0.1']);
    port = await freePort();
    expect(await boundAddresses(args(port), { ...env, SHOPDATA_METRICS_HOST: '0.0.0.0' }, port)).toEqual([
      '0.0.0.0',
    ]);
  });

  it('stream --metrics-port: 127.0.0.1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shopdata-listen-'));
    dirs.push(dir);
    const env = {
      SHOPDATA_CLICKHOUSE_URL: `chdb:${dir}/wh`,
      SHOPDATA_PII_SALT: '22dfceffdc8ccf0e2b0bd18f26e08543a7d13b58258a96f0a29cf69885ddc425',
      SHOPDATA_METRICS_HOST: '',
    };
    const migrated = await runCli(['warehouse', 'migrate'], { env });
    expect(migrated.code, migrated.stderr).toBe(0);
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, '');
    const port = await freePort();
    // Without --until-idle the replay keeps serving after the (empty) file.
    expect(
      await boundAddresses(['stream', '--from-file', file, '--metrics-port', String(port)], env, port),
    ).toEqual(['127.0.0.1']);
  });
});
