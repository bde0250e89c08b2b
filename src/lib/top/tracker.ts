import { evaluatePartition, worstStatus, type WindowEntry } from './status.js';
import { LagCalculator, type KafkaPoll, type PartitionLag, type PolledGroup } from '../kafka/lag.js';
import type { GroupView, PartitionView } from './types.js';

export interface TrackerOptions {
  /** Samples in the Burrow status window. */
  windowSize: number;
  /** Points kept for sparklines. */
  historySize: number;
  /** Log-end samples kept per partition for interpolating lag in seconds (kafka/lag.ts). */
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
 * Turns a sequence of raw polls into views: the lag of every partition (src/lib/kafka/lag.ts),
 * plus per-partition status windows and rate and lag histories. Pure given its inputs (no I/O,
 * no clock), so recorded polls replay exactly in tests.
 */
export class LagTracker {
  private readonly partitions = new Map<string, PartitionState>();
  private readonly groups = new Map<string, GroupState>();
  private readonly lag: LagCalculator;

  constructor(private readonly opts: TrackerOptions) {
    this.lag = new LagCalculator(opts.endHistorySize ?? 600);
  }

  update(poll: KafkaPoll): GroupView[] {
    const seenGroups = new Set<string>();
    const views = this.lag.update(poll).map(({ group, partitions }) => {
      seenGroups.add(group.groupId);
      return this.groupView(group, partitions, poll.at);
    });
    for (const id of this.groups.keys()) if (!seenGroups.has(id)) this.groups.delete(id);
    return views;
  }

  private groupView(g: PolledGroup, lags: PartitionLag[], at: number): GroupView {
    const live = LIVE_STATES.has(g.state);
    const partitions: PartitionView[] = lags.map((p) =>
      this.partitionView(g, p, at, live && p.owner !== null),
    );
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

  /** Rates since the previous sample and the Burrow status over the window. */
  private partitionView(g: PolledGroup, p: PartitionLag, at: number, hasLiveOwner: boolean): PartitionView {
    const { committed, end, lag } = p;
    const stateKey = `${g.groupId}\u0000${p.topic}:${p.partition}`;
    const st = this.partitions.get(stateKey) ?? {
      window: [],
      changeTimes: [],
      lagHistory: [],
      prev: undefined,
    };
    this.partitions.set(stateKey, st);

    let consumeRate: number | null = null;
    let produceRate: number | null = null;
    if (st.prev && at > st.prev.at) {
      const dt = (at - st.prev.at) / 1000;
      if (committed !== null && st.prev.committed !== null)
        consumeRate = Math.max(0, committed - st.prev.committed) / dt;
      if (end !== null && st.prev.end !== null) produceRate = Math.max(0, end - st.prev.end) / dt;
    }
    st.prev = { at, committed, end };

    let status: PartitionView['status'] = 'OK';
    let reason = 'no committed offset yet';
    if (lag !== null && committed !== null) {
      const prevEntry = st.window[st.window.length - 1];
      if (!prevEntry || prevEntry.offset !== committed) push(st.changeTimes, at, this.opts.windowSize);
      st.window.push({ at, offset: committed, lag });
      if (st.window.length > this.opts.windowSize)
        st.window.splice(0, st.window.length - this.opts.windowSize);
      push(st.lagHistory, lag, this.opts.historySize);
      ({ status, reason } = evaluatePartition({
        window: st.window,
        windowSize: this.opts.windowSize,
        changeTimes: st.changeTimes,
        currentLag: lag,
        now: at,
        hasLiveOwner,
        membersUnknown: g.state === 'Unknown',
      }));
    }
    return { ...p, consumeRate, produceRate, status, reason, lagHistory: [...st.lagHistory] };
  }
}

function push(arr: number[], v: number, max: number): void {
  arr.push(v);
  if (arr.length > max) arr.splice(0, arr.length - max);
}

function sumOrNull(values: Array<number | null>): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length ? known.reduce((a, b) => a + b, 0) : null;
}
