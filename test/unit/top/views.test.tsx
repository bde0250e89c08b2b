import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup } from 'ink-testing-library';
import { TopApp } from '../../../src/lib/top/app.js';
import { plainText } from '../../../src/lib/top/format.js';
import type { TopSample } from '../../../src/lib/top/types.js';
import { INITIAL_UI, TopScreen, type UiState } from '../../../src/lib/top/views.js';
import { kafkaDownSample, samples } from '../../fixtures/top/load.js';

afterEach(() => cleanup());

const ESC = '\u001B';
const DOWN = `${ESC}[B`;
const UP = `${ESC}[A`;
const ENTER = '\r';

function screen(sample: TopSample | null, ui: Partial<UiState> = {}, columns = 120, rows = 40): string {
  const { lastFrame } = render(
    <TopScreen sample={sample} ui={{ ...INITIAL_UI, ...ui }} columns={columns} rows={rows} />,
  );
  return lastFrame() ?? '';
}

/** The line of the group table that names `group`. */
function rowOf(frame: string, group: string): string {
  const line = frame.split('\n').find((l) => l.includes(group));
  if (!line) throw new Error(`no row for ${group} in:\n${frame}`);
  return line;
}

async function waitFor(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A sample source replaying recorded samples, then repeating the last one. */
function replaySource(list: TopSample[]) {
  let i = 0;
  return { calls: () => i, sample: async () => list[Math.min(i++, list.length - 1)]! };
}

describe('TopScreen on recorded samples', () => {
  const all = samples({ connect: 'ok', stream: 'ok' });
  const last = all.at(-1)!;

  it('shows each group with its status: stalled, stopped, rewinding, growing lag, caught up', () => {
    const frame = screen(last);
    expect(rowOf(frame, 'stalled-group')).toContain('STALLED');
    expect(rowOf(frame, 'stopped-group')).toContain('STOPPED');
    expect(rowOf(frame, 'growing-lag-group')).toContain('WARN');
    expect(rowOf(frame, 'caught-up-group')).toContain('OK');
    expect(frame).toContain('GROUP');
    expect(frame).toContain('LAG-TIME');
  });

  it('shows REWINDING right after the reset and the lag jump', () => {
    const i = all.findIndex(
      (s) =>
        s.kafka.ok && s.kafka.groups.find((g) => g.groupId === 'rewinding-group')!.status === 'REWINDING',
    );
    expect(i).toBeGreaterThan(0);
    expect(rowOf(screen(all[i - 1]!), 'rewinding-group')).toMatch(/OK\s+0\s/);
    expect(rowOf(screen(all[i]!), 'rewinding-group')).toContain('REWINDING');
  });

  it('sorts by status by default: the worst first, caught-up last', () => {
    const lines = screen(last).split('\n');
    const pos = (g: string) => lines.findIndex((l) => l.includes(g));
    expect(pos('stalled-group')).toBeLessThan(pos('caught-up-group'));
    expect(pos('rewinding-group')).toBeLessThan(pos('growing-lag-group'));
  });

  it('expanding a group lists its partitions with offsets, lag and owner', () => {
    const frame = screen(last, { selected: 'growing-lag-group', expanded: new Set(['growing-lag-group']) });
    const g = last.kafka.ok ? last.kafka.groups.find((x) => x.groupId === 'growing-lag-group')! : undefined;
    const p = g!.partitions[0]!;
    const line = rowOf(frame, 'shop.public.growing-lag[0]');
    expect(line).toContain(String(p.committed));
    expect(line).toContain(String(p.end));
    expect(line).toContain('WARN');
    expect(frame).toMatch(/WARN: .*lag did not decrease/);
  });

  it('shows connectors with task states and the stream panel', () => {
    const frame = screen(last);
    expect(rowOf(frame, 'shop-postgres')).toContain('RUNNING');
    expect(rowOf(frame, 'shop-mongo')).toMatch(/0:FAILED/);
    expect(frame).toMatch(/STREAM freshness \d+s · latency 2s · inserts 120\/s/);
  });

  it('shows the ops.loads panel, or a banner when ClickHouse is down', () => {
    expect(screen(samples({ warehouse: 'ok' }).at(-1)!)).toMatch(
      /OPS\.LOADS freshness \d+s · inserts 95\/s \(60 s\) · last load 1s ago · last backfill 2h\S* ago \(through 2026-11-23\)/,
    );
    expect(screen(samples({ warehouse: 'down' }).at(-1)!)).toContain(
      '⚠ ClickHouse unreachable at http://127.0.0.1:18123',
    );
  });

  it('degrades with banners: Kafka down, Connect down, stream down', () => {
    const down = screen(kafkaDownSample());
    expect(down).toContain('⚠ Kafka unreachable at 127.0.0.1:19092');
    expect(down).toContain('⚠ Kafka Connect unreachable');
    expect(down).toContain('no data');
    const partial = screen(samples({ connect: 'down', stream: 'down' }).at(-1)!);
    expect(partial).toContain('⚠ Kafka Connect unreachable');
    expect(partial).toContain('⚠ stream metrics unreachable');
    expect(rowOf(partial, 'stalled-group')).toContain('STALLED'); // Kafka data still shown
  });

  it('fits narrow and short terminals: no line wider than the terminal, height within rows', () => {
    for (const [columns, rows] of [
      [60, 12],
      [80, 24],
      [160, 50],
    ] as const) {
      const frame = screen(
        last,
        { expanded: new Set(['stalled-group', 'stopped-group']), selected: 'stopped-group' },
        columns,
        rows,
      );
      const lines = frame.split('\n');
      expect(lines.length).toBeLessThanOrEqual(rows);
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(columns);
      expect(frame).toContain('q quit');
      expect(frame).toContain('stopped-group'); // the selected row stays visible
    }
  });

  it('plain text (no TTY) has one row per partition with kafka-consumer-groups columns', () => {
    const text = plainText(last);
    expect(text).toMatch(/GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG/);
    expect(text).toMatch(/stalled-group\s+shop\.public\.stalled\s+0\s+5\s+\d+\s+\d+/);
    expect(text).toContain('shop-mongo');
  });
});

describe('TopApp keys', () => {
  const all = samples({ connect: 'ok' });

  it('j/k and arrows move the selection; enter expands and collapses', async () => {
    const src = replaySource([all.at(-1)!]);
    const app = render(<TopApp source={src} intervalMs={60_000} size={{ columns: 120, rows: 40 }} />);
    await waitFor(() => (app.lastFrame() ?? '').includes('stalled-group'), 'first sample');
    const selected = () => (app.lastFrame() ?? '').split('\n').find((l) => l.startsWith('>')) ?? '';
    await waitFor(() => selected() !== '', 'a selection');
    const first = selected();
    app.stdin.write('j');
    await waitFor(() => selected() !== first, 'j to move');
    const second = selected();
    app.stdin.write(DOWN);
    await waitFor(() => selected() !== second, 'down to move');
    app.stdin.write(UP);
    await waitFor(() => selected() === second, 'up to move back');
    app.stdin.write('k');
    await waitFor(() => selected() === first, 'k to move back');
    app.stdin.write(ENTER);
    await waitFor(() => (app.lastFrame() ?? '').includes('TOPIC[PARTITION]'), 'enter to expand');
    app.stdin.write(ENTER);
    await waitFor(() => !(app.lastFrame() ?? '').includes('TOPIC[PARTITION]'), 'enter to collapse');
  });

  it('s cycles the sort; / filters; esc clears the filter', async () => {
    const app = render(
      <TopApp source={replaySource([all.at(-1)!])} intervalMs={60_000} size={{ columns: 120, rows: 40 }} />,
    );
    await waitFor(() => (app.lastFrame() ?? '').includes('sort status'), 'first sample');
    app.stdin.write('s');
    await waitFor(() => (app.lastFrame() ?? '').includes('sort lag'), 'sort by lag');
    app.stdin.write('/');
    await waitFor(() => (app.lastFrame() ?? '').includes('filter:'), 'filter prompt');
    for (const ch of 'rewind') app.stdin.write(ch);
    app.stdin.write(ENTER);
    await waitFor(() => (app.lastFrame() ?? '').includes('filter "rewind"'), 'filter applied');
    const frame = app.lastFrame() ?? '';
    expect(frame).toContain('rewinding-group');
    expect(frame).not.toContain('stalled-group');
    app.stdin.write(ESC);
    await waitFor(() => (app.lastFrame() ?? '').includes('stalled-group'), 'filter cleared');
  });

  it('p pauses refreshing and resumes it', async () => {
    const src = replaySource(all);
    const app = render(<TopApp source={src} intervalMs={20} size={{ columns: 120, rows: 40 }} />);
    await waitFor(() => src.calls() >= 2, 'refreshes');
    app.stdin.write('p');
    await waitFor(() => (app.lastFrame() ?? '').includes('[PAUSED]'), 'paused banner');
    const frozen = app.lastFrame();
    const calls = src.calls();
    await new Promise((r) => setTimeout(r, 150));
    expect(src.calls()).toBe(calls);
    expect(app.lastFrame()).toBe(frozen);
    app.stdin.write('p');
    await waitFor(() => src.calls() > calls, 'refresh after resume');
  });

  it('q quits; other keys after it do nothing', async () => {
    let quits = 0;
    const app = render(
      <TopApp
        source={replaySource([all.at(-1)!])}
        intervalMs={60_000}
        size={{ columns: 100, rows: 30 }}
        onQuit={() => quits++}
      />,
    );
    await waitFor(() => (app.lastFrame() ?? '').includes('q quit'), 'first frame');
    app.stdin.write('q');
    await waitFor(() => quits === 1, 'q to quit');
    const frame = app.lastFrame();
    app.stdin.write('j');
    await new Promise((r) => setTimeout(r, 50));
    expect(app.lastFrame()).toBe(frame);
  });
});
