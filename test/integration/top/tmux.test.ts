import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { REPO_ROOT, stack, uniqueName } from '../../helpers/stack.js';
import { createTopicsReady } from '../../helpers/kafka.js';

// A real terminal: tmux runs the built `shopdata top` (npm run build first) against the stack's
// Kafka while this test's producer makes lag and its consumer drains it. Needs tmux.
const execFileAsync = promisify(execFile);
const kafka = new Kafka({
  clientId: 'top-tmux-test',
  brokers: [...stack.kafkaBrokers],
  logLevel: logLevel.NOTHING,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Row {
  status: string;
  lag: number;
}

describe('shopdata top in tmux', () => {
  const topic = uniqueName('top_tmux');
  const group = `${topic}_g`;
  const socket = uniqueName('toptest'); // a tmux server of our own
  const dir = mkdtempSync(join(tmpdir(), 'top-tmux-'));
  const exitFile = join(dir, 'exit');
  let admin: Admin;
  let producer: Producer;
  let consumer: Consumer;
  let consumed = 0;
  /** Per-message work time: 0 while filling, then slow enough that the drain is visible. */
  let workMs = 0;

  const tmux = (...args: string[]) => execFileAsync('tmux', ['-L', socket, ...args], { timeout: 10_000 });
  const capture = async () => (await tmux('capture-pane', '-p', '-t', 'top')).stdout;
  const row = (screen: string): Row | undefined => {
    const line = screen.split('\n').find((l) => l.includes(group));
    const m = line && new RegExp(`${group}\\s+(OK|WARN|STALLED|STOPPED|REWINDING)\\s+(\\d+)\\s`).exec(line);
    return m ? { status: m[1]!, lag: Number(m[2]) } : undefined;
  };

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await createTopicsReady(admin, [{ topic, numPartitions: 2 }]);
    producer = kafka.producer();
    await producer.connect();
    consumer = kafka.consumer({ groupId: group, heartbeatInterval: 500, sessionTimeout: 30_000 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    void consumer.run({
      autoCommitThreshold: 10,
      eachMessage: async () => {
        consumed++;
        if (workMs) await sleep(workMs);
      },
    });
  });

  afterAll(async () => {
    await tmux('kill-server').catch(() => undefined);
    await consumer?.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await admin.deleteGroups([group]).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows lag rising and falling and the status changing; q exits 0', async () => {
    // A first batch, consumed and committed: the group shows up caught up.
    await producer.send({
      topic,
      messages: Array.from({ length: 20 }, (_, i) => ({ value: `a${i}`, partition: i % 2 })),
    });
    for (let i = 0; consumed < 20; i++) {
      if (i > 300) throw new Error(`consumer got ${consumed}/20`);
      await sleep(100);
    }

    const cmd = [
      `cd ${REPO_ROOT}`,
      `SHOPDATA_KAFKA_BROKERS=${stack.kafkaBrokers.join(',')} SHOPDATA_CONNECT_URL= ${process.execPath} bin/run.js top --group ${group} --interval 0.5 --window 4`,
      `echo $? > ${exitFile}`,
    ].join('; ');
    await tmux('new-session', '-d', '-s', 'top', '-x', '150', '-y', '30', cmd);

    const seen: Row[] = [];
    const observe = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const r = row(await capture());
        if (r) seen.push(r);
        await sleep(250);
      }
    };
    // Start-up on two busy cores can take a few seconds: wait for the row, then watch a little.
    for (let i = 0; i < 120 && seen.length === 0; i++) await observe(250);
    await observe(1500);
    expect(seen.length, `the group row appears; screen:\n${await capture()}`).toBeGreaterThan(0);
    expect(seen.at(-1)).toEqual({ status: 'OK', lag: 0 });

    // The consumer stops taking messages (a live member that makes no progress) while data arrives.
    consumer.pause([{ topic }]);
    for (let i = 0; i < 8; i++) {
      await producer.send({
        topic,
        messages: Array.from({ length: 25 }, (_, j) => ({ value: `b${i}-${j}`, partition: j % 2 })),
      });
      await observe(500);
    }
    await observe(2500);
    const peak = Math.max(...seen.map((r) => r.lag));
    expect(peak).toBe(200);
    expect(
      seen.some((r) => r.status === 'STALLED'),
      `statuses seen: ${[...new Set(seen.map((r) => r.status))].join(',')}`,
    ).toBe(true);

    // Resume, slowly (~4 s for 200 messages): the lag drains to zero and the status returns to OK.
    workMs = 20;
    consumer.resume([{ topic }]);
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      await observe(500);
      const last = seen.at(-1)!;
      if (last.lag === 0 && last.status === 'OK') break;
    }
    expect(seen.at(-1)).toEqual({ status: 'OK', lag: 0 });
    const lags = seen.map((r) => r.lag);
    if (process.env.TOP_TEST_TRACE) console.log(seen.map((r) => `${r.status}:${r.lag}`).join(' '));
    const peakAt = lags.indexOf(peak);
    expect(
      lags.slice(0, peakAt).some((l) => l > 0 && l < peak),
      'lag rose through intermediate values',
    ).toBe(true);
    const afterPeak = lags.slice(peakAt);
    expect(
      afterPeak.some((l) => l > 0 && l < peak),
      'lag fell through intermediate values',
    ).toBe(true);
    expect(afterPeak.at(-1)).toBe(0);

    // A resize redraws to the new size: nothing wider than the pane, the key line still there.
    await tmux('resize-window', '-t', 'top', '-x', '72', '-y', '14');
    await sleep(1200);
    const small = await capture();
    const smallLines = small.split('\n');
    for (const l of smallLines) expect(l.length).toBeLessThanOrEqual(72);
    expect(small).toContain('q quit');
    expect(small).toContain(group.slice(0, 12));
    // Exactly one frame: one header line, no debris of the wider one.
    expect(smallLines.filter((l) => l.startsWith('shopdata top'))).toHaveLength(1);
    expect(smallLines.filter((l) => l.includes('GROUP'))).toHaveLength(1);
    await tmux('resize-window', '-t', 'top', '-x', '150', '-y', '30');
    await sleep(1200);

    // Keys on the real terminal: enter expands the partitions, q quits with exit code 0.
    await tmux('send-keys', '-t', 'top', 'Enter');
    await sleep(800);
    expect(await capture()).toMatch(new RegExp(`${topic}\\[0\\]`));
    await tmux('send-keys', '-t', 'top', 'q');
    for (let i = 0; !existsSync(exitFile) || readFileSync(exitFile, 'utf8').trim() === ''; i++) {
      if (i > 100) throw new Error(`top did not exit after q; screen:\n${await capture().catch(() => '')}`);
      await sleep(100);
    }
    expect(readFileSync(exitFile, 'utf8').trim()).toBe('0');
  });

  it('Kafka unreachable: a banner says so, the screen stays up, q exits 0', async () => {
    const { createServer } = await import('node:net');
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    const exit2 = join(dir, 'exit-down');
    const cmd = `cd ${REPO_ROOT}; SHOPDATA_KAFKA_BROKERS=127.0.0.1:${port} SHOPDATA_CONNECT_URL=http://127.0.0.1:${port} ${process.execPath} bin/run.js top --interval 0.5; echo $? > ${exit2}`;
    await tmux('new-session', '-d', '-s', 'down', '-x', '140', '-y', '20', cmd);
    let screen = '';
    for (let i = 0; i < 60 && !screen.includes('Kafka unreachable'); i++) {
      await sleep(250);
      screen = (await tmux('capture-pane', '-p', '-t', 'down')).stdout;
    }
    expect(screen).toContain(`⚠ Kafka unreachable at 127.0.0.1:${port}`);
    expect(screen).toContain('⚠ Kafka Connect unreachable');
    expect(screen).toContain('q quit');
    await tmux('send-keys', '-t', 'down', 'q');
    for (let i = 0; !existsSync(exit2) || readFileSync(exit2, 'utf8').trim() === ''; i++) {
      if (i > 150) throw new Error('top did not exit after q while Kafka was down');
      await sleep(100);
    }
    expect(readFileSync(exit2, 'utf8').trim()).toBe('0');
  });
});
