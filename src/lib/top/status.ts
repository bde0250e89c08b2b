import type { LagStatus } from './types.js';

/**
 * Burrow's consumer lag evaluation rules (github.com/linkedin/Burrow/wiki/Consumer-Lag-Evaluation-Rules),
 * without fixed lag thresholds. Burrow keeps a window of the last N offset commits; we cannot see
 * commits, only what each refresh reads. So the lag rules (zero lag, rewind, lag not decreasing)
 * run over the last N samples, and the timing rule over the last N observed offset changes (a
 * "commit" is the sample at which the committed offset was first seen to move), which keeps
 * Burrow's property that the scale is the consumer's own commit rhythm, not a threshold. Burrow cannot tell a live
 * consumer that commits the same offset (STALLED) from one that commits nothing (STOPPED) other
 * than by commit timestamps; we use group membership instead: a partition whose owner is a live
 * group member is STALLED, one with no owner is STOPPED.
 */
export interface WindowEntry {
  /** Epoch ms of the sample. */
  at: number;
  offset: number;
  lag: number;
}

export interface StatusInput {
  /** Oldest first; at most the window size. */
  window: readonly WindowEntry[];
  windowSize: number;
  /**
   * Sample times at which the committed offset was seen to change (the first observation counts),
   * oldest first, at most the window size.
   */
  changeTimes: readonly number[];
  /** Lag now (the last entry's lag when sampled now). */
  currentLag: number;
  now: number;
  /** A live group member owns this partition. */
  hasLiveOwner: boolean;
  /** Membership could not be read (a consumer-protocol group): STOPPED means "no progress". */
  membersUnknown?: boolean;
}

export interface StatusResult {
  status: LagStatus;
  reason: string;
}

/** Evaluation order = severity, as in Burrow: the first rule that matches wins. */
export function evaluatePartition(input: StatusInput): StatusResult {
  const { window, windowSize, changeTimes, currentLag, now, hasLiveOwner } = input;
  if (currentLag <= 0) return { status: 'OK', reason: 'caught up' };

  // Rule 2 (checked first since Burrow PR #716): the committed offset went backwards (a reset, or a
  // consumer restarting from earliest). It counts even when lag was zero before the rewind, until
  // the lag has been zero again after it.
  for (let i = window.length - 1; i >= 1; i--) {
    if (window[i]!.offset < window[i - 1]!.offset) {
      if (window.slice(i).some((e) => e.lag <= 0)) break;
      return {
        status: 'REWINDING',
        reason: `offset went back from ${window[i - 1]!.offset} to ${window[i]!.offset}`,
      };
    }
  }

  // Rule 1: lag was zero at some point of the window: the consumer keeps up.
  if (window.some((e) => e.lag <= 0)) return { status: 'OK', reason: 'lag was zero within the window' };

  // The remaining rules judge progress over time; they need a full window, like Burrow's
  // "complete" evaluation, so a fresh start does not flag a consumer between two commits.
  if (window.length < windowSize)
    return { status: 'OK', reason: `window filling (${window.length}/${windowSize})` };

  // Rule 3 (Burrow: stopped) and rule 4 (stalled): time since the last offset change exceeds the
  // span between the first and the last of the recent changes; the consumer's own rhythm sets the
  // scale. An offset unchanged across the whole window (rule 4) always meets this.
  const first = changeTimes[0] ?? window[0]!.at;
  const last = changeTimes[changeTimes.length - 1] ?? window[0]!.at;
  const sinceLast = now - last;
  if (sinceLast > last - first) {
    const secs = Math.round(sinceLast / 1000);
    return hasLiveOwner
      ? {
          status: 'STALLED',
          reason: `owner is a live member but the offset has not moved for ${secs}s with lag`,
        }
      : {
          status: 'STOPPED',
          reason: `no live member owns the partition and the offset has not moved for ${secs}s`,
        };
  }

  // Rule 5 (Burrow: warning): the consumer advances but the lag never goes down.
  let decreased = false;
  for (let i = 1; i < window.length; i++) if (window[i]!.lag < window[i - 1]!.lag) decreased = true;
  if (!decreased) return { status: 'WARN', reason: 'consuming, but lag did not decrease across the window' };

  return { status: 'OK', reason: 'lag is going down' };
}

/** Severity order for a group's status: the worst partition wins (REWINDING first, as in Burrow). */
const SEVERITY: Record<LagStatus, number> = { REWINDING: 4, STOPPED: 3, STALLED: 2, WARN: 1, OK: 0 };

export function worstStatus(statuses: Iterable<LagStatus>): LagStatus {
  let worst: LagStatus = 'OK';
  for (const s of statuses) if (SEVERITY[s] > SEVERITY[worst]) worst = s;
  return worst;
}

export function statusSeverity(s: LagStatus): number {
  return SEVERITY[s];
}
