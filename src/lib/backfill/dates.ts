import { UsageError } from '../errors/index.js';

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

/** A strict UTC calendar day `YYYY-MM-DD` (2026-02-30 is rejected). */
export function parseDay(value: string, flag = '--date'): string {
  const ok = DAY_RE.test(value) && new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) === value;
  if (!ok) {
    throw new UsageError(`${flag} "${value}" is not a calendar day in the form YYYY-MM-DD.`, {
      hint: `Pass a UTC day such as ${flag} 2026-11-24.`,
    });
  }
  return value;
}

/** Every day from `from` to `to` inclusive (at most `max`). */
export function dayRange(from: string, to: string | undefined, max = 366): string[] {
  const start = parseDay(from, '--date');
  const end = to === undefined ? start : parseDay(to, '--to');
  if (end < start)
    throw new UsageError(`--to ${end} is before --date ${start}.`, {
      hint: 'Give the first day with --date and the last with --to.',
    });
  const days: string[] = [];
  for (let t = Date.parse(`${start}T00:00:00Z`); ; t += 86_400_000) {
    const d = new Date(t).toISOString().slice(0, 10);
    if (d > end) break;
    days.push(d);
    if (days.length > max)
      throw new UsageError(`--date ${start} --to ${end} spans more than ${max} days.`, {
        hint: 'Backfill in smaller ranges.',
      });
  }
  return days;
}

/** 2026-11-24 → 20261124 (the satellites' partition id, toYYYYMMDD). */
export function partitionId(day: string): number {
  return Number(day.replaceAll('-', ''));
}

export function dayStartUs(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) * 1000;
}
