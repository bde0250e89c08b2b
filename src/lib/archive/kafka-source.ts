import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { ConfigError, DependencyUnavailableError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { KafkaLagSource, lagAtPositions } from '../kafka/lag.js';
import type { Archiver } from './archiver.js';
import type { ArchiveMetrics } from './metrics.js';
import { splitTpKey, tpKey, type OffsetMap } from './offsets.js';

/**
 * The Kafka side of `archive`: a consumer group member that feeds the archiver. The lake is the
 * source of truth for positions — each table's snapshots hold the offsets they cover — and the
 * group's committed offsets only follow it (committed after each lake commit, for lag monitoring
 * and as the place a restart fetches from). At start the group is moved to the lake's positions
 * when it is elsewhere (a new lake, a group used for something else); a member never trusts the
 * group past the lake: messages below the lake's offset are dropped as duplicates, and every commit
 * is fenced against the table's offsets again (archiver.ts).
 */

export interface KafkaSourceRunOptions {
  kafka: Kafka;
  groupId: string;
  topics: string[];
  archiver: Archiver;
  logger: Logger;
  metrics?: ArchiveMetrics | undefined;
  untilIdle: boolean;
  idleMs: number;
  signal: AbortSignal;
  /** Kafka unreachable this long → exit 3; 0 = never. */
  giveUpAfterMs: number;
  /** How often lag is sampled (ms). */
  lagIntervalMs?: number;
}

type Assignment = Record<string, number[]>;

export async function runKafkaSource(o: KafkaSourceRunOptions): Promise<{ stoppedBy: 'idle' | 'signal' }> {
  const admin = o.kafka.admin();
  try {
    await admin.connect();
  } catch (err) {
    throw kafkaUnavailable(err);
  }
  const lagSource = new KafkaLagSource(o.kafka, { readRecordTimestamps: true });
  let consumer: Consumer | undefined;
  try {
    const topics = await existingTopics(admin, o);
    await o.archiver.loadCommitted();
    await alignGroup(admin, o, topics);
    consumer = o.kafka.consumer({
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
    const state = new RunState(o, consumer, lagSource, topics);
    o.archiver.onCommitted = (_table, offsets) => state.committed(offsets);
    await consumer.connect().catch((err: unknown) => {
      throw kafkaUnavailable(err);
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => state.onJoin(e.payload.memberAssignment));
    consumer.on(consumer.events.FETCH, () => (state.lastKafkaOkAt = Date.now()));
    consumer.on(consumer.events.HEARTBEAT, () => (state.lastKafkaOkAt = Date.now()));
    consumer.on(consumer.events.CRASH, (e) => {
      o.logger.warn(
        { err: { message: e.payload.error.message }, restart: e.payload.restart },
        'archive: kafka consumer crashed',
      );
      if (!e.payload.restart) state.fail(kafkaUnavailable(e.payload.error));
    });
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => state.eachBatch(payload),
    });
    o.logger.info({ groupId: o.groupId, topics }, 'archive: consuming');
    const stoppedBy = await state.waitForStop();
    await state.shutdown();
    if (state.failure) throw state.failure;
    return { stoppedBy };
  } finally {
    await consumer
      ?.disconnect()
      .catch((err: unknown) => o.logger.warn({ err }, 'kafka consumer disconnect failed'));
    await lagSource.close();
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Moves the group's committed offsets to the lake's (the earliest offset where the lake has
 * nothing) when they differ. Required when the group is ahead of the lake — it would skip changes
 * the lake never got — and only possible while the group has no live member.
 */
async function alignGroup(admin: Admin, o: KafkaSourceRunOptions, topics: string[]): Promise<void> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    const ahead: string[] = [];
    const plan: { topic: string; partitions: { partition: number; offset: string }[] }[] = [];
    const committed = await admin.fetchOffsets({ groupId: o.groupId, topics });
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      const group = committed.find((c) => c.topic === topic)?.partitions ?? [];
      const parts: { partition: number; offset: string }[] = [];
      for (const e of ends) {
        const lake = o.archiver.committedOffset(topic, e.partition);
        const target = lake !== undefined ? (lake > BigInt(e.low) ? lake : BigInt(e.low)) : BigInt(e.low);
        const g = BigInt(group.find((p) => p.partition === e.partition)?.offset ?? '-1');
        if (g >= 0n && g !== target) parts.push({ partition: e.partition, offset: target.toString() });
        if (g > target) ahead.push(`${topic}/${e.partition}: group ${g}, lake ${target}`);
      }
      if (parts.length) plan.push({ topic, partitions: parts });
    }
    if (plan.length === 0) return;
    try {
      for (const p of plan)
        await admin.setOffsets({ groupId: o.groupId, topic: p.topic, partitions: p.partitions });
      o.logger.info({ groupId: o.groupId, plan }, 'archive: moved the consumer group to the lake positions');
      return;
    } catch (err) {
      if (ahead.length === 0) {
        o.logger.debug(
          { err },
          'archive: could not align the group (members are live); fetching from its offsets',
        );
        return;
      }
      if (Date.now() > deadline || o.signal.aborted) {
        throw new ConfigError(
          `The consumer group ${o.groupId} has committed offsets beyond what the lake holds (${ahead.slice(0, 3).join('; ')}) and has live members, so it cannot be moved back; nothing was archived.`,
          {
            hint: 'Stop the other members of the group (or wait for a killed one to time out), or use another --group for this lake.',
          },
        );
      }
      await sleep(3000);
    }
  }
}

class RunState {
  private stopping = false;
  failure: Error | undefined;
  private assignment: Assignment | undefined;
  private lastMessageAt = Date.now();
  lastKafkaOkAt = Date.now();
  private flushing: Promise<void> | undefined;
  private caughtUp = false;
  private lagLabels = new Set<string>();

  constructor(
    private readonly o: KafkaSourceRunOptions,
    private readonly consumer: Consumer,
    private readonly lagSource: KafkaLagSource,
    private readonly topics: string[],
  ) {}

  onJoin(assignment: Assignment): void {
    this.assignment = assignment;
    this.lastMessageAt = Date.now();
    this.caughtUp = false;
    this.o.logger.info({ assignment }, 'archive: partitions assigned');
    // Partitions that another member archived until now: read where the lake is.
    this.o.archiver.loadCommitted().catch((err: unknown) => this.fail(err as Error));
  }

  fail(err: Error): void {
    this.failure ??= err;
  }

  private owns(topic: string, partition: number): boolean {
    return (this.assignment?.[topic] ?? []).includes(partition);
  }

  async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (this.stopping || this.failure) return;
    this.lastMessageAt = Date.now();
    this.lastKafkaOkAt = Date.now();
    this.caughtUp = false;
    for (const m of batch.messages) {
      if (!isRunning() || isStale() || this.stopping) break;
      this.o.archiver.add(
        {
          topic: batch.topic,
          partition: batch.partition,
          offset: m.offset,
          key: m.key,
          value: m.value,
          headers: m.headers as Record<string, Buffer | string | undefined>,
        },
        { size: (m.value?.length ?? 0) + (m.key?.length ?? 0) + 64, timestampMs: Number(m.timestamp) },
      );
      resolveOffset(m.offset);
    }
    this.kick();
    await this.backpressure(heartbeat);
  }

  /** Starts committing due tables unless a commit runs; consumption goes on meanwhile. */
  private kick(): void {
    if (this.failure || this.flushing || this.o.archiver.due().length === 0) return;
    const run = this.o.archiver.flushDue().catch((err: unknown) => this.fail(err as Error));
    this.flushing = run.finally(() => (this.flushing = undefined));
  }

  /** While more than the memory bound is held, waits (heartbeating) for commits: nothing is fetched. */
  private async backpressure(heartbeat: () => Promise<void>): Promise<void> {
    while (!this.failure && this.o.archiver.bufferedBytes >= this.o.archiver.maxBufferedBytes) {
      this.kick();
      if (!this.flushing) return;
      const done = await Promise.race([this.flushing.then(() => true), sleep(2000).then(() => false)]);
      if (!done) await heartbeat().catch(() => undefined);
    }
  }

  /** Commits everything held (idle, shutdown), after the commit in flight. */
  private async flushAll(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.failure) return;
    const run = this.o.archiver.flushAll().catch((err: unknown) => this.fail(err as Error));
    this.flushing = run.finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  /** After a lake commit: the group follows (for lag monitoring; the lake stays the truth). */
  async committed(offsets: OffsetMap): Promise<void> {
    const list: { topic: string; partition: number; offset: string }[] = [];
    for (const [k, v] of offsets) {
      const { topic, partition } = splitTpKey(k);
      if (this.owns(topic, partition)) list.push({ topic, partition, offset: v.toString() });
    }
    if (list.length === 0) return;
    try {
      await this.consumer.commitOffsets(list);
    } catch (err) {
      this.o.metrics?.retries.inc({ dependency: 'kafka' });
      this.o.logger.warn(
        { err: { message: (err as Error).message } },
        'archive: committing the group offsets failed; the lake has the changes, the next commit moves the group',
      );
    }
  }

  async waitForStop(): Promise<'idle' | 'signal'> {
    let lastLagAt = 0;
    for (;;) {
      if (this.failure || this.o.signal.aborted) return 'signal';
      if (this.o.giveUpAfterMs > 0 && Date.now() - this.lastKafkaOkAt > this.o.giveUpAfterMs) {
        this.fail(
          new DependencyUnavailableError(
            'kafka',
            `Kafka was unreachable for more than ${Math.round(this.o.giveUpAfterMs / 1000)} s.`,
            {
              hint: 'Check the brokers (SHOPDATA_KAFKA_BROKERS); the lake keeps what was committed and a restart reads on from there.',
            },
          ),
        );
        return 'signal';
      }
      // A quiet topic must not hold changes back: commit tables whose buffer got old.
      this.kick();
      const now = Date.now();
      const quiet = now - this.lastMessageAt >= this.o.idleMs;
      const interval = this.o.untilIdle && quiet && this.assignment ? 500 : (this.o.lagIntervalMs ?? 5000);
      if (now - lastLagAt >= interval) {
        lastLagAt = now;
        if (this.o.untilIdle && quiet && this.assignment && this.o.archiver.pending && !this.flushing)
          await this.flushAll();
        const lag = await this.sampleLag().catch((err: unknown) => {
          this.o.logger.debug({ err }, 'archive: lag sample failed');
          return undefined;
        });
        if (lag === 0) this.caughtUp = true;
        if (this.o.untilIdle && this.caughtUp && quiet && !this.o.archiver.pending && !this.flushing)
          return 'idle';
      }
      await sleep(100);
    }
  }

  /**
   * Lag of the topics against the lake: log-end offset minus the lake's next offset, and the age of
   * the oldest message not in the lake (held here, or read from Kafka at the lake's offset).
   * Returns the total messages not yet in the lake or read past (0 = caught up).
   */
  private async sampleLag(): Promise<number> {
    const held = this.o.archiver.oldestHeld();
    const at = [];
    for (const t of this.topics) {
      for (const p of this.assignment?.[t] ?? []) {
        const lake = this.o.archiver.committedOffset(t, p);
        at.push({ topic: t, partition: p, offset: Number(lake ?? 0n) });
      }
    }
    const read = await this.lagSource.positions(this.topics, at);
    const lags = lagAtPositions(at, read, Date.now());
    let unread = 0;
    const labels = new Set<string>();
    for (const [i, a] of at.entries()) {
      const l = lags[i]!;
      const end = l.end ?? a.offset;
      // The oldest message held here is known without asking Kafka.
      const heldAt = held.get(tpKey(a.topic, a.partition));
      const lagSeconds =
        l.lag === 0 ? 0 : heldAt !== undefined ? Math.max(0, (Date.now() - heldAt) / 1000) : l.lagSeconds;
      const labelSet = { topic: a.topic, partition: String(a.partition) };
      this.o.metrics?.lagMessages.set(labelSet, l.lag ?? 0);
      if (lagSeconds !== null) this.o.metrics?.lagSeconds.set(labelSet, lagSeconds);
      labels.add(`${a.topic}\u0000${a.partition}`);
      // Read or not: what the archiver has seen past (tombstones at the end are read, not stored).
      const seenTo = this.o.archiver.seenOffset(a.topic, a.partition);
      unread += Math.max(0, end - Number(seenTo ?? BigInt(a.offset)));
    }
    for (const old of this.lagLabels) {
      if (!labels.has(old)) {
        const [topic, partition] = old.split('\u0000') as [string, string];
        this.o.metrics?.lagMessages.remove({ topic, partition });
        this.o.metrics?.lagSeconds.remove({ topic, partition });
      }
    }
    this.lagLabels = labels;
    return unread;
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    try {
      this.consumer.pause(this.topics.map((topic) => ({ topic })));
    } catch {
      // not running any more
    }
    if (!this.failure && this.o.archiver.pending) await this.flushAll();
    while (this.flushing) await this.flushing;
  }
}

/** Topics that exist; --until-idle skips missing ones, a long-running archive waits for them. */
async function existingTopics(admin: Admin, o: KafkaSourceRunOptions): Promise<string[]> {
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
    if (o.untilIdle) {
      if (present.length === 0)
        throw new ConfigError(`None of the archive topics exist: ${missing.join(', ')}.`, {
          hint: 'Check the topic names (--topics, the topic prefixes) and that the connectors run.',
        });
      o.logger.warn({ missing }, 'archive: skipping topics that do not exist (yet)');
      return present;
    }
    if (Date.now() - warnedAt > 30_000) {
      o.logger.warn({ missing }, 'archive: waiting for topics to be created (are the connectors running?)');
      warnedAt = Date.now();
    }
    if (o.signal.aborted) return present;
    await sleep(2000);
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
