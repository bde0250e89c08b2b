import { UsageError } from '../errors/index.js';
import { dateOfEpochDay, epochDayOfDate, isCalendarDay } from '../values/index.js';

export { dayStartUs, partitionOfDay as partitionId } from '../values/index.js';

/** A strict UTC calendar day `YYYY-MM-DD` (2026-02-30 is rejected). */
export function parseDay(value: string, flag = '--date'): string {
  if (!isCalendarDay(value)) {
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
  for (let n = epochDayOfDate(start); ; n++) {
    const d = dateOfEpochDay(n);
    if (d > end) break;
    days.push(d);
    if (days.length > max)
      throw new UsageError(`--date ${start} --to ${end} spans more than ${max} days.`, {
        hint: 'Backfill in smaller ranges.',
      });
  }
  return days;
}
