import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamResult } from '../../../src/lib/stream/types.js';
import type { Warehouse } from '../../../src/lib/warehouse/index.js';
import { ports } from '../../helpers/stack.js';
import {
  TcpProxy,
  createTopics,
  createVault,
  deleteTopics,
  dropVault,
  encodeAll,
  expectedVault,
  freePort,
  makeChanges,
  namespace,
  produce,
  readVault,
  sampleRss,
  spawnStream,
  streamArgs,
  testKafka,
  committedTotal,
  metricSum,
} from './support.js';

// ClickHouse "down" for ~30 s in the middle of a load. The shared 18.16 server cannot be stopped
// (other suites use it), so the stream talks to it through a TCP proxy this test cuts: connections
// are refused and open ones dropped. The stream must stop fetching (bounded buffer and RSS), keep
// its offsets where ClickHouse left them, and resume by itself once the proxy is back.

const ns = namespace('sout');
const kafka = testKafka();
const topics = ns.router.allTopics();
const BATCH = 1000;
let wh: Warehouse;
let total = 0;
const proxy = new TcpProxy('127.0.0.1', ports.CH_HTTP_PORT!);

describe('stream: ClickHouse unavailable during a load', () => {
  const changes = makeChanges(40_000, 31);

  beforeAll(async () => {
    wh = await createVault(ns);
    await createTopics(kafka, topics, 3);
    const messages = encodeAll(changes, ns.router, { light: true });
    total = messages.length;
    await produce(kafka, messages, 5000);
    await proxy.start();
  }, 300_000);

  afterAll(async () => {
    await proxy.close();
    await deleteTopics(kafka, [...topics, ns.dlqTopic]);
    await dropVault(wh, ns);
    await wh.close();
  });

  it('waits with consumption paused, memory bounded, and resumes without loss', async () => {
    const metricsPort = await freePort();
    const child = spawnStream(
      streamArgs(
        ns,
        [
          '--batch-size',
          String(BATCH),
          '--batch-max-ms',
          '300',
          '--until-idle',
          '--idle-ms',
          '1500',
          '--metrics-port',
          String(metricsPort),
          '--metrics-host',
          '127.0.0.1',
          '--json',
        ],
        { clickhouseUrl: `http://default:@127.0.0.1:${proxy.port}` },
      ),
    );
    const rss = sampleRss(child.proc.pid!);
    try {
      // Let it load a part, then cut ClickHouse off.
      for (
        const deadline = Date.now() + 120_000;
        (await committedTotal(kafka, ns.group, topics)) < total * 0.2;
      ) {
        if (Date.now() > deadline) throw new Error(`no progress; ${child.stderr().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await proxy.cut();
      const cutAt = Date.now();
      const rssAtCut = rss.samples.at(-1) ?? 0;
      await new Promise((r) => setTimeout(r, 3000));
      const committedDuring = await committedTotal(kafka, ns.group, topics);
      const bufferedSamples: number[] = [];
      while (Date.now() - cutAt < 30_000) {
        bufferedSamples.push(await metricSum(metricsPort, 'shopdata_stream_buffered_events'));
        expect(child.proc.exitCode).toBeNull(); // still waiting, not crashed
        await new Promise((r) => setTimeout(r, 1000));
      }
      // Nothing was committed while ClickHouse was away, and the stream said so.
      expect(await committedTotal(kafka, ns.group, topics)).toBe(committedDuring);
      expect(committedDuring).toBeLessThan(total);
      expect(await metricSum(metricsPort, 'shopdata_stream_warehouse_up')).toBe(0);
      expect(await metricSum(metricsPort, 'shopdata_stream_retries_total')).toBeGreaterThan(0);
      // Bounded: at most the batch in flight, the one gathering, and one fetch worth of messages.
      const maxBuffered = Math.max(...bufferedSamples);
      expect(maxBuffered).toBeGreaterThan(0);
      expect(maxBuffered).toBeLessThanOrEqual(2 * BATCH + 6000);
      const peakDuring = Math.max(...rss.samples.slice(-100));
      console.log(
        `outage: committed ${committedDuring}/${total} during the cut; buffered max ${maxBuffered}; RSS at cut ${rssAtCut.toFixed(0)} MB, peak during ${peakDuring.toFixed(0)} MB`,
      );
      expect(peakDuring).toBeLessThan(rssAtCut + 100);

      await proxy.restore();
      const exit = await Promise.race([
        child.exited,
        new Promise<never>((_, rej) =>
          setTimeout(() => rej(new Error('did not finish after ClickHouse came back')), 180_000),
        ),
      ]);
      expect(exit.code, child.stderr().slice(-3000)).toBe(0);
      const result = JSON.parse(child.stdout()) as StreamResult;
      expect(result.stoppedBy).toBe('idle');
      expect(child.stderr()).toContain('clickhouse is back; resuming');
    } finally {
      rss.stop();
      if (child.proc.exitCode === null) child.proc.kill('SIGKILL');
    }
    expect(await committedTotal(kafka, ns.group, topics)).toBe(total);
    const expected = expectedVault(changes);
    const actual = await readVault(wh, ns.dbs);
    for (const [table, rows] of expected) expect(actual.get(table), table).toEqual(rows);
  }, 420_000);
});
