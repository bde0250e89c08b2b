import { AssignerProtocol, type Admin, type Kafka } from 'kafkajs';
import type { Logger } from '../log/index.js';

/**
 * Consumer lag, computed in one place for `stream` (its own partitions, `--until-idle` and its
 * gauge), `top` (every group, with Burrow statuses on top), the lag exporter (`top
 * --metrics-port`) and positions that are not a group's (`lagAtPositions`: the offsets a lake
 * table holds): lag in messages is the log end minus the position, and lag in seconds the age of
 * the next record to consume.
 */

/** One group member and the partitions it owns (from DescribeGroups). */
export interface PolledMember {
  memberId: string;
  clientId: string;
  host: string;
  /** topic → partitions assigned to this member. */
  assignments: Record<string, number[]>;
}

export interface PolledGroup {
  groupId: string;
  /** Stable, Empty, PreparingRebalance, CompletingRebalance, Dead, or Unknown. */
  state: string;
  members: PolledMember[];
  /** Committed offsets; partitions without a commit are absent. */
  offsets: Array<{ topic: string; partition: number; committed: number }>;
}

/** The raw read of one refresh: everything the lag math and the status rules need. */
export interface KafkaPoll {
  /** Epoch ms when the poll started. */
  at: number;
  groups: PolledGroup[];
  /** topic → log-end offset per partition. */
  endOffsets: Record<string, Array<{ partition: number; end: number }>>;
  /** `topic:partition:offset` → timestamp (epoch ms) of the record at that offset. */
  recordTimestamps: Record<string, number>;
}

export type LagSecondsSource = 'record' | 'interpolated' | 'caught-up';

export interface PartitionLag {
  topic: string;
  partition: number;
  /** null: assigned but never committed. */
  committed: number | null;
  end: number | null;
  lag: number | null;
  /** Age of the next unconsumed record; 0 when caught up; null when unknown. */
  lagSeconds: number | null;
  lagSecondsSource: LagSecondsSource | null;
  owner: { memberId: string; clientId: string; host: string } | null;
}

export interface GroupLag {
  group: PolledGroup;
  partitions: PartitionLag[];
}

/**
 * The lag formula: messages from the group's position to the log end. A partition with no commit
 * is at `start` when the caller knows where consumption begins (the log start, for a group that
 * reads from the beginning), unknown otherwise.
 */
export function partitionLag(committed: number | null, end: number | null, start?: number): number | null {
  if (end === null) return null;
  const from = committed ?? start;
  return from === undefined ? null : Math.max(0, end - from);
}

/**
 * Lag of arbitrary positions (the next offset a lake table needs, say) from what `positions()`
 * read: messages to the log end, and the age of the record at the position. A partition without
 * a position counts from the log start when `start` is given, else its lag is unknown.
 */
export function lagAtPositions(
  positions: ReadonlyArray<{ topic: string; partition: number; offset: number | null; start?: number }>,
  read: { endOffsets: KafkaPoll['endOffsets']; recordTimestamps: Record<string, number> },
  at: number,
): Array<{
  topic: string;
  partition: number;
  end: number | null;
  lag: number | null;
  lagSeconds: number | null;
}> {
  const ends = new Map<string, number>();
  for (const [t, parts] of Object.entries(read.endOffsets))
    for (const p of parts) ends.set(`${t}:${p.partition}`, p.end);
  return positions.map(({ topic, partition, offset, start }) => {
    const end = ends.get(`${topic}:${partition}`) ?? null;
    const lag = partitionLag(offset, end, start);
    const ts = offset === null ? undefined : read.recordTimestamps[`${topic}:${partition}:${offset}`];
    const lagSeconds = lag === 0 ? 0 : ts !== undefined ? Math.max(0, (at - ts) / 1000) : null;
    return { topic, partition, end, lag, lagSeconds };
  });
}

/** A log-end value and the first and last sample times that saw it. */
export interface EndStep {
  end: number;
  firstSeen: number;
  lastSeen: number;
}

/**
 * When was record `offset` appended? Between the last time the log end was still <= offset and
 * the first time it was beyond; linear in offsets within that gap.
 */
export function interpolateAppendTime(hist: readonly EndStep[], offset: number): number | null {
  for (let i = 1; i < hist.length; i++) {
    const before = hist[i - 1]!;
    const after = hist[i]!;
    if (before.end <= offset && after.end > offset) {
      const frac = (offset + 1 - before.end) / (after.end - before.end);
      return before.lastSeen + (after.firstSeen - before.lastSeen) * Math.min(1, Math.max(0, frac));
    }
  }
  return null;
}

/**
 * Turns polls into per-partition lag. Keeps the log-end history that lag in seconds falls back
 * on when the record at the committed offset could not be read. Pure given its inputs (no I/O,
 * no clock), so recorded polls replay exactly in tests.
 */
export class LagCalculator {
  /** topic:partition → log-end steps, oldest first. */
  private readonly endHistory = new Map<string, EndStep[]>();

  constructor(private readonly endHistorySize = 600) {}

  update(poll: KafkaPoll): GroupLag[] {
    const ends = new Map<string, number>();
    for (const [topic, parts] of Object.entries(poll.endOffsets)) {
      for (const { partition, end } of parts) {
        const key = `${topic}:${partition}`;
        ends.set(key, end);
        const hist = this.endHistory.get(key) ?? [];
        const last = hist[hist.length - 1];
        if (last && last.end === end) last.lastSeen = poll.at;
        else hist.push({ end, firstSeen: poll.at, lastSeen: poll.at });
        if (hist.length > this.endHistorySize) hist.splice(0, hist.length - this.endHistorySize);
        this.endHistory.set(key, hist);
      }
    }
    return poll.groups.map((group) => ({ group, partitions: this.groupLag(group, poll, ends) }));
  }

  private groupLag(g: PolledGroup, poll: KafkaPoll, ends: Map<string, number>): PartitionLag[] {
    const owners = new Map<string, { memberId: string; clientId: string; host: string }>();
    for (const m of g.members) {
      for (const [topic, parts] of Object.entries(m.assignments)) {
        for (const p of parts)
          owners.set(`${topic}:${p}`, { memberId: m.memberId, clientId: m.clientId, host: m.host });
      }
    }
    // Committed partitions plus assigned ones that have no commit yet.
    const keys = new Map<string, { topic: string; partition: number; committed: number | null }>();
    for (const o of g.offsets) keys.set(`${o.topic}:${o.partition}`, { ...o });
    for (const key of owners.keys()) {
      if (!keys.has(key)) {
        const i = key.lastIndexOf(':');
        keys.set(key, { topic: key.slice(0, i), partition: Number(key.slice(i + 1)), committed: null });
      }
    }
    const out: PartitionLag[] = [];
    for (const [tp, { topic, partition, committed }] of keys) {
      const end = ends.get(tp) ?? null;
      const lag = partitionLag(committed, end);
      const { seconds, source } = this.lagSeconds(tp, committed, lag, poll);
      out.push({
        topic,
        partition,
        committed,
        end,
        lag,
        lagSeconds: seconds,
        lagSecondsSource: source,
        owner: owners.get(tp) ?? null,
      });
    }
    return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  }

  /**
   * Lag in seconds: age of the record at the committed offset when the poll could read it;
   * otherwise the time the log end passed the committed offset, interpolated from our own
   * log-end history (kafka-lag-exporter's method); null when that is older than the history.
   */
  private lagSeconds(
    tp: string,
    committed: number | null,
    lag: number | null,
    poll: KafkaPoll,
  ): { seconds: number | null; source: LagSecondsSource | null } {
    if (lag === null || committed === null) return { seconds: null, source: null };
    if (lag === 0) return { seconds: 0, source: 'caught-up' };
    const ts = poll.recordTimestamps[`${tp}:${committed}`];
    if (ts !== undefined) return { seconds: Math.max(0, (poll.at - ts) / 1000), source: 'record' };
    const appendedAt = interpolateAppendTime(this.endHistory.get(tp) ?? [], committed);
    if (appendedAt === null) return { seconds: null, source: null };
    return { seconds: Math.max(0, (poll.at - appendedAt) / 1000), source: 'interpolated' };
  }
}

/**
 * The lag of one member's partitions, as the stream sees them: a partition it owns but never
 * committed counts from the log start (the stream reads from the beginning).
 */
export async function readAssignedLag(
  admin: Admin,
  groupId: string,
  assignment: Record<string, number[]>,
): Promise<Array<{ topic: string; partition: number; lag: number }>> {
  const topics = Object.keys(assignment).filter((t) => (assignment[t] ?? []).length > 0);
  if (topics.length === 0) return [];
  const committed = await admin.fetchOffsets({ groupId, topics });
  const out: Array<{ topic: string; partition: number; lag: number }> = [];
  for (const topic of topics) {
    const mine = new Set(assignment[topic]);
    const groupOffsets = committed.find((c) => c.topic === topic)?.partitions ?? [];
    for (const e of await admin.fetchTopicOffsets(topic)) {
      if (!mine.has(e.partition)) continue;
      const c = Number(groupOffsets.find((g) => g.partition === e.partition)?.offset ?? -1);
      const lag = partitionLag(c >= 0 ? c : null, Number(e.high), Number(e.low))!;
      out.push({ topic, partition: e.partition, lag });
    }
  }
  return out;
}

/**
 * The slice of kafkajs' internal Cluster we use. kafkajs 2.2.4 (its last release) has no public
 * way to read one record at an offset without joining a group, and `admin.fetchTopicOffsets`
 * sends two ListOffsets per topic; its Cluster batches ListOffsets and Fetch per leader.
 */
interface InternalBroker {
  fetch(req: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: Array<{
      topic: string;
      partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }>;
    }>;
  }): Promise<{
    responses: Array<{
      topicName: string;
      partitions: Array<{
        partition: number;
        errorCode: number;
        messages: Array<{ offset: string; timestamp: string }>;
      }>;
    }>;
  }>;
}
interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  findTopicPartitionMetadata(topic: string): Array<{ partitionId: number }>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(args: { nodeId: string }): Promise<InternalBroker>;
  fetchTopicsOffset(
    topics: Array<{ topic: string; fromBeginning: boolean; partitions: Array<{ partition: number }> }>,
  ): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
}

function createInternalCluster(kafka: Kafka): InternalCluster {
  const sym = Object.getOwnPropertySymbols(kafka).find(
    (s) => s.description === 'private:Kafka:createCluster',
  );
  if (!sym)
    throw new Error('this kafkajs version has no internal cluster factory; lag reading needs kafkajs 2.x');
  const factory = (kafka as unknown as Record<symbol, (opts: object) => InternalCluster>)[sym]!;
  return factory({ allowAutoTopicCreation: false });
}

export interface KafkaLagSourceOptions {
  /** Group ids to show; `*` matches any run of characters. Empty: every consumer group. */
  groups?: string[];
  /** Read the record at each lagging committed offset for lag in seconds (default true). */
  readRecordTimestamps?: boolean;
  logger?: Logger;
}

const CACHE_MAX = 50_000;
const PART_BYTES_START = 16 * 1024;
const PART_BYTES_MAX = 1024 * 1024;

/** Reads groups, members, committed and log-end offsets, and next-record timestamps from Kafka. */
export class KafkaLagSource {
  private admin: Admin | undefined;
  private cluster: InternalCluster | undefined;
  private readonly matchers: RegExp[];
  /** `topic:partition:offset` → record timestamp; a record's timestamp never changes. */
  private readonly tsCache = new Map<string, number>();
  /** Per-partition fetch size for the next read when a small one returned nothing. */
  private readonly partBytes = new Map<string, number>();

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: KafkaLagSourceOptions = {},
  ) {
    this.matchers = (opts.groups ?? []).map(
      (g) =>
        new RegExp(
          `^${g
            .split('*')
            .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
        ),
    );
  }

  async connect(): Promise<void> {
    if (this.admin && this.cluster) return;
    const admin = this.kafka.admin({ retry: { retries: 1, initialRetryTime: 200 } });
    const cluster = createInternalCluster(this.kafka);
    try {
      await admin.connect();
      await cluster.connect();
    } catch (err) {
      await Promise.allSettled([admin.disconnect(), cluster.disconnect()]);
      throw err;
    }
    this.admin = admin;
    this.cluster = cluster;
  }

  async close(): Promise<void> {
    const { admin, cluster } = this;
    this.admin = undefined;
    this.cluster = undefined;
    await Promise.allSettled([admin?.disconnect(), cluster?.disconnect()]);
  }

  /** One read of everything; on failure closes the connections so the next poll reconnects. */
  async poll(now: () => number = Date.now): Promise<KafkaPoll> {
    try {
      await this.connect();
      return await this.read(now());
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  private async read(at: number): Promise<KafkaPoll> {
    const admin = this.admin!;
    const cluster = this.cluster!;
    const listed = await admin.listGroups();
    // Connect workers' own group ("connect" protocol) has no offsets; sink connectors' groups do.
    const ids = listed.groups
      .filter((g) => g.protocolType === 'consumer' || g.protocolType === '')
      .map((g) => g.groupId)
      .filter((id) => this.matchers.length === 0 || this.matchers.some((m) => m.test(id)))
      .sort();
    if (ids.length === 0) return { at, groups: [], endOffsets: {}, recordTimestamps: {} };

    const [described, offsets] = await Promise.all([
      admin.describeGroups(ids),
      Promise.all(ids.map((groupId) => admin.fetchOffsets({ groupId }))),
    ]);
    const byId = new Map(described.groups.map((d) => [d.groupId, d]));
    const groups: PolledGroup[] = ids.map((groupId, i) => {
      const d = byId.get(groupId);
      const members: PolledMember[] = (d?.members ?? []).map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        host: m.clientHost,
        assignments: decodeAssignment(m.memberAssignment),
      }));
      return {
        groupId,
        // A listed group that the classic DescribeGroups calls Dead uses the consumer protocol
        // (KIP-848), whose members kafkajs cannot describe: its liveness is unknown, not dead.
        state: !d || d.state === 'Dead' ? 'Unknown' : d.state,
        members,
        offsets: offsets[i]!.flatMap(({ topic, partitions }) =>
          partitions
            .filter((p) => Number(p.offset) >= 0)
            .map((p) => ({ topic, partition: p.partition, committed: Number(p.offset) })),
        ),
      };
    });

    const topics = new Set<string>();
    for (const g of groups) {
      for (const o of g.offsets) topics.add(o.topic);
      for (const m of g.members) for (const t of Object.keys(m.assignments)) topics.add(t);
    }
    const endOffsets = await this.readEndOffsets(cluster, [...topics]);

    const recordTimestamps: Record<string, number> = {};
    if (this.opts.readRecordTimestamps !== false) {
      const endByTp = new Map<string, number>();
      for (const [t, parts] of Object.entries(endOffsets))
        for (const p of parts) endByTp.set(`${t}:${p.partition}`, p.end);
      const wanted = new Map<string, { topic: string; partition: number; offset: number }>();
      for (const g of groups) {
        for (const o of g.offsets) {
          const end = endByTp.get(`${o.topic}:${o.partition}`);
          if (end === undefined || end <= o.committed) continue;
          const key = `${o.topic}:${o.partition}:${o.committed}`;
          const cached = this.tsCache.get(key);
          if (cached !== undefined) recordTimestamps[key] = cached;
          else wanted.set(key, { topic: o.topic, partition: o.partition, offset: o.committed });
        }
      }
      if (wanted.size) {
        try {
          await this.readRecords(cluster, [...wanted.values()]);
        } catch (err) {
          // Lag in seconds then falls back to interpolation; offsets are still right.
          this.opts.logger?.debug({ err }, 'lag: reading records at committed offsets failed');
        }
        for (const key of wanted.keys()) {
          const ts = this.tsCache.get(key);
          if (ts !== undefined) recordTimestamps[key] = ts;
        }
      }
    }
    return { at, groups, endOffsets, recordTimestamps };
  }

  /**
   * Log-end offsets of `topics` and the produce time of the record at each given position (or the
   * first one after it): lag in messages and seconds against positions that are not a consumer
   * group's, such as the offsets a lake table holds (`lake status`, `archive`).
   */
  async positions(
    topics: string[],
    at: Array<{ topic: string; partition: number; offset: number }>,
  ): Promise<{ endOffsets: KafkaPoll['endOffsets']; recordTimestamps: Record<string, number> }> {
    try {
      await this.connect();
      const cluster = this.cluster!;
      const endOffsets = await this.readEndOffsets(cluster, topics);
      const ends = new Map<string, number>();
      for (const [t, parts] of Object.entries(endOffsets))
        for (const p of parts) ends.set(`${t}:${p.partition}`, p.end);
      const wanted = at.filter((w) => (ends.get(`${w.topic}:${w.partition}`) ?? 0) > w.offset);
      const missing = wanted.filter((w) => !this.tsCache.has(`${w.topic}:${w.partition}:${w.offset}`));
      if (missing.length) await this.readRecords(cluster, missing);
      const recordTimestamps: Record<string, number> = {};
      for (const w of wanted) {
        const key = `${w.topic}:${w.partition}:${w.offset}`;
        const ts = this.tsCache.get(key);
        if (ts !== undefined) recordTimestamps[key] = ts;
      }
      return { endOffsets, recordTimestamps };
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  private async readEndOffsets(cluster: InternalCluster, topics: string[]): Promise<KafkaPoll['endOffsets']> {
    if (topics.length === 0) return {};
    await cluster.addMultipleTargetTopics(topics);
    await cluster.refreshMetadataIfNecessary();
    const req = topics
      .map((topic) => ({
        topic,
        fromBeginning: false,
        partitions: safeMetadata(cluster, topic).map((p) => ({ partition: p.partitionId })),
      }))
      .filter((t) => t.partitions.length > 0);
    const res = await cluster.fetchTopicsOffset(req);
    const out: KafkaPoll['endOffsets'] = {};
    for (const { topic, partitions } of res) {
      out[topic] = partitions
        .map((p) => ({ partition: p.partition, end: Number(p.offset) }))
        .sort((a, b) => a.partition - b.partition);
    }
    return out;
  }

  /** One Fetch per leader for all wanted partitions, from each committed offset, a few KiB each. */
  private async readRecords(
    cluster: InternalCluster,
    wanted: Array<{ topic: string; partition: number; offset: number }>,
  ): Promise<void> {
    const perLeader = new Map<string, Map<string, Array<{ partition: number; offset: number }>>>();
    // One entry per partition (groups at different offsets share it): from the lowest offset; the
    // records after it are cached too, so the others are often answered by the same read.
    const lowest = new Map<string, { topic: string; partition: number; offset: number }>();
    for (const w of wanted) {
      const k = `${w.topic}:${w.partition}`;
      const cur = lowest.get(k);
      if (!cur || w.offset < cur.offset) lowest.set(k, w);
    }
    const byTopic = new Map<string, Array<{ partition: number; offset: number }>>();
    for (const w of lowest.values()) byTopic.set(w.topic, [...(byTopic.get(w.topic) ?? []), w]);
    for (const [topic, parts] of byTopic) {
      const leaders = cluster.findLeaderForPartitions(
        topic,
        parts.map((p) => p.partition),
      );
      for (const [nodeId, leaderParts] of Object.entries(leaders)) {
        const topicsOfLeader = perLeader.get(nodeId) ?? new Map();
        perLeader.set(nodeId, topicsOfLeader);
        topicsOfLeader.set(
          topic,
          parts.filter((p) => leaderParts.includes(p.partition)),
        );
      }
    }
    const want = new Map([...lowest].map(([k, w]) => [k, w.offset]));
    await Promise.all(
      [...perLeader].map(async ([nodeId, topicsOfLeader]) => {
        const broker = await cluster.findBroker({ nodeId });
        const res = await broker.fetch({
          replicaId: -1,
          isolationLevel: 0,
          maxWaitTime: 0,
          minBytes: 0,
          maxBytes: 16 * 1024 * 1024,
          topics: [...topicsOfLeader].map(([topic, parts]) => ({
            topic,
            partitions: parts.map((p) => ({
              partition: p.partition,
              fetchOffset: String(p.offset),
              maxBytes: this.partBytes.get(`${topic}:${p.partition}`) ?? PART_BYTES_START,
            })),
          })),
        });
        for (const { topicName, partitions } of res.responses) {
          for (const p of partitions) {
            const tp = `${topicName}:${p.partition}`;
            const from = want.get(tp);
            if (from === undefined) continue;
            let found = false;
            for (const m of p.messages) {
              const off = Number(m.offset);
              if (off < from) continue;
              // The first record at or after the committed offset is the next one to consume.
              if (!found) this.remember(`${tp}:${from}`, Number(m.timestamp));
              found = true;
              this.remember(`${tp}:${off}`, Number(m.timestamp));
            }
            if (!found && p.errorCode === 0) {
              // A batch bigger than the per-partition limit came back truncated: read more next time.
              this.partBytes.set(
                tp,
                Math.min(PART_BYTES_MAX, (this.partBytes.get(tp) ?? PART_BYTES_START) * 4),
              );
            }
          }
        }
      }),
    );
  }

  private remember(key: string, ts: number): void {
    if (!Number.isFinite(ts) || ts <= 0) return;
    if (this.tsCache.size >= CACHE_MAX) {
      // Map keeps insertion order: drop the oldest tenth.
      let n = CACHE_MAX / 10;
      for (const k of this.tsCache.keys()) {
        this.tsCache.delete(k);
        if (--n <= 0) break;
      }
    }
    this.tsCache.set(key, ts);
  }
}

function safeMetadata(cluster: InternalCluster, topic: string): Array<{ partitionId: number }> {
  try {
    return cluster.findTopicPartitionMetadata(topic);
  } catch {
    return []; // a deleted topic that a group still has offsets for
  }
}

function decodeAssignment(buf: Buffer | undefined): Record<string, number[]> {
  if (!buf || buf.length === 0) return {};
  try {
    return AssignerProtocol.MemberAssignment.decode(buf)?.assignment ?? {};
  } catch {
    return {}; // a non-standard assignor's bytes
  }
}
