import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { DependencyUnavailableError, ConfigError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { readAssignedLag } from '../kafka/lag.js';
import type { StreamMetrics } from '../observability/metrics.js';
import { LoaderAbortedError, type Batch, type BatchOutcome, type Loader } from './loader.js';
import type { PartitionOffset } from './types.js';

/**
 * The Kafka side of the stream: a consumer group member (kafkajs, autoCommit off) that feeds the
 * loader and commits a partition's offset only after the loader reported every message before it
 * as inserted into ClickHouse (or dead-lettered).
 *
 * Offsets: messages are `resolveOffset`-ed as they enter the loader, which only moves kafkajs'
 * local fetch position (with autoCommit off kafkajs never commits resolved offsets). Commits are
 * explicit, with the offsets the loader returned after ClickHouse confirmed the batch, in batch
 * order. After a crash or rebalance, consumption restarts at the last commit; re-inserted rows
 * collapse in the vault tables (ReplacingMergeTree on the hash key / effective time).
 *
 * Backpressure: one batch is inserted while the next one fills; when the next one is full too,
 * `eachBatch` waits (heartbeating) — so while ClickHouse is down nothing more is fetched.
 *
 * Topics: the stream consumes the topics that exist at start and checks for the missing ones every
 * `topicRefreshMs`. kafkajs resolves a subscription only when `run()` starts (a regex too), so a
 * topic that appears later is joined by draining (insert and commit everything gathered), then
 * `stop()` (leaves the group), `subscribe()` and `run()` again: the group rebalances and every
 * partition resumes from its committed offset, so nothing is lost or loaded twice.
 */

export interface KafkaRunOptions {
  kafka: Kafka;
  groupId: string;
  topics: string[];
  loader: Loader;
  logger: Logger;
  metrics?: StreamMetrics;
  batchSize: number;
  batchMaxMs: number;
  /** Stop once every assigned partition is committed up to its high watermark and nothing arrived for idleMs. */
  untilIdle: boolean;
  idleMs: number;
  /** Fires on SIGTERM/SIGINT: stop fetching, flush, commit. */
  signal: AbortSignal;
  /** How long the final flush may wait for a dependency on shutdown before giving up (uncommitted work is redelivered). */
  shutdownGraceMs: number;
  /** Kafka unreachable this long → exit 3; 0 = never. */
  giveUpAfterMs: number;
  /** Called after each committed batch (result accounting). */
  onBatch: (outcome: BatchOutcome, committed: PartitionOffset[]) => void;
  /** How often a long-running stream looks for topics of `topics` that did not exist yet (default 5 s). */
  topicRefreshMs?: number;
}

export interface KafkaRunResult {
  committed: Record<string, string>;
  stoppedBy: 'idle' | 'signal';
}

type TopicPartitions = Record<string, number[]>;

export async function runKafka(o: KafkaRunOptions): Promise<KafkaRunResult> {
  const { kafka, logger } = o;
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (err) {
    throw kafkaUnavailable(err);
  }
  const topics = await existingTopics(admin, o);
  const consumer = kafka.consumer({
    groupId: o.groupId,
    sessionTimeout: 30_000,
    rebalanceTimeout: 60_000,
    heartbeatInterval: 3000,
    maxBytesPerPartition: 2 * 1024 * 1024,
    maxBytes: 16 * 1024 * 1024,
    maxWaitTimeInMs: 500,
    allowAutoTopicCreation: false,
    retry: { initialRetryTime: 300, retries: 8 },
  });

  const state = new RunState(o, consumer, admin, topics);
  try {
    await consumer.connect();
  } catch (err) {
    await admin.disconnect().catch(() => undefined);
    throw kafkaUnavailable(err);
  }
  consumer.on(consumer.events.GROUP_JOIN, (e) => state.onJoin(e.payload.memberAssignment));
  consumer.on(consumer.events.FETCH, () => (state.lastKafkaOkAt = Date.now()));
  consumer.on(consumer.events.HEARTBEAT, () => (state.lastKafkaOkAt = Date.now()));
  consumer.on(consumer.events.CRASH, (e) => {
    logger.warn(
      { err: { message: e.payload.error.message }, restart: e.payload.restart },
      'kafka consumer crashed',
    );
    if (!e.payload.restart) state.fail(kafkaUnavailable(e.payload.error));
  });

  await consumer.subscribe({ topics, fromBeginning: true });
  await state.start();
  logger.info({ groupId: o.groupId, topics }, 'stream: consuming');

  let stoppedBy: KafkaRunResult['stoppedBy'];
  try {
    stoppedBy = await state.waitForStop();
  } finally {
    await state.shutdown();
    await consumer
      .disconnect()
      .catch((err: unknown) => logger.warn({ err }, 'kafka consumer disconnect failed'));
    await admin.disconnect().catch(() => undefined);
  }
  if (state.failure) throw state.failure;
  return { committed: state.committedSnapshot(), stoppedBy };
}

class RunState {
  private stopping = false;
  failure: Error | undefined;
  private chain: Promise<void> = Promise.resolve();
  private inFlight: Promise<void> | undefined;
  private assignment: TopicPartitions | undefined;
  private readonly committed = new Map<string, PartitionOffset>();
  private readonly pendingCommits = new Map<string, PartitionOffset>();
  private lastMessageAt = Date.now();
  lastKafkaOkAt = Date.now();
  private readonly hardStop = new AbortController();
  private wake: () => void = () => undefined;
  private lagLabels = new Set<string>();
  /** Set while the gathered work is flushed before the consumer rejoins with new topics. */
  private draining = false;
  /** The eachBatch call in progress, if any (a drain waits for it to hand over what it took). */
  private batchCall: Promise<void> | undefined;
  private readonly subscribed: Set<string>;
  private lastTopicCheckAt = Date.now();

  constructor(
    private readonly o: KafkaRunOptions,
    private readonly consumer: Consumer,
    private readonly admin: Admin,
    topics: string[],
  ) {
    this.subscribed = new Set(topics);
  }

  /** Starts (or restarts) the kafkajs consumer loop; it joins the group in the background. */
  async start(): Promise<void> {
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => {
        const call = this.eachBatch(payload).finally(() => {
          if (this.batchCall === call) this.batchCall = undefined;
        });
        this.batchCall = call;
        return call;
      },
    });
  }

  onJoin(assignment: TopicPartitions): void {
    this.assignment = assignment;
    this.lastMessageAt = Date.now();
    // Commits for partitions this member lost are dropped: their new owner resumes from the broker.
    for (const [k, p] of this.pendingCommits) if (!this.owns(p)) this.pendingCommits.delete(k);
    this.o.logger.info({ assignment }, 'stream: partitions assigned');
  }

  private owns(p: { topic: string; partition: number }): boolean {
    return !this.assignment || (this.assignment[p.topic] ?? []).includes(p.partition);
  }

  fail(err: Error): void {
    if (!this.failure) this.failure = err;
    this.wake();
  }

  async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (this.stopping || this.draining || this.failure) return;
    this.lastMessageAt = Date.now();
    this.lastKafkaOkAt = Date.now();
    for (const m of batch.messages) {
      if (!isRunning() || isStale() || this.stopping || this.draining) break;
      this.o.loader.add({
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        key: m.key,
        value: m.value,
        headers: m.headers as Record<string, Buffer | string | undefined>,
      });
      resolveOffset(m.offset);
      if (this.o.loader.pending >= this.o.batchSize) await this.cycle(heartbeat);
    }
  }

  /**
   * Hands the gathered batch to the loader: starts preparing it right away (decode, map, encode:
   * in worker threads, or here; either way it overlaps the insert still in flight), then waits
   * (heartbeating) for that insert before starting this one. While it waits nothing is fetched,
   * so at most two batches are held.
   */
  private async cycle(heartbeat?: () => Promise<void>): Promise<void> {
    if (this.failure || this.o.loader.pending === 0) return;
    const batch = this.o.loader.take();
    this.o.loader.prepare(batch);
    try {
      while (this.inFlight) {
        const done = await Promise.race([this.inFlight.then(() => true), sleep(2000).then(() => false)]);
        if (!done && heartbeat) await heartbeat();
      }
    } finally {
      // Also when a heartbeat reports a rebalance: the batch still goes in, after the one in flight.
      if (!this.failure) this.startFlush(batch);
    }
  }

  private startFlush(batch: Batch): void {
    const run = this.chain.then(async () => {
      if (this.failure) return; // never commit past a batch that failed
      const outcome = await this.o.loader.process(batch, this.hardStop.signal);
      const committed = await this.commit(outcome.offsets);
      this.o.onBatch(outcome, committed);
    });
    this.chain = run.catch((err: unknown) => {
      if (err instanceof LoaderAbortedError) this.o.logger.warn(err.message);
      this.fail(err as Error);
    });
    const tracked: Promise<void> = this.chain.finally(() => {
      if (this.inFlight === tracked) this.inFlight = undefined;
    });
    this.inFlight = tracked;
  }

  /** Commits after ClickHouse confirmed; a failed commit is retried with the next one (redelivery is harmless). */
  private async commit(offsets: PartitionOffset[]): Promise<PartitionOffset[]> {
    for (const p of offsets) if (this.owns(p)) this.pendingCommits.set(`${p.topic}/${p.partition}`, p);
    const list = [...this.pendingCommits.values()];
    if (list.length === 0) return [];
    try {
      await this.consumer.commitOffsets(list);
    } catch (err) {
      this.o.logger.warn(
        { err: { message: (err as Error).message } },
        'offset commit failed; will retry with the next batch (the rows are in ClickHouse, a redelivery is deduplicated)',
      );
      this.o.metrics?.retries.inc({ dependency: 'kafka' });
      return [];
    }
    for (const p of list) {
      const key = `${p.topic}/${p.partition}`;
      if (this.pendingCommits.get(key) === p) this.pendingCommits.delete(key);
      this.committed.set(key, p);
      this.o.metrics?.committedOffset.set(
        { group: this.o.groupId, topic: p.topic, partition: String(p.partition) },
        Number(p.offset),
      );
    }
    return list;
  }

  committedSnapshot(): Record<string, string> {
    return Object.fromEntries([...this.committed].map(([k, p]) => [k, p.offset]));
  }

  /** Resolves when a signal arrives, the group is caught up (--until-idle) or something failed. */
  async waitForStop(): Promise<'idle' | 'signal'> {
    const { signal } = this.o;
    let lastLagAt = 0;
    for (;;) {
      if (this.failure) return 'signal';
      if (signal.aborted) return 'signal';
      // Flush a batch that waited long enough (a quiet topic must not hold rows back).
      if (!this.inFlight && this.o.loader.pending > 0 && this.o.loader.pendingAgeMs >= this.o.batchMaxMs) {
        this.startFlush(this.o.loader.take());
      }
      if (this.o.giveUpAfterMs > 0 && Date.now() - this.lastKafkaOkAt > this.o.giveUpAfterMs) {
        this.fail(
          new DependencyUnavailableError(
            'kafka',
            `Kafka was unreachable for more than ${Math.round(this.o.giveUpAfterMs / 1000)} s.`,
            {
              hint: 'Check the brokers (SHOPDATA_KAFKA_BROKERS); uncommitted messages are redelivered on the next start.',
            },
          ),
        );
        return 'signal';
      }
      if (!this.o.untilIdle && Date.now() - this.lastTopicCheckAt >= (this.o.topicRefreshMs ?? 5000)) {
        this.lastTopicCheckAt = Date.now();
        await this.joinNewTopics();
        continue;
      }
      const now = Date.now();
      if (now - lastLagAt >= 2000 || (this.o.untilIdle && this.quiet())) {
        lastLagAt = now;
        const lag = await this.sampleLag().catch((err: unknown) => {
          this.o.logger.debug({ err }, 'lag sample failed');
          return undefined;
        });
        if (this.o.untilIdle && lag !== undefined && lag === 0 && this.quiet()) return 'idle';
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        const t = setTimeout(resolve, 100);
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
    }
  }

  private quiet(): boolean {
    return (
      !!this.assignment &&
      !this.inFlight &&
      this.o.loader.pending === 0 &&
      Date.now() - this.lastMessageAt >= this.o.idleMs
    );
  }

  /**
   * Lag of this member's partitions from the broker's view (high watermark − committed), exported
   * as a gauge; returns the total, or undefined before the first assignment.
   */
  private async sampleLag(): Promise<number | undefined> {
    const assignment = this.assignment;
    if (!assignment) return undefined;
    let total = 0;
    const labels = new Set<string>();
    for (const { topic, partition, lag } of await readAssignedLag(this.admin, this.o.groupId, assignment)) {
      total += lag;
      labels.add(`${topic}\u0000${partition}`);
      this.o.metrics?.lag.set({ group: this.o.groupId, topic, partition: String(partition) }, lag);
    }
    for (const old of this.lagLabels) {
      if (!labels.has(old)) {
        const [topic, partition] = old.split('\u0000') as [string, string];
        this.o.metrics?.lag.remove({ group: this.o.groupId, topic, partition });
      }
    }
    this.lagLabels = labels;
    return total;
  }

  /**
   * Looks for topics of the stream that did not exist so far; when some appeared, drains (inserts
   * and commits everything gathered) and restarts the consumer with them, which rejoins the group.
   */
  private async joinNewTopics(): Promise<void> {
    if (this.failure || this.o.signal.aborted) return;
    const missing = this.o.topics.filter((t) => !this.subscribed.has(t));
    if (missing.length === 0) return;
    let existing: Set<string>;
    try {
      existing = new Set(await this.admin.listTopics());
    } catch (err) {
      this.o.logger.debug({ err }, 'topic listing failed; trying again later');
      return;
    }
    const added = missing.filter((t) => existing.has(t));
    if (added.length === 0) return;
    this.o.logger.info(
      { added, missing: missing.filter((t) => !existing.has(t)) },
      'stream: new topics appeared; committing what was gathered and rejoining the group with them',
    );
    this.draining = true;
    try {
      this.pauseAll();
      if (!(await this.untilSignal(this.drain()))) return; // shutdown() finishes the flush
      if (this.failure) return;
      await this.consumer.stop();
      await this.consumer.subscribe({ topics: added, fromBeginning: true });
      for (const t of added) this.subscribed.add(t);
      this.assignment = undefined;
      this.draining = false;
      await this.start();
      this.o.logger.info({ topics: [...this.subscribed] }, 'stream: consuming');
    } catch (err) {
      this.fail(kafkaUnavailable(err));
    } finally {
      this.draining = false;
    }
  }

  private pauseAll(): void {
    const topics = Object.keys(this.assignment ?? {});
    try {
      if (topics.length) this.consumer.pause(topics.map((topic) => ({ topic })));
    } catch {
      // not running any more
    }
  }

  /**
   * Hands everything gathered to the loader in order and waits until it is inserted and committed:
   * first the eachBatch call in progress (it may still hold a batch it took), then the rest.
   */
  private async drain(): Promise<void> {
    while (this.batchCall) await this.batchCall;
    while (this.inFlight) await this.inFlight;
    if (!this.failure && this.o.loader.pending > 0) this.startFlush(this.o.loader.take());
    await this.chain;
    if (!this.failure && this.pendingCommits.size > 0) await this.commit([]);
  }

  /** Resolves true when `p` settles, false when a signal comes first. */
  private untilSignal(p: Promise<void>): Promise<boolean> {
    const { signal } = this.o;
    if (signal.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const onAbort = () => resolve(false);
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        () => resolve(true),
        () => resolve(true),
      ).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Stop fetching, insert what was gathered, commit, all within the grace period. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    this.pauseAll();
    const grace = setTimeout(() => this.hardStop.abort(), this.o.shutdownGraceMs);
    try {
      if (!this.failure) await this.drain();
      else await this.chain;
    } finally {
      clearTimeout(grace);
    }
    if (this.failure instanceof LoaderAbortedError) this.failure = undefined; // redelivered on next start, by design
  }
}

/**
 * The topics of the stream that exist now. Missing ones are skipped (a long-running stream joins
 * them when they appear); only when none exists does a long-running stream wait for the first.
 */
async function existingTopics(admin: Admin, o: KafkaRunOptions): Promise<string[]> {
  let warnedAt = 0;
  for (;;) {
    let existing: Set<string>;
    try {
      existing = new Set(await admin.listTopics());
    } catch (err) {
      throw kafkaUnavailable(err);
    }
    const present = o.topics.filter((t) => existing.has(t));
    const missing = o.topics.filter((t) => !existing.has(t));
    if (missing.length === 0) return present;
    if (present.length > 0) {
      o.logger.warn(
        { missing },
        o.untilIdle
          ? 'stream: skipping topics that do not exist (yet)'
          : 'stream: some topics do not exist yet (Debezium creates a topic on its first change); consuming the others and joining these when they appear',
      );
      return present;
    }
    if (o.untilIdle)
      throw new ConfigError(`None of the stream topics exist: ${missing.join(', ')}.`, {
        hint: 'Check the topic names (--topics, SHOPDATA_STREAM_TOPICS, the topic prefixes) and that the connectors run.',
      });
    if (Date.now() - warnedAt > 30_000) {
      o.logger.warn({ missing }, 'stream: waiting for topics to be created (are the connectors running?)');
      warnedAt = Date.now();
    }
    if (o.signal.aborted) return present;
    await sleep(o.topicRefreshMs ?? 2000, undefined, { signal: o.signal }).catch(() => undefined);
  }
}

function kafkaUnavailable(err: unknown): Error {
  if (err instanceof DependencyUnavailableError || err instanceof ConfigError) return err;
  return new DependencyUnavailableError(
    'kafka',
    `Kafka is unreachable: ${(err as Error)?.message ?? String(err)}`,
    {
      cause: err,
      hint: 'Check that the brokers run and SHOPDATA_KAFKA_BROKERS (or --kafka-brokers) is right.',
    },
  );
}
