import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { REPO_ROOT, STACK_DIR, stack } from '../../helpers/stack.js';

export const ICEBERG_SINK = 'org.apache.iceberg.connect.IcebergSinkConnector';

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/**
 * A private Kafka Connect worker (distributed mode, one worker) on the shared broker, with the
 * stack's jars, config template and plugin path (Debezium + the Iceberg sink), its own group and
 * internal topics, on an ephemeral loopback port: a test may kill -9 it without touching the
 * stack's worker. Its environment has the S3 keys moto accepts, as the stack's worker does.
 */
export class PrivateConnect {
  readonly dir = mkdtempSync(join(tmpdir(), 'shopdata-connect-'));
  port = 0;
  private proc: ChildProcess | undefined;
  private readonly config = join(this.dir, 'connect.properties');
  readonly log = join(this.dir, 'connect.log');

  constructor(readonly id: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  get internalTopics(): string[] {
    return [`${this.id}-configs`, `${this.id}-offsets`, `${this.id}-status`];
  }

  async init(): Promise<void> {
    this.port = await freePort();
    const template = readFileSync(
      `${REPO_ROOT}scripts/stack/conf/connect/connect-distributed.properties`,
      'utf8',
    );
    const [configs, offsets, status] = this.internalTopics;
    const props = template
      .replaceAll('@KAFKA_PORT@', new URL(`kafka://${stack.kafkaBrokers[0]}`).port)
      .replaceAll('@CONNECT_PORT@', String(this.port))
      .replaceAll('@PLUGIN_DIR@', `${STACK_DIR}/connect/plugins`)
      .replaceAll('@PLUGIN_DISCOVERY@', 'service_load')
      .replace(/^group\.id=.*$/m, `group.id=${this.id}`)
      .replace(/^config\.storage\.topic=.*$/m, `config.storage.topic=${configs}`)
      .replace(/^offset\.storage\.topic=.*$/m, `offset.storage.topic=${offsets}`)
      .replace(/^status\.storage\.topic=.*$/m, `status.storage.topic=${status}`);
    // A restarted worker gets its connectors back at once (no wait for the dead one), and a dead
    // sink task's consumer leaves its group after 10 s instead of 45 s.
    const extra = [
      'scheduled.rebalance.max.delay.ms=0',
      'consumer.session.timeout.ms=10000',
      'consumer.heartbeat.interval.ms=2000',
    ];
    writeFileSync(this.config, `${props}\n${extra.join('\n')}\n`);
  }

  /** Starts the worker and waits until it has joined its group and lists the Iceberg sink. */
  async start(timeoutMs = 150_000): Promise<void> {
    const log = openSync(this.log, 'a');
    this.proc = spawn(
      'java',
      [
        '-Xms128m',
        '-Xmx512m',
        '-XX:+UseG1GC',
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${REPO_ROOT}scripts/stack/conf/kafka/log4j2.properties`,
        '-cp',
        `${STACK_DIR}/kafka/libs/*`,
        'org.apache.kafka.connect.cli.ConnectDistributed',
        this.config,
      ],
      {
        stdio: ['ignore', log, log],
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_REGION: 'us-east-1',
        },
      },
    );
    closeSync(log);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.proc.exitCode !== null) throw new Error(`private Connect exited:\n${this.logTail()}`);
      const plugins = await fetch(`${this.url}/connector-plugins`)
        .then(async (r) => (r.ok && (await fetch(`${this.url}/health`)).ok ? r.text() : ''))
        .catch(() => '');
      if (plugins.includes(ICEBERG_SINK)) return;
      if (plugins !== '')
        throw new Error(
          `private Connect runs without ${ICEBERG_SINK}; install it with scripts/stack/services/connect.sh install`,
        );
      if (Date.now() > deadline) throw new Error(`private Connect did not start in time:\n${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** kill -9: no shutdown hooks, no offset flush, no goodbye to the groups. */
  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.log, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Stops the worker and removes its internal topics, the extra topics and groups given, and its files. */
  async destroy(extra: { topics?: string[]; groups?: string[] } = {}): Promise<void> {
    await this.kill9();
    const kafka = new Kafka({
      clientId: 'lake-sink-cleanup',
      brokers: [...stack.kafkaBrokers],
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const topics = [...this.internalTopics, ...(extra.topics ?? [])].filter((t) => existing.has(t));
      if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 15_000 });
      if (extra.groups?.length) await admin.deleteGroups(extra.groups).catch(() => undefined);
    } catch {
      // Best effort: leftovers only take a little disk.
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    // SHOPDATA_LAKE_SINK_KEEP_LOG=1 keeps the worker's log for a look after a failure.
    if (process.env.SHOPDATA_LAKE_SINK_KEEP_LOG === '1')
      copyFileSync(this.log, join(tmpdir(), `${this.id}.log`));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
