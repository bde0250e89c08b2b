import { spawnSync } from 'node:child_process';
import {
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A private ClickHouse 18.16 server for tests that change users.d (the stack's shared server
 * must not be restarted or given users that other tests do not expect). Debian's config with its
 * own directory and loopback ports; `default` (no password, loopback) logs every query
 * (log_queries = 1) so tests can read system.query_log. Started as the `clickhouse` user like the
 * stack's (scripts/stack/services/clickhouse.sh), stopped by its pid.
 */
export interface PrivateClickHouse {
  httpPort: number;
  adminUrl: string;
  /** Writes a users.d file; the server reloads users by itself within a few seconds. */
  installUsers(name: string, xml: string): void;
  stop(): Promise<void>;
}

const SERVER = '/usr/sbin/clickhouse-server';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startPrivateClickHouse(): Promise<PrivateClickHouse> {
  const dir = mkdtempSync(join(tmpdir(), 'shopdata-ch1816-'));
  for (const d of ['etc/config.d', 'etc/users.d', 'data', 'tmp', 'user_files', 'format_schemas', 'log'])
    mkdirSync(join(dir, d), { recursive: true });
  copyFileSync('/etc/clickhouse-server/config.xml', join(dir, 'etc/config.xml'));
  copyFileSync('/etc/clickhouse-server/users.xml', join(dir, 'etc/users.xml'));
  const [http, tcp, inter] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'etc/config.d/private.xml'),
    `<yandex>
  <logger><level>warning</level><log>${dir}/log/server.log</log><errorlog>${dir}/log/server.err.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${http}</http_port><tcp_port>${tcp}</tcp_port><interserver_http_port>${inter}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>${dir}/data/</path><tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path><format_schema_path>${dir}/format_schemas/</format_schema_path>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size><uncompressed_cache_size>67108864</uncompressed_cache_size>
</yandex>
`,
  );
  writeFileSync(
    join(dir, 'etc/users.d/00-private.xml'),
    `<yandex>
  <profiles><default><log_queries>1</log_queries></default></profiles>
  <users><default><networks replace="replace"><ip>127.0.0.1</ip><ip>::1</ip></networks></default></users>
</yandex>
`,
  );
  const owner = statSync('/var/lib/clickhouse');
  const chownAll = (p: string) => spawnSync('chown', ['-R', `${owner.uid}:${owner.gid}`, p]);
  chownAll(dir);
  const pidFile = join(dir, 'server.pid');
  const started = spawnSync(
    'runuser',
    [
      '-u',
      'clickhouse',
      '--',
      SERVER,
      `--config-file=${dir}/etc/config.xml`,
      '--daemon',
      `--pid-file=${pidFile}`,
    ],
    { encoding: 'utf8' },
  );
  if (started.status !== 0) throw new Error(`clickhouse-server did not start: ${started.stderr}`);
  const adminUrl = `http://default:@127.0.0.1:${http}`;
  const answers = async () =>
    fetch(`http://127.0.0.1:${http}/?query=SELECT%20version()`)
      .then((r) => r.text())
      .catch(() => '');
  for (let i = 0; !(await answers()).startsWith('18.16'); i++) {
    if (i > 120)
      throw new Error(`private ClickHouse did not answer: ${tail(join(dir, 'log/server.err.log'))}`);
    await sleep(250);
  }
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return {
    httpPort: http,
    adminUrl,
    installUsers(name, xml) {
      const file = join(dir, 'etc/users.d', name);
      writeFileSync(file, xml);
      chownSync(file, owner.uid, owner.gid);
    },
    async stop() {
      try {
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 100; i++) {
          process.kill(pid, 0);
          await sleep(100);
        }
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-1500);
  } catch {
    return '(no log)';
  }
}
