import { Box, Text } from 'ink';
import { Fragment, type ReactNode } from 'react';
import {
  backfillText,
  filterGroups,
  fit,
  fitTail,
  fmtCount,
  fmtDuration,
  fmtRate,
  lakeText,
  sortGroups,
  sparkline,
  type SortKey,
} from './format.js';
import type { GroupView, LagStatus, PartitionView, TopSample } from './types.js';

export interface UiState {
  /** groupId of the selected row. */
  selected: string | null;
  expanded: ReadonlySet<string>;
  sort: SortKey;
  filter: string;
  /** Typing a filter after `/`. */
  filterEditing: boolean;
  paused: boolean;
}

export const INITIAL_UI: UiState = {
  selected: null,
  expanded: new Set(),
  sort: 'status',
  filter: '',
  filterEditing: false,
  paused: false,
};

const STATUS_COLOR: Record<LagStatus, string> = {
  OK: 'green',
  WARN: 'yellow',
  STALLED: 'red',
  STOPPED: 'red',
  REWINDING: 'magenta',
};

/** Groups in display order: filtered, then sorted. */
export function visibleGroups(sample: TopSample | null, ui: Pick<UiState, 'sort' | 'filter'>): GroupView[] {
  if (!sample?.kafka.ok) return [];
  return sortGroups(filterGroups(sample.kafka.groups, ui.filter), ui.sort);
}

interface Layout {
  name: number;
  spark: number;
  state: boolean;
}

function layout(columns: number): Layout {
  const spark = columns >= 100 ? 16 : columns >= 84 ? 8 : 0;
  const state = columns >= 72;
  // marker, status, lag, lag-time, rate, members, separators
  const fixed = 2 + 10 + 9 + 9 + 8 + 4 + (spark ? spark + 1 : 0) + (state ? 12 : 0);
  return { name: Math.max(8, columns - fixed), spark, state };
}

/** One terminal line per element: everything is truncated, so the height is a plain count. */
type Line = { key: string; node: ReactNode };

// Each line is a few pre-joined strings: fewer text nodes make Ink's layout cheaper per refresh.
function groupLine(g: GroupView, selected: boolean, expanded: boolean, lay: Layout): Line {
  const marker = selected ? '>' : ' ';
  const caret = g.partitions.length ? (expanded ? '▾' : '▸') : ' ';
  const left = `${marker}${caret}${fit(g.groupId, lay.name - 1)} `;
  const right =
    `${fit(fmtCount(g.totalLag), 8, 'right')} ${fit(fmtDuration(g.maxLagSeconds), 8, 'right')} ${fit(fmtRate(g.consumeRate), 7, 'right')}` +
    `${lay.spark ? ` ${sparkline(g.rateHistory, lay.spark)}` : ''} ${fit(String(g.members), 3, 'right')}${lay.state ? ` ${fit(g.state, 11)}` : ''}`;
  return {
    key: `g:${g.groupId}`,
    node: (
      <Text wrap="truncate-end" inverse={selected}>
        {left}
        <Text color={STATUS_COLOR[g.status]}>{fit(g.status, 9)}</Text>
        {right}
      </Text>
    ),
  };
}

function partitionLines(g: GroupView, columns: number): Line[] {
  const nameW = Math.max(10, Math.min(40, columns - 70));
  const head: Line = {
    key: `ph:${g.groupId}`,
    node: (
      <Text wrap="truncate-end" dimColor>
        {`    ${fit('TOPIC[PARTITION]', nameW)} ${fit('COMMITTED', 10, 'right')} ${fit('END', 10, 'right')} ${fit('LAG', 8, 'right')} ` +
          `${fit('LAG-TIME', 8, 'right')} ${fit('RATE/s', 7, 'right')} ${fit('STATUS', 9)} OWNER`}
      </Text>
    ),
  };
  const rows = g.partitions.map((p: PartitionView) => {
    const left =
      `    ${fitTail(`${p.topic}[${p.partition}]`, nameW)} ${fit(p.committed === null ? '-' : String(p.committed), 10, 'right')} ` +
      `${fit(p.end === null ? '-' : String(p.end), 10, 'right')} ${fit(fmtCount(p.lag), 8, 'right')} ` +
      `${fit(`${fmtDuration(p.lagSeconds)}${p.lagSecondsSource === 'interpolated' ? '~' : ''}`, 8, 'right')} ${fit(fmtRate(p.consumeRate), 7, 'right')} `;
    return {
      key: `p:${g.groupId}:${p.topic}:${p.partition}`,
      node: (
        <Text wrap="truncate-end">
          {left}
          <Text color={STATUS_COLOR[p.status]}>{fit(p.status, 9)}</Text>
          {p.owner ? ` ${p.owner.clientId}@${p.owner.host}` : ' -'}
        </Text>
      ),
    };
  });
  const reason: Line = {
    key: `pr:${g.groupId}`,
    node: (
      <Text wrap="truncate-end" dimColor>
        {`    ${g.status}: ${g.reason} · lag ${sparkline(g.lagHistory, 20).trim() || '-'} · window ${Math.round(g.windowFill * 100)}%`}
      </Text>
    ),
  };
  return [head, ...rows, reason];
}

export interface TopScreenProps {
  sample: TopSample | null;
  ui: UiState;
  columns: number;
  rows: number;
  /**
   * Take the terminal's width for the outer box instead of `columns`. On a resize, Ink lays out
   * the previous tree at the new width before React sees the new size; a fixed width wider than
   * the terminal would wrap there and leave debris, "100%" is truncated instead.
   */
  fill?: boolean;
}

/** The whole screen, sized to `columns` × `rows`; a pure function of its props. */
export function TopScreen({ sample, ui, columns, rows, fill }: TopScreenProps): ReactNode {
  const width = Math.max(40, columns);
  const lay = layout(width);
  const groups = visibleGroups(sample, ui);
  const banners = bannerLines(sample);
  const bottom = [...connectorLines(sample, width, rows), ...loadLines(sample)];
  const fixedLines = 1 + banners.length + 1 + bottom.length + 1;
  const shown = groupSection(sample, ui, groups, lay, width, Math.max(1, rows - fixedLines));
  const lines = [
    headerLine(sample, ui, groups.length),
    ...banners,
    tableHeadLine(lay),
    ...shown,
    ...bottom,
    footerLine(ui, width),
  ];
  return (
    <Box flexDirection="column" width={fill ? '100%' : width} overflow="hidden">
      {lines.map((l) => (
        <Fragment key={l.key}>{l.node}</Fragment>
      ))}
    </Box>
  );
}

/** A red line per source that is configured and failing. */
function bannerLines(sample: TopSample | null): Line[] {
  const banners: Line[] = [];
  if (sample && !sample.kafka.ok)
    banners.push(banner('kafka', `${sample.kafka.error} — retrying every ${sample.intervalSeconds}s`));
  if (sample && !sample.connect.ok && sample.connect.configured)
    banners.push(banner('connect', `${sample.connect.error} — connector states unknown`));
  if (sample && !sample.stream.ok && sample.stream.configured)
    banners.push(banner('stream', `${sample.stream.error} — freshness unknown`));
  if (sample && !sample.warehouse.ok && sample.warehouse.configured)
    banners.push(banner('warehouse', `${sample.warehouse.error} — ops.loads unknown`));
  if (sample?.lake && !sample.lake.ok)
    banners.push(banner('lake', `${sample.lake.error} — lake freshness unknown`));
  return banners;
}

function headerLine(sample: TopSample | null, ui: UiState, groupCount: number): Line {
  return {
    key: 'header',
    node: (
      <Text wrap="truncate-end" bold>
        shopdata top{' '}
        <Text dimColor>
          · {sample?.kafka.ok ? `${groupCount} groups` : 'no data'} · every {sample?.intervalSeconds ?? '?'}s
          · window {sample?.windowSize ?? '?'} · sort {ui.sort}
          {ui.filter ? ` · filter "${ui.filter}"` : ''} ·{' '}
          {sample ? sample.takenAt.slice(11, 19) : 'sampling…'}
        </Text>
        {ui.paused ? <Text color="yellow"> [PAUSED]</Text> : ''}
      </Text>
    ),
  };
}

function tableHeadLine(lay: ReturnType<typeof layout>): Line {
  return {
    key: 'thead',
    node: (
      <Text wrap="truncate-end" dimColor>
        {'  '}
        {fit('GROUP', lay.name - 1)} {fit('STATUS', 9)}
        {fit('LAG', 8, 'right')} {fit('LAG-TIME', 8, 'right')} {fit('RATE/s', 7, 'right')}
        {lay.spark ? ` ${fit('THROUGHPUT', lay.spark)}` : ''} {fit('MEM', 3, 'right')}
        {lay.state ? ` ${fit('STATE', 11)}` : ''}
      </Text>
    ),
  };
}

/** Connectors with their task states, at most a fifth of the screen. */
function connectorLines(sample: TopSample | null, width: number, rows: number): Line[] {
  if (!sample?.connect.ok) return [];
  const cs = sample.connect.connectors;
  const out: Line[] = [
    {
      key: 'chead',
      node: (
        <Text wrap="truncate-end" dimColor>
          CONNECTORS {cs.length === 0 ? '(none)' : ''}
        </Text>
      ),
    },
  ];
  const maxConn = Math.max(1, Math.min(cs.length, Math.floor(rows / 5)));
  for (const c of cs.slice(0, maxConn)) {
    const traced = c.tasks.find((t) => t.trace);
    out.push({
      key: `c:${c.name}`,
      node: (
        <Text wrap="truncate-end">
          {'  '}
          {fit(c.name, Math.min(32, Math.max(12, width - 50)))}{' '}
          <Text color={stateColor(c.state)}>{fit(c.state, 10)}</Text>
          {c.tasks.map((t) => (
            <Text key={t.id} color={stateColor(t.state)}>
              {' '}
              {t.id}:{t.state}
            </Text>
          ))}
          {traced ? <Text dimColor> {traced.trace}</Text> : ''}
        </Text>
      ),
    });
  }
  if (cs.length > maxConn)
    out.push({ key: 'cmore', node: <Text dimColor> … {cs.length - maxConn} more</Text> });
  return out;
}

/** The stream's /metrics and the warehouse's ops.loads, one line each. */
function loadLines(sample: TopSample | null): Line[] {
  const out: Line[] = [];
  if (sample?.stream.ok) {
    const s = sample.stream;
    out.push({
      key: 'stream',
      node: (
        <Text wrap="truncate-end">
          <Text dimColor>STREAM </Text>freshness {fmtDuration(s.freshnessSeconds)} · latency{' '}
          {fmtDuration(s.latencySeconds)} · inserts {fmtRate(s.insertRate)}/s · total{' '}
          {fmtCount(s.insertedTotal)}
        </Text>
      ),
    });
  }
  if (sample?.warehouse.ok) {
    const w = sample.warehouse;
    out.push({
      key: 'ops',
      node: (
        <Text wrap="truncate-end">
          <Text dimColor>OPS.LOADS </Text>
          {`freshness ${fmtDuration(w.freshnessSeconds)} · inserts ${fmtRate(w.insertRate)}/s (60 s) · last load ${w.lastLoadAgeSeconds === null ? 'none' : `${fmtDuration(w.lastLoadAgeSeconds)} ago`} · ${backfillText(w)}`}
        </Text>
      ),
    });
  }
  if (sample?.lake?.ok) {
    out.push({
      key: 'lake',
      node: (
        <Text wrap="truncate-end">
          <Text dimColor>LAKE </Text>
          {lakeText(sample.lake).replace(/^lake /, '')}
        </Text>
      ),
    });
  }
  return out;
}

function footerLine(ui: UiState, width: number): Line {
  return {
    key: 'footer',
    node: ui.filterEditing ? (
      <Text wrap="truncate-end">
        filter: <Text color="cyan">{ui.filter}</Text>
        <Text inverse> </Text> <Text dimColor>(enter to keep, esc to clear)</Text>
      </Text>
    ) : (
      <Text wrap="truncate-end" dimColor>
        {width < 76
          ? '↑↓jk · ⏎ expand · s sort · / filter · p '
          : '↑↓/jk select · enter expand · s sort · / filter · p '}
        {ui.paused ? 'resume' : 'pause'} · q quit
      </Text>
    ),
  };
}

/** The groups (and expanded partitions) in `room` lines, scrolled so the selected row stays visible. */
function groupSection(
  sample: TopSample | null,
  ui: UiState,
  groups: GroupView[],
  lay: ReturnType<typeof layout>,
  width: number,
  room: number,
): Line[] {
  const body: Line[] = [];
  let selectedLine = 0;
  for (const g of groups) {
    const isSel = g.groupId === ui.selected;
    if (isSel) selectedLine = body.length;
    const expanded = ui.expanded.has(g.groupId);
    body.push(groupLine(g, isSel, expanded, lay));
    if (expanded) body.push(...partitionLines(g, width));
  }
  if (sample?.kafka.ok && groups.length === 0) {
    body.push({
      key: 'empty',
      node: (
        <Text dimColor>
          {' '}
          {ui.filter ? `no group matches "${ui.filter}"` : 'no consumer groups with committed offsets'}
        </Text>
      ),
    });
  }
  if (!sample) body.push({ key: 'wait', node: <Text dimColor> reading Kafka…</Text> });
  let start = 0;
  if (body.length > room)
    start = Math.min(Math.max(0, selectedLine - Math.floor(room / 3)), body.length - room);
  return body.slice(start, start + room);
}

function banner(key: string, text: string): Line {
  return {
    key: `banner:${key}`,
    node: (
      <Text wrap="truncate-end" backgroundColor="red" color="white" bold>
        {' '}
        ⚠ {text}{' '}
      </Text>
    ),
  };
}

function stateColor(state: string): string {
  if (state === 'RUNNING') return 'green';
  if (state === 'FAILED') return 'red';
  if (state === 'PAUSED' || state === 'STOPPED') return 'yellow';
  return 'gray';
}
