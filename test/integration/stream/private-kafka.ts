import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, STACK_DIR } from '../../helpers/stack.js';
import { freePort, testKafka } from './support.js';

/**
 * A private single-node Kafka (KRaft, the stack's jars and config template) on ephemeral loopback
 * ports, so a test can stop and restart a broker without touching the shared one. Kafka
 * advertises its listener address, so a TCP proxy in front of the shared broker would not do.
 */
export class PrivateKafka {
  readonly dir = mkdtempSync(join(tmpdir(), 'shopdata-kafka-'));
  port = 0;
  private controllerPort = 0;
  private proc: ChildProcess | undefined;
  private readonly config = join(this.dir, 'server.properties');
  private readonly libs = `${STACK_DIR}/kafka/libs/*`;
  private readonly confSrc = `${REPO_ROOT}scripts/stack/conf/kafka`;

  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  async init(): Promise<void> {
    this.port = await freePort();
    this.controllerPort = await freePort();
    const template = readFileSync(`${this.confSrc}/server.properties`, 'utf8');
    writeFileSync(
      this.config,
      template
        .replaceAll('@KAFKA_PORT@', String(this.port))
        .replaceAll('@KAFKA_CONTROLLER_PORT@', String(this.controllerPort))
        .replaceAll('@DATA_DIR@', join(this.dir, 'data')),
    );
    const fmt = spawnSync(
      'java',
      [
        '-Xmx256m',
        '-XX:TieredStopAtLevel=1',
        `-Dlog4j2.configurationFile=${this.confSrc}/tools-log4j2.properties`,
        '-cp',
        this.libs,
        'kafka.tools.StorageTool',
        'format',
        '--ignore-formatted',
        '-t',
        'c2hvcGRhdGEtdGVzdC0wMQ',
        '-c',
        this.config,
      ],
      { encoding: 'utf8' },
    );
    if (fmt.status !== 0) throw new Error(`formatting the private Kafka failed: ${fmt.stderr}`);
  }

  /** Starts the broker and waits until it answers metadata requests. */
  async start(timeoutMs = 120_000): Promise<void> {
    const log = openSync(join(this.dir, 'kafka.log'), 'a');
    this.proc = spawn(
      'java',
      [
        '-Xms128m',
        '-Xmx384m',
        '-XX:+UseG1GC',
        '-XX:TieredStopAtLevel=1',
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${this.confSrc}/log4j2.properties`,
        '-cp',
        this.libs,
        'kafka.Kafka',
        this.config,
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.proc.exitCode !== null)
        throw new Error(
          `private Kafka exited: ${readFileSync(join(this.dir, 'kafka.log'), 'utf8').slice(-2000)}`,
        );
      const admin = testKafka(this.brokers).admin();
      try {
        await admin.connect();
        await admin.listTopics();
        await admin.disconnect();
        return;
      } catch {
        await admin.disconnect().catch(() => undefined);
      }
      if (Date.now() > deadline) throw new Error('private Kafka did not start in time');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** Stops the broker (SIGTERM: a controlled shutdown, as a restart would do) and waits for it. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }

  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
