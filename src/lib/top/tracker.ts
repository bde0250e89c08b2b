import { evaluatePartition, worstStatus, type WindowEntry } from './status.js';
import type { GroupView, KafkaPoll, LagSecondsSource, PartitionView, PolledGroup } from './types.js';

export interface TrackerOptions {
  /** Samples in the Burrow status window. */
  windowSize: number;
  /** Points kept for sparklines. */
  historySize: number;
  /** Log-end samples kept per partition for interpolating lag in seconds. */
  endHistorySize?: number;
}

interface PartitionState {
  window: WindowEntry[];
  /** Sample times of the last offset changes (see status.ts). */
  changeTimes: number[];
  lagHistory: number[];
  prev: { at: number; committed: number | null; end: number | null } | undefined;
}

interface GroupState {
  rateHistory: number[];
  lagHistory: number[];
}

/** GroupIds the broker uses for itself or that are not consumer groups we can judge. */
const LIVE_STATES = new Set([
  'Stable',
  'PreparingRebalance',
  'CompletingRebalance',
  'Assigning',
  'Reconciling',
]);

/**
 * Turns a sequence of raw polls into views: keeps per-partition status windows, rate and lag
 * histories, and the log-end history used to interpolate lag in seconds. Pure given its inputs
 * (no I/O, no clock), so recorded polls replay exactly in tests.
 */
export class LagTracker {
  private readonly partitions = new Map<string, PartitionState>();
  private readonly groups = new Map<string, GroupState>();
  /** topic:partition → log-end steps, oldest first. */
  private readonly endHistory = new Map<string, EndStep[]>();
  private readonly endHistorySize: number;

  constructor(private readonly opts: TrackerOptions) {
    this.endHistorySize = opts.endHistorySize ?? 600;
  }

  update(poll: KafkaPoll): GroupView[] {
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

    const seenGroups = new Set<string>();
    const views = poll.groups.map((g) => {
      seenGroups.add(g.groupId);
      return this.groupView(g, poll, ends);
    });
    for (const id of this.groups.keys()) if (!seenGroups.has(id)) this.groups.delete(id);
    return views;
  }

  private groupView(g: PolledGroup, poll: KafkaPoll, ends: Map<string, number>): GroupView {
    const owners = new Map<string, { memberId: string; clientId: string; host: string }>();
    for (const m of g.members) {
      for (const [topic, parts] of Object.entries(m.assignments)) {
        for (const p of parts)
          owners.set(`${topic}:${p}`, { memberId: m.memberId, clientId: m.clientId, host: m.host });
      }
    }
    const live = LIVE_STATES.has(g.state);

    // Committed partitions plus assigned ones that have no commit yet.
    const keys = new Map<string, { topic: string; partition: number; committed: number | null }>();
    for (const o of g.offsets) keys.set(`${o.topic}:${o.partition}`, { ...o });
    for (const key of owners.keys()) {
      if (!keys.has(key)) {
        const i = key.lastIndexOf(':');
        keys.set(key, { topic: key.slice(0, i), partition: Number(key.slice(i + 1)), committed: null });
      }
    }

    const partitions: PartitionView[] = [];
    for (const [tp, { topic, partition, committed }] of keys) {
      const end = ends.get(tp) ?? null;
      const stateKey = `${g.groupId}\u0000${tp}`;
      const st = this.partitions.get(stateKey) ?? {
        window: [],
        changeTimes: [],
        lagHistory: [],
        prev: undefined,
      };
      this.partitions.set(stateKey, st);
      const lag = committed !== null && end !== null ? Math.max(0, end - committed) : null;
      const owner = owners.get(tp) ?? null;

      let consumeRate: number | null = null;
      let produceRate: number | null = null;
      if (st.prev && poll.at > st.prev.at) {
        const dt = (poll.at - st.prev.at) / 1000;
        if (committed !== null && st.prev.committed !== null)
          consumeRate = Math.max(0, committed - st.prev.committed) / dt;
        if (end !== null && st.prev.end !== null) produceRate = Math.max(0, end - st.prev.end) / dt;
      }
      st.prev = { at: poll.at, committed, end };

      let status: PartitionView['status'] = 'OK';
      let reason = 'no committed offset yet';
      if (lag !== null && committed !== null) {
        const prevEntry = st.window[st.window.length - 1];
        if (!prevEntry || prevEntry.offset !== committed) push(st.changeTimes, poll.at, this.opts.windowSize);
        st.window.push({ at: poll.at, offset: committed, lag });
        if (st.window.length > this.opts.windowSize)
          st.window.splice(0, st.window.length - this.opts.windowSize);
        push(st.lagHistory, lag, this.opts.historySize);
        ({ status, reason } = evaluatePartition({
          window: st.window,
          windowSize: this.opts.windowSize,
          changeTimes: st.changeTimes,
          currentLag: lag,
          now: poll.at,
          hasLiveOwner: live && owner !== null,
          membersUnknown: g.state === 'Unknown',
        }));
      }
      const { seconds, source } = this.lagSeconds(tp, committed, lag, poll);
      partitions.push({
        topic,
        partition,
        committed,
        end,
        lag,
        lagSeconds: seconds,
        lagSecondsSource: source,
        consumeRate,
        produceRate,
        status,
        reason,
        owner,
        lagHistory: [...st.lagHistory],
      });
    }
    partitions.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));

    const gs = this.groups.get(g.groupId) ?? { rateHistory: [], lagHistory: [] };
    this.groups.set(g.groupId, gs);
    const totalLag = partitions.reduce((s, p) => s + (p.lag ?? 0), 0);
    const consumeRate = sumOrNull(partitions.map((p) => p.consumeRate));
    const produceRate = sumOrNull(partitions.map((p) => p.produceRate));
    if (consumeRate !== null) push(gs.rateHistory, consumeRate, this.opts.historySize);
    push(gs.lagHistory, totalLag, this.opts.historySize);
    const status = worstStatus(partitions.map((p) => p.status));
    const worst = partitions.find((p) => p.status === status && status !== 'OK');
    const secs = partitions.map((p) => p.lagSeconds).filter((s): s is number => s !== null);
    const fills = partitions.map(
      (p) => this.partitions.get(`${g.groupId}\u0000${p.topic}:${p.partition}`)!.window.length,
    );

    return {
      groupId: g.groupId,
      state: g.state,
      members: g.members.length,
      status,
      reason: worst
        ? `${worst.topic}[${worst.partition}]: ${worst.reason}`
        : partitions.length
          ? 'all partitions OK'
          : 'no committed offsets',
      totalLag,
      maxLagSeconds: secs.length ? Math.max(...secs) : null,
      consumeRate,
      produceRate,
      rateHistory: [...gs.rateHistory],
      lagHistory: [...gs.lagHistory],
      windowFill: fills.length ? Math.min(...fills) / this.opts.windowSize : 0,
      partitions,
    };
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

function push(arr: number[], v: number, max: number): void {
  arr.push(v);
  if (arr.length > max) arr.splice(0, arr.length - max);
}

function sumOrNull(values: Array<number | null>): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length ? known.reduce((a, b) => a + b, 0) : null;
}
