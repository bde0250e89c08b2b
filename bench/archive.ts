/**
 * Throughput of `shopdata archive` (Kafka → Iceberg lake): N Debezium-format events (default
 * 200,000) in Kafka → archive into a local lake (or `--s3`: the stack's S3), next to raw kafkajs
 * consumption of the same topics (no processing: count and resolve) in the same run, printed as a
 * ratio (aim ≥ 0.3), with the peak RSS of both processes.
 *
 * Run: bash bench/archive.sh [events] [--s3]   (needs the stack and `npm run build`)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import {
  createTopics,
  deleteTopics,
  encodeAll,
  freePort,
  makeChanges,
  metricSum,
  namespace,
  produce,
  testKafka,
} from '../test/integration/stream/support.js';
import { stack, uniqueName } from '../test/helpers/stack.js';

const SELF = fileURLToPath(import.meta.url);
const BIN = `${process.cwd()}/bin/run.js`;

// ---------------------------------------------------------------- child mode: raw consumer

if (process.argv[2] === 'raw') {
  const [, , , brokers, group, topicList, expectedText] = process.argv;
  const expected = Number(expectedText);
  const kafka = new Kafka({
    clientId: 'bench-raw',
    brokers: brokers!.split(','),
    logLevel: logLevel.NOTHING,
  });
  // The same consumer settings as archive (src/lib/archive/kafka-source.ts).
  const consumer = kafka.consumer({
    groupId: group!,
    maxBytesPerPartition: 2 * 1024 * 1024,
    maxBytes: 16 * 1024 * 1024,
    maxWaitTimeInMs: 500,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: topicList!.split(','), fromBeginning: true });
  let n = 0;
  let first: { at: number; n: number } | undefined;
  let doneAt = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        n += batch.messages.length;
        first ??= { at: performance.now(), n };
        if (n >= expected) {
          doneAt = performance.now();
          resolve();
        }
      },
    });
  });
  const steady = (n - first!.n) / ((doneAt - first!.at) / 1000);
  process.stdout.write(JSON.stringify({ messages: n, steadyPerSec: Math.round(steady) }) + '\n');
  await consumer.disconnect();
  process.exit(0);
}

// ---------------------------------------------------------------- driver

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 200_000);
const useS3 = process.argv.includes('--s3');

interface Run {
  ms: number;
  peakRssMb: number;
  /** CPU seconds (user + system) of the process, last sample before it exited. */
  cpuSeconds: number;
  exit: number | null;
  stdout: string;
  stderr: string;
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by a process (/proc/PID/stat utime + stime, in clock ticks of 1/100 s). */
function cpuOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Runs a child to completion, sampling its RSS and CPU time (and calling `tick` every 100 ms). */
async function timed(args: string[], env: Record<string, string>, tick?: () => Promise<void>): Promise<Run> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let peak = 0;
  let cpu = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(child.pid!));
    cpu = Math.max(cpu, cpuOf(child.pid!));
    void tick?.();
  }, 100);
  const exit = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  clearInterval(sampler);
  return { ms: performance.now() - t0, peakRssMb: peak, cpuSeconds: cpu, exit, stdout, stderr };
}

const ns = namespace('barch');
const kafka: Kafka = testKafka();
const topics = ns.router.allTopics();
const dir = mkdtempSync(join(tmpdir(), 'shopdata-bench-archive-'));
const lake = useS3 ? `s3://${stack.s3Bucket}/${uniqueName('bench-archive')}` : join(dir, 'lake');
try {
  await createTopics(kafka, topics, 3);
  console.log(`generating and producing ${N} Debezium events (10% with schema wrapper) ...`);
  const changes = makeChanges(N, 97);
  let total = 0;
  for (let i = 0; i < changes.length; i += 50_000) {
    const msgs = encodeAll(changes.slice(i, i + 50_000), ns.router, { light: true });
    total += msgs.length;
    await produce(kafka, msgs, 5000);
  }
  changes.length = 0;

  const raw = await timed(
    [SELF, 'raw', stack.kafkaBrokers.join(','), `${ns.group}-raw`, topics.join(','), String(total)],
    {},
  );
  if (raw.exit !== 0) throw new Error(`raw consumer failed: ${raw.stderr}`);
  const rawRate = total / (raw.ms / 1000);

  // Steady state: from the first message archive read to the last (start-up, group join and the
  // final commits excluded), from its own events counter.
  const port = await freePort();
  let firstRead: { at: number; n: number } | undefined;
  let lastReadAt = 0;
  const tick = async () => {
    const n = await metricSum(port, 'shopdata_archive_events_total').catch(() => 0);
    if (n > 0) firstRead ??= { at: performance.now(), n };
    if (n < total) lastReadAt = performance.now();
  };
  const archive = await timed(
    [
      BIN,
      'archive',
      '--kafka-brokers',
      stack.kafkaBrokers.join(','),
      '--lake',
      lake,
      '--s3-endpoint',
      stack.s3Endpoint,
      '--postgres-topic-prefix',
      ns.router.prefixes.postgres,
      '--mongo-topic-prefix',
      ns.router.prefixes.mongo,
      '--group',
      ns.group,
      '--dlq-topic',
      ns.dlqTopic,
      '--until-idle',
      '--idle-ms',
      '500',
      '--metrics-port',
      String(port),
      '--json',
    ],
    { SHOPDATA_LOG_LEVEL: 'warn', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
    tick,
  );
  if (archive.exit !== 0) throw new Error(`archive failed: ${archive.stderr.slice(-3000)}`);
  const result = JSON.parse(archive.stdout) as {
    topics: Record<string, { events: number; archived: number }>;
    tables: Record<string, { rows: number; files: number; commits: number }>;
  };
  const events = Object.values(result.topics).reduce((n, t) => n + t.events, 0);
  const rows = Object.values(result.tables).reduce((n, t) => n + t.rows, 0);
  const files = Object.values(result.tables).reduce((n, t) => n + t.files, 0);
  if (events !== total) throw new Error(`archive read ${events} of ${total} events`);
  const archiveRate = total / (archive.ms / 1000);
  const ratio = archiveRate / rawRate;
  const rawOut = JSON.parse(raw.stdout) as { steadyPerSec: number };
  const rawSteady = rawOut.steadyPerSec;
  const archiveSteady = firstRead ? (total - firstRead.n) / ((lastReadAt - firstRead.at) / 1000) : NaN;
  console.log(
    `raw kafkajs consume      ${rawRate.toFixed(0).padStart(8)} events/s  ${(raw.ms / 1000).toFixed(1)} s  peak RSS ${raw.peakRssMb.toFixed(0)} MB`,
  );
  console.log(
    `CPU                      raw ${raw.cpuSeconds.toFixed(1)} s, archive ${archive.cpuSeconds.toFixed(1)} s (${((archive.cpuSeconds * 1e6) / total).toFixed(0)} µs per event: decoding, Parquet, start-up)`,
  );
  console.log(
    `shopdata archive         ${archiveRate.toFixed(0).padStart(8)} events/s  ${(archive.ms / 1000).toFixed(1)} s  peak RSS ${archive.peakRssMb.toFixed(0)} MB  (${rows} rows, ${files} files, ${useS3 ? 'S3' : 'local'} lake)`,
  );
  console.log(
    `ratio archive/raw        ${ratio.toFixed(2)} wall (start-up, group join, last commits included), ${(archiveSteady / rawSteady).toFixed(2)} steady  (aim >= 0.3)`,
  );
  console.log(
    JSON.stringify({
      events: total,
      rawEventsPerSec: Math.round(rawRate),
      archiveEventsPerSec: Math.round(archiveRate),
      ratio: Number(ratio.toFixed(3)),
      rawSteadyPerSec: rawSteady,
      archiveSteadyPerSec: Math.round(archiveSteady),
      steadyRatio: Number((archiveSteady / rawSteady).toFixed(3)),
      rows,
      files,
      lake: useS3 ? 's3' : 'local',
      rawCpuSeconds: raw.cpuSeconds,
      archiveCpuSeconds: archive.cpuSeconds,
      archiveCpuMicrosPerEvent: Math.round((archive.cpuSeconds * 1e6) / total),
      rawPeakRssMb: Math.round(raw.peakRssMb),
      archivePeakRssMb: Math.round(archive.peakRssMb),
    }),
  );
} finally {
  await deleteTopics(kafka, topics);
  rmSync(dir, { recursive: true, force: true });
}
