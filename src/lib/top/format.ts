import { renderTable } from '../table/index.js';
import { statusSeverity } from './status.js';
import type { LakeView, GroupView, OpsLoadsView, TopSample } from './types.js';

/** Shared by the Ink views and the plain-text output; no React here, so non-TTY runs stay light. */

const BARS = '▁▂▃▄▅▆▇█';

/** The last `width` values as block characters scaled to their max (all zero: a flat line). */
export function sparkline(values: readonly number[], width: number): string {
  const tail = values.slice(-width);
  const max = Math.max(0, ...tail);
  const line = tail
    .map((v) =>
      max <= 0 ? BARS[0]! : BARS[Math.min(BARS.length - 1, Math.round((v / max) * (BARS.length - 1)))]!,
    )
    .join('');
  return line.padStart(width, ' ');
}

export function fmtCount(n: number | null): string {
  if (n === null) return '-';
  if (Math.abs(n) < 10_000) return String(Math.round(n));
  if (Math.abs(n) < 1_000_000) return `${(n / 1000).toFixed(Math.abs(n) < 100_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

export function fmtRate(n: number | null): string {
  if (n === null) return '-';
  if (n === 0) return '0';
  if (n < 10) return n.toFixed(1);
  return fmtCount(n);
}

export function fmtDuration(secs: number | null): string {
  if (secs === null) return '-';
  const s = Math.round(secs);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}

/** Cuts to `width` columns with an ellipsis, or pads to it. */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  const t = text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
  return align === 'left' ? t.padEnd(width) : t.padStart(width);
}

/** Like `fit`, but keeps the end (a topic's table name and partition) and cuts the start. */
export function fitTail(text: string, width: number): string {
  if (width <= 0) return '';
  return (text.length > width ? `…${text.slice(text.length - width + 1)}` : text).padEnd(width);
}

export const SORT_KEYS = ['status', 'lag', 'lag-time', 'rate', 'name'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export function sortGroups(groups: readonly GroupView[], key: SortKey): GroupView[] {
  const byName = (a: GroupView, b: GroupView) => a.groupId.localeCompare(b.groupId);
  const cmp: Record<SortKey, (a: GroupView, b: GroupView) => number> = {
    status: (a, b) =>
      statusSeverity(b.status) - statusSeverity(a.status) || b.totalLag - a.totalLag || byName(a, b),
    lag: (a, b) => b.totalLag - a.totalLag || byName(a, b),
    'lag-time': (a, b) => (b.maxLagSeconds ?? -1) - (a.maxLagSeconds ?? -1) || byName(a, b),
    rate: (a, b) => (b.consumeRate ?? -1) - (a.consumeRate ?? -1) || byName(a, b),
    name: byName,
  };
  return [...groups].sort(cmp[key]);
}

/** Case-insensitive substring match on the group id and its topics. */
export function filterGroups(groups: readonly GroupView[], text: string): GroupView[] {
  const q = text.trim().toLowerCase();
  if (!q) return [...groups];
  return groups.filter(
    (g) => g.groupId.toLowerCase().includes(q) || g.partitions.some((p) => p.topic.toLowerCase().includes(q)),
  );
}

/** The sample as a plain table, for pipes and logs (stdout not a TTY, no --json). */
export function plainText(sample: TopSample): string {
  const lines: string[] = [`shopdata top  ${sample.takenAt}  window ${sample.windowSize} samples`];
  if (!sample.kafka.ok) lines.push(`! ${sample.kafka.error}`);
  if (!sample.connect.ok && sample.connect.configured) lines.push(`! ${sample.connect.error}`);
  if (!sample.stream.ok && sample.stream.configured) lines.push(`! ${sample.stream.error}`);
  if (!sample.warehouse.ok && sample.warehouse.configured) lines.push(`! ${sample.warehouse.error}`);
  if (sample.lake && !sample.lake.ok) lines.push(`! ${sample.lake.error}`);
  if (sample.kafka.ok) {
    const rows: string[][] = [
      [
        'GROUP',
        'TOPIC',
        'PARTITION',
        'CURRENT-OFFSET',
        'LOG-END-OFFSET',
        'LAG',
        'LAG-SECONDS',
        'STATUS',
        'STATE',
      ],
    ];
    for (const g of sample.kafka.groups) {
      for (const p of g.partitions) {
        rows.push([
          g.groupId,
          p.topic,
          String(p.partition),
          p.committed === null ? '-' : String(p.committed),
          p.end === null ? '-' : String(p.end),
          p.lag === null ? '-' : String(p.lag),
          p.lagSeconds === null ? '-' : p.lagSeconds.toFixed(1),
          p.status,
          g.state,
        ]);
      }
      if (g.partitions.length === 0) rows.push([g.groupId, '-', '-', '-', '-', '-', '-', g.status, g.state]);
    }
    lines.push('', ...table(rows));
  }
  if (sample.connect.ok) {
    const rows = [['CONNECTOR', 'TYPE', 'STATE', 'TASKS']];
    for (const c of sample.connect.connectors)
      rows.push([c.name, c.type, c.state, c.tasks.map((t) => `${t.id}:${t.state}`).join(' ') || '-']);
    lines.push('', ...(sample.connect.connectors.length ? table(rows) : ['no connectors']));
  }
  if (sample.stream.ok) {
    lines.push(
      '',
      `stream freshness ${fmtDuration(sample.stream.freshnessSeconds)}  latency ${fmtDuration(sample.stream.latencySeconds)}  inserts ${fmtRate(sample.stream.insertRate)}/s`,
    );
  }
  if (sample.warehouse.ok) {
    const w = sample.warehouse;
    lines.push(
      '',
      `ops.loads freshness ${fmtDuration(w.freshnessSeconds)}  inserts ${fmtRate(w.insertRate)}/s (60 s)  last load ${w.lastLoadAgeSeconds === null ? 'none' : `${fmtDuration(w.lastLoadAgeSeconds)} ago`}  ${backfillText(w)}`,
    );
  }
  if (sample.lake?.ok) lines.push('', lakeText(sample.lake));
  return lines.join('\n');
}

/** The lake line: how old the tables' snapshots are and how far archive is behind Kafka. */
export function lakeText(l: LakeView): string {
  if (l.tables === 0) return `lake ${l.lake}: no tables`;
  const commits =
    l.newestCommitSeconds === null
      ? 'no Iceberg snapshot'
      : `newest commit ${fmtDuration(l.newestCommitSeconds)} ago, oldest ${fmtDuration(l.oldestCommitSeconds)} ago (${l.oldestTable})`;
  const lag = l.lag === null ? '' : `  lag ${l.lag} messages / ${fmtDuration(l.lagSeconds)}`;
  return `lake ${l.lake}: ${l.tables} tables, ${commits}${lag}`;
}

/** The last backfill, from ops.loads: how long ago and through which day. */
export function backfillText(w: OpsLoadsView): string {
  if (w.lastBackfillAgeSeconds === null) return 'last backfill none (7 d)';
  return `last backfill ${fmtDuration(w.lastBackfillAgeSeconds)} ago (through ${w.backfilledThrough ?? '?'})`;
}

function table(rows: string[][]): string[] {
  return renderTable(rows[0]!, rows.slice(1));
}
