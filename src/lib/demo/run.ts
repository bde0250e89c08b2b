import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { generateShop, computeMarts, type Marts } from '../shop/index.js';
import { openLake, type LakeIO } from '../lake/index.js';
import { pathTables } from '../lake/tables.js';
import { runArchive, type ArchiveResult } from '../archive/index.js';
import { SOURCE_TABLES, type SourceChange, type SourceTable } from '../vault/types.js';
import { DEFAULT_DATABASES } from '../vault/tables.js';
import { openWarehouse, type Warehouse } from '../warehouse/index.js';
import { migrate } from '../warehouse/migrations/index.js';
import { runBackfill, type DayResult } from '../backfill/run.js';
import { runStream, type StreamResult } from '../stream/index.js';
import { TopicRouter } from '../debezium/topics.js';
import { encodeChange, encodeTombstone, type DecimalMode } from '../debezium/encode.js';
import { runChecks } from '../check/index.js';
import type { CheckReport } from '../check/types.js';
import { readMarts, compareMarts, type MartDifference } from './marts.js';
import { prepareDemoDir } from './dir.js';

/**
 * The demo's salt: 32 bytes of hex like `openssl rand -hex 32` gives, fixed so that runs are
 * reproducible, and public (it is in this file): real deployments set their own SHOPDATA_PII_SALT.
 */
export const DEMO_PII_SALT = 'c1777897a27ae5cc82a5badbd4081c6e2ecde07b399f0c03ca798a484132b377';

export interface DemoOptions {
  dir: string;
  days: number;
  seed: number;
  /** First generated day (YYYY-MM-DD, UTC); default: `days` days ending yesterday. */
  start?: string;
  /** Share of the replayed day's events dropped / doubled in the streaming path (0..1). */
  dropRate: number;
  doubleRate: number;
  logger: Logger;
  signal?: AbortSignal;
  onStep?: (step: DemoStep, message: string) => void;
}

export type DemoStep =
  'generate' | 'lake' | 'migrate' | 'backfill' | 'stream' | 'correct' | 'check' | 'marts';

export interface DemoResult {
  dir: string;
  lake: string;
  warehouse: string;
  seed: number;
  days: string[];
  generated: { changes: number; perTable: Record<string, number> };
  /** The Debezium event stream of the whole history (what Kafka would hold), archived into the lake. */
  events: { file: string; events: number };
  archive: Pick<ArchiveResult, 'topics' | 'offsets' | 'durationMs'>;
  lakeWrites: { table: SourceTable; rows: number; files: number; snapshotId: string | undefined }[];
  migrations: { versionBefore: number; versionAfter: number };
  backfilled: { day: string; mode: 'push' | 'pull'; lakeRows: number; durationMs: number }[];
  replay: {
    day: string;
    file: string;
    events: number;
    dropped: number;
    doubled: number;
    stream: Pick<StreamResult, 'topics' | 'vaultRows' | 'dlq' | 'batches' | 'durationMs'>;
  };
  /** The backfill of the replayed day: what it corrected in the streamed load. */
  correction: DayResult['corrections'];
  check: {
    ok: boolean;
    summary: CheckReport['summary'];
    failed: { id: string; title: string; message: string }[];
  };
  marts: Marts;
  /** The marts read from ClickHouse equal the generator's ground truth. */
  matchesGroundTruth: boolean;
  differences: MartDifference[];
  durationMs: number;
}

/**
 * The whole platform on embedded parts: a synthetic shop → its Debezium event stream → `archive`
 * into an Iceberg lake → chDB vault via backfill → the last day of the same event stream replayed
 * through the streaming path (with events dropped and doubled) → that day corrected by a backfill
 * → vault check → marts compared with the generator's truth.
 */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const dir = resolve(o.dir);
  const lakeDir = join(dir, 'lake');
  const whUrl = `chdb:${join(dir, 'warehouse')}`;
  const step = (s: DemoStep, m: string) => {
    o.logger.info({ 'event.action': `demo.${s}` }, m);
    o.onStep?.(s, m);
  };
  // Each run starts from empty demo folders (only ones an earlier demo made): twice gives the same result.
  await prepareDemoDir(dir, ['lake', 'warehouse', 'replay']);

  step('generate', `generating ${o.days} days of shop activity (seed ${o.seed})`);
  const { changes } = generateShop({
    seed: o.seed,
    days: o.days,
    ...(o.start === undefined ? {} : { start: o.start }),
  });
  const days = distinctDays(changes);
  const lastDay = days[days.length - 1]!;
  const perTable: Record<string, number> = {};
  for (const c of changes) perTable[c.table] = (perTable[c.table] ?? 0) + 1;

  // What Debezium would have put into Kafka for the whole history, one partition per topic.
  const stream = await writeEventStream(join(dir, 'replay', 'events.jsonl'), changes);
  step('lake', `archiving ${stream.lines.length} Debezium events into the Iceberg lake ${lakeDir}`);
  const io: LakeIO = openLake(lakeDir);
  const archived = await archiveLake(o, io, stream.file, dir);
  let wh: Warehouse | undefined;
  try {
    wh = await openWarehouse(whUrl);
    step('migrate', `migrating the embedded warehouse ${whUrl}`);
    const mig = await migrate(wh);
    const history = days.slice(0, -1);
    step('backfill', `backfilling ${history.length} days from the lake`);
    const backfilled = (await backfillDays(o, wh, io, history, true)).map(dayLine);

    step(
      'stream',
      `replaying ${lastDay} through the streaming path (${pct(o.dropRate)} dropped, ${pct(o.doubleRate)} doubled)`,
    );
    const dayLines = stream.lines.filter((l) => utcDay(l.change.commitTsUs) === lastDay);
    const replay = await replayDay(o, dir, lakeDir, whUrl, dayLines);

    step('correct', `backfilling ${lastDay} to correct what streaming loaded`);
    const fixed = (await backfillDays(o, wh, io, [lastDay], false))[0]!;
    backfilled.push(dayLine(fixed));

    step('check', 'running vault check');
    const { report } = await runChecks({
      wh,
      dbs: DEFAULT_DATABASES,
      lake: { io, uri: lakeDir },
      piiSalt: DEMO_PII_SALT,
      logger: o.logger,
    });

    step('marts', 'reading the marts');
    const marts = await readMarts(wh, DEFAULT_DATABASES.mart);
    const differences = compareMarts(marts, computeMarts(changes));
    return {
      dir,
      lake: lakeDir,
      warehouse: whUrl,
      seed: o.seed,
      days,
      generated: { changes: changes.length, perTable },
      events: { file: stream.file, events: stream.lines.length },
      archive: { topics: archived.topics, offsets: archived.offsets, durationMs: archived.durationMs },
      lakeWrites: lakeWrites(archived),
      migrations: { versionBefore: mig.versionBefore, versionAfter: mig.versionAfter },
      backfilled,
      replay: { day: lastDay, ...replay },
      correction: fixed.corrections,
      check: checkLine(report),
      marts,
      matchesGroundTruth: differences.length === 0,
      differences,
      durationMs: Date.now() - started,
    };
  } finally {
    await wh?.close();
    io.close();
  }
}

function lakeWrites(archived: ArchiveResult): DemoResult['lakeWrites'] {
  return SOURCE_TABLES.map((table) => {
    const t = archived.tables[table];
    return { table, rows: t?.rows ?? 0, files: t?.files ?? 0, snapshotId: t?.snapshotId };
  });
}

function checkLine(report: CheckReport): DemoResult['check'] {
  return {
    ok: report.ok,
    summary: report.summary,
    failed: report.checks
      .filter((c) => c.status === 'fail' || c.status === 'error')
      .map((c) => ({ id: c.id, title: c.title, message: c.message })),
  };
}

/** The lake, built by `archive` from the event stream (one commit per table: the history is small). */
function archiveLake(o: DemoOptions, io: LakeIO, file: string, dir: string): Promise<ArchiveResult> {
  return runArchive({
    config: loadConfig({ env: {}, flags: { 'lake.uri': io.root }, configFile: undefined, cwd: dir }).config,
    logger: o.logger,
    signal: o.signal ?? new AbortController().signal,
    tables: pathTables(io),
    fromFile: file,
    untilIdle: true,
    idleMs: 0,
    topics: [],
    groupId: 'shopdata-demo-archive',
    dlqTopic: 'shopdata.archive.dlq',
    router: new TopicRouter(),
    rollBytes: 1 << 30,
    rollMs: 3_600_000,
    maxBufferedBytes: 1 << 30,
    maxLineBytes: 16 << 20,
    giveUpAfterMs: 60_000,
    shutdownGraceMs: 5_000,
  });
}

async function backfillDays(
  o: DemoOptions,
  wh: Warehouse,
  io: LakeIO,
  days: string[],
  progress: boolean,
): Promise<DayResult[]> {
  if (days.length === 0) return [];
  const res = await runBackfill({
    wh,
    io,
    dbs: DEFAULT_DATABASES,
    days,
    format: 'iceberg',
    mode: 'auto',
    piiSalt: DEMO_PII_SALT,
    logger: o.logger,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(progress
      ? {
          onProgress: (e: { day: string; message: string }) =>
            o.onStep?.('backfill', `${e.day}: ${e.message}`),
        }
      : {}),
  });
  return res.days;
}

/** One day of the event stream, some events dropped and doubled, through `stream --from-file`. */
async function replayDay(
  o: DemoOptions,
  dir: string,
  lakeDir: string,
  whUrl: string,
  dayLines: EventLine[],
): Promise<Omit<DemoResult['replay'], 'day'>> {
  const config = loadConfig({
    env: {},
    flags: {
      'clickhouse.url': whUrl,
      'lake.uri': lakeDir,
      'pii.salt': DEMO_PII_SALT,
      'stream.batchSize': 2000,
      'stream.batchMaxMs': 200,
    },
    configFile: undefined,
    cwd: dir,
  }).config;
  const replay = await writeReplayFile(join(dir, 'replay'), dayLines, o);
  const streamed = await runStream({
    config,
    logger: o.logger,
    signal: o.signal ?? new AbortController().signal,
    fromFile: replay.file,
    untilIdle: true,
    idleMs: 1000,
    topics: [],
    groupId: 'shopdata-demo',
    dlqTopic: 'shopdata.dlq',
    batchSize: 2000,
    batchMaxMs: 200,
    router: new TopicRouter(),
    vaultDatabase: DEFAULT_DATABASES.vault,
    opsDatabase: DEFAULT_DATABASES.ops,
    giveUpAfterMs: 60_000,
    shutdownGraceMs: 5_000,
  });
  const { topics, vaultRows, dlq, batches, durationMs } = streamed;
  return { ...replay, stream: { topics, vaultRows, dlq, batches, durationMs } };
}

function dayLine(d: DayResult): DemoResult['backfilled'][number] {
  return {
    day: d.day,
    mode: d.mode,
    lakeRows: d.tables.reduce((s, t) => s + (t.rows ?? 0), 0),
    durationMs: d.durationMs,
  };
}

interface EventLine {
  change: SourceChange;
  /** The JSON line: `{"topic","partition","offset","key","value"}`. */
  text: string;
}

/**
 * The Debezium event stream of all changes, in commit order, as a replay file (the `stream
 * --from-file` format): each change's event (decimals alternately precise and string, as two
 * connector configurations would send them) and, after a PostgreSQL delete, its tombstone.
 */
async function writeEventStream(file: string, changes: readonly SourceChange[]) {
  const lines: EventLine[] = [];
  const offsets = new Map<string, number>();
  const modes: DecimalMode[] = ['precise', 'string'];
  const out = createWriteStream(file);
  changes.forEach((change, i) => {
    const event = encodeChange(change, { decimalMode: modes[i % 2]!, withSchema: true });
    const events = [event];
    if (
      change.op === 'd' &&
      (change.table === 'sellers' ||
        change.table === 'users' ||
        change.table === 'products' ||
        change.table === 'auth_credentials')
    ) {
      events.push(encodeTombstone(change));
    }
    for (const e of events) {
      const offset = offsets.get(e.topic) ?? 0;
      offsets.set(e.topic, offset + 1);
      const text = JSON.stringify({ topic: e.topic, partition: 0, offset, key: e.key, value: e.value });
      lines.push({ change, text });
      out.write(text + '\n');
    }
  });
  out.end();
  await finished(out);
  return { file, lines };
}

/**
 * One day of the event stream as the replay file `stream` reads, with a deterministic share of
 * the events dropped and doubled, and the doubled ones re-delivered at the end out of order, as a
 * crashed consumer or a rebalance would.
 */
async function writeReplayFile(dir: string, dayLines: EventLine[], o: DemoOptions) {
  const file = join(dir, `replay.jsonl`);
  const lines: string[] = [];
  const redelivered: string[] = [];
  let dropped = 0;
  let doubled = 0;
  let i = -1;
  let previous: SourceChange | undefined;
  let r = 0;
  for (const line of dayLines) {
    // A change and its tombstone share one draw: both are lost or doubled together.
    if (line.change !== previous) r = fraction(o.seed, ++i);
    previous = line.change;
    if (r < o.dropRate) {
      dropped++;
      continue;
    }
    lines.push(line.text);
    if (r < o.dropRate + o.doubleRate) {
      doubled++;
      redelivered.push(line.text);
    }
  }
  await writeFile(file, [...lines, ...redelivered].join('\n') + '\n');
  return { file, events: lines.length + redelivered.length, dropped, doubled };
}

/** A deterministic number in [0, 1) per (seed, index): which events the demo drops or doubles. */
function fraction(seed: number, i: number): number {
  let h = (seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

function distinctDays(changes: readonly SourceChange[]): string[] {
  return [...new Set(changes.map((c) => utcDay(c.commitTsUs)))].sort();
}

function utcDay(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString().slice(0, 10);
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}
