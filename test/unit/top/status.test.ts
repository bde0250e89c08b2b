import { describe, expect, it } from 'vitest';
import { evaluatePartition, worstStatus, type WindowEntry } from '../../../src/lib/top/status.js';
import { interpolateAppendTime } from '../../../src/lib/kafka/lag.js';
import { LagTracker } from '../../../src/lib/top/tracker.js';
import { loadPolls, replay } from '../../fixtures/top/load.js';

/** A window of `n` samples one second apart from offsets and lags. */
function win(offsets: number[], lags: number[]): WindowEntry[] {
  return offsets.map((offset, i) => ({ at: 1_000_000 + i * 1000, offset, lag: lags[i]! }));
}
function changes(w: WindowEntry[]): number[] {
  return w.filter((e, i) => i === 0 || e.offset !== w[i - 1]!.offset).map((e) => e.at);
}
function evalWin(
  offsets: number[],
  lags: number[],
  opts: { live?: boolean; size?: number; nowDelta?: number } = {},
) {
  const window = win(offsets, lags);
  return evaluatePartition({
    window,
    windowSize: opts.size ?? offsets.length,
    changeTimes: changes(window),
    currentLag: lags[lags.length - 1]!,
    now: window[window.length - 1]!.at + (opts.nowDelta ?? 0),
    hasLiveOwner: opts.live ?? true,
  });
}

describe('Burrow rules, by hand', () => {
  it('rule 1: lag zero now or anywhere in the window is OK', () => {
    expect(evalWin([1, 1, 1, 1], [5, 6, 7, 0]).status).toBe('OK');
    expect(evalWin([1, 1, 1, 1], [5, 0, 7, 9]).status).toBe('OK');
  });

  it('rule 2: an offset going back is REWINDING, even after zero lag, until lag is zero again', () => {
    expect(evalWin([100, 100, 0, 3], [0, 0, 100, 99]).status).toBe('REWINDING');
    expect(evalWin([100, 0, 5, 9], [0, 100, 0, 3]).status).toBe('OK');
  });

  it('rule 3: no offset change for longer than the span of recent changes is STOPPED without a live owner', () => {
    const r = evalWin([10, 10, 10, 10], [5, 6, 7, 8], { live: false });
    expect(r.status).toBe('STOPPED');
    expect(r.reason).toMatch(/no live member/);
  });

  it('rule 3/4: the same with a live owner is STALLED', () => {
    expect(evalWin([10, 10, 10, 10], [5, 6, 7, 8], { live: true }).status).toBe('STALLED');
    // Progress early in the window, then none for longer than the progress took.
    expect(evalWin([1, 2, 3, 3, 3, 3, 3], [9, 9, 9, 10, 11, 12, 13]).status).toBe('STALLED');
  });

  it('rule 5: advancing offsets whose lag never decreases is WARN', () => {
    expect(evalWin([1, 2, 3, 4, 5], [10, 11, 12, 12, 13]).status).toBe('WARN');
  });

  it('a consumer that works the lag down is OK', () => {
    expect(evalWin([1, 5, 9, 13, 17], [40, 38, 36, 34, 32]).status).toBe('OK');
  });

  it('no verdict on progress until the window is full; a rewind shows at once', () => {
    expect(evalWin([10, 10, 10], [5, 6, 7], { size: 10 }).status).toBe('OK');
    expect(evalWin([10, 10, 10], [5, 6, 7], { size: 10 }).reason).toMatch(/window filling/);
    expect(evalWin([10, 4], [5, 11], { size: 10 }).status).toBe('REWINDING');
  });

  it('a group takes its worst partition, rewinds first', () => {
    expect(worstStatus(['OK', 'WARN', 'STALLED'])).toBe('STALLED');
    expect(worstStatus(['STOPPED', 'REWINDING'])).toBe('REWINDING');
    expect(worstStatus([])).toBe('OK');
  });
});

describe('recorded polls from the real Kafka', () => {
  const statuses = (name: Parameters<typeof replay>[0], w = 10) => replay(name, w).map((gs) => gs[0]!.status);

  it('stalled: a live member that does not commit turns STALLED once the window is full', () => {
    const views = replay('stalled');
    expect(views[0]![0]!.state).toBe('Stable');
    const s = views.map((gs) => gs[0]!.status);
    expect(s.slice(0, 9).every((x) => x === 'OK')).toBe(true);
    expect(s.slice(9).every((x) => x === 'STALLED')).toBe(true);
    const last = views.at(-1)![0]!;
    expect(last.totalLag).toBeGreaterThan(views[0]![0]!.totalLag);
    expect(last.consumeRate).toBe(0);
    expect(last.partitions.every((p) => p.owner !== null)).toBe(true);
  });

  it('stopped: committed offsets with no member and growing lag turn STOPPED', () => {
    const views = replay('stopped');
    expect(views[0]![0]!.members).toBe(0);
    expect(views.slice(9).every((gs) => gs[0]!.status === 'STOPPED')).toBe(true);
  });

  it('rewinding: a caught-up group reset to offset 0 is REWINDING while the rewind is in the window', () => {
    const s = statuses('rewinding', 6);
    const first = s.indexOf('REWINDING');
    expect(s.slice(0, first).every((x) => x === 'OK')).toBe(true);
    expect(first).toBeGreaterThan(0);
    // The rewind leaves a 6-sample window after 6 samples; then the lag is judged on its trend.
    expect(s.slice(first, first + 5).every((x) => x === 'REWINDING')).toBe(true);
    expect(s.at(-1)).toBe('OK');
    const views = replay('rewinding', 6);
    expect(views[first - 1]![0]!.totalLag).toBe(0);
    expect(views[first]![0]!.totalLag).toBeGreaterThan(100);
  });

  it('growing lag: offsets advance, lag only grows: WARN once the window is full, lag in seconds grows', () => {
    const views = replay('growing-lag');
    const s = views.map((gs) => gs[0]!.status);
    expect(s.slice(9).every((x) => x === 'WARN')).toBe(true);
    const lags = views.map((gs) => gs[0]!.totalLag);
    expect(lags.at(-1)!).toBeGreaterThan(lags[0]! * 5);
    const secs = views.map((gs) => gs[0]!.maxLagSeconds!);
    expect(secs.at(-1)!).toBeGreaterThan(secs[1]!);
    expect(views.at(-1)![0]!.partitions[0]!.lagSecondsSource).toBe('record');
    expect(views.at(-1)![0]!.consumeRate!).toBeGreaterThan(0);
    expect(views.at(-1)![0]!.produceRate!).toBeGreaterThan(views.at(-1)![0]!.consumeRate!);
  });

  it('caught up: lag zero, OK throughout, lag in seconds 0', () => {
    const views = replay('caught-up');
    expect(
      views.every((gs) => gs[0]!.status === 'OK' && gs[0]!.totalLag === 0 && gs[0]!.maxLagSeconds === 0),
    ).toBe(true);
    expect(views.at(-1)![0]!.rateHistory.some((r) => r > 0)).toBe(true);
  });

  it('lag in seconds falls back to interpolating the log-end history when no record was read', () => {
    const polls = loadPolls('growing-lag').map((p) => ({ ...p, recordTimestamps: {} }));
    const tracker = new LagTracker({ windowSize: 10, historySize: 30 });
    const views = polls.map((p) => tracker.update(p));
    const last = views.at(-1)![0]!.partitions[0]!;
    expect(last.lagSecondsSource).toBe('interpolated');
    const recorded = replay('growing-lag').at(-1)![0]!.partitions[0]!.lagSeconds!;
    // Interpolated from 1 s samples: within a couple of samples of the record's own timestamp.
    expect(Math.abs(last.lagSeconds! - recorded)).toBeLessThan(2.5);
  });

  it('interpolateAppendTime: between the last sample at or below the offset and the first beyond it', () => {
    const hist = [
      { end: 10, firstSeen: 0, lastSeen: 1000 },
      { end: 20, firstSeen: 2000, lastSeen: 3000 },
    ];
    expect(interpolateAppendTime(hist, 14)).toBe(1500);
    expect(interpolateAppendTime(hist, 25)).toBeNull();
    expect(interpolateAppendTime(hist, 5)).toBeNull();
  });
});
