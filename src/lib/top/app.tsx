import { render, useApp, useInput, useWindowSize } from 'ink';
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { SORT_KEYS } from './format.js';
import type { TopSample } from './types.js';
import { INITIAL_UI, TopScreen, visibleGroups, type UiState } from './views.js';

export interface SampleSource {
  sample(): Promise<TopSample>;
}

export interface TopAppProps {
  source: SampleSource;
  intervalMs: number;
  /** Fixed size for tests; otherwise the terminal's, following resizes. */
  size?: { columns: number; rows: number };
  /** Called when the user quits, before the app unmounts. */
  onQuit?: () => void;
}

/** The interactive screen: refreshes every `intervalMs` (one refresh at a time) and handles keys. */
export function TopApp({ source, intervalMs, size, onQuit }: TopAppProps): ReactNode {
  const { exit } = useApp();
  const terminal = useWindowSize();
  const [sample, setSample] = useState<TopSample | null>(null);
  const [ui, setUi] = useState<UiState>(INITIAL_UI);
  const paused = useRef(false);
  paused.current = ui.paused;

  useEffect(() => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const tick = async () => {
      const started = Date.now();
      if (!paused.current) {
        const s = await source.sample().catch(() => null);
        if (stopped) return;
        if (s && !paused.current) setSample(s);
      }
      // Every intervalMs from the start of the last refresh, never two at once.
      if (!stopped) timer = setTimeout(() => void tick(), Math.max(0, intervalMs - (Date.now() - started)));
    };
    void tick();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [source, intervalMs]);

  const move = useCallback(
    (delta: number) =>
      setUi((u) => {
        const groups = visibleGroups(sample, u);
        if (groups.length === 0) return u;
        const i = groups.findIndex((g) => g.groupId === u.selected);
        const next = i < 0 ? 0 : Math.min(groups.length - 1, Math.max(0, i + delta));
        return { ...u, selected: groups[next]!.groupId };
      }),
    [sample],
  );

  useInput((input, key) => {
    if (ui.filterEditing) {
      if (key.return) setUi((u) => ({ ...u, filterEditing: false }));
      else if (key.escape) setUi((u) => ({ ...u, filter: '', filterEditing: false }));
      else if (key.backspace || key.delete) setUi((u) => ({ ...u, filter: u.filter.slice(0, -1) }));
      else if (input && !key.ctrl && !key.meta) setUi((u) => ({ ...u, filter: u.filter + input }));
      return;
    }
    if (input === 'q' || (key.ctrl && input === 'c')) {
      onQuit?.();
      exit();
    } else if (key.upArrow || input === 'k') move(-1);
    else if (key.downArrow || input === 'j') move(1);
    else if (key.return) {
      setUi((u) => {
        const id = u.selected ?? visibleGroups(sample, u)[0]?.groupId;
        if (!id) return u;
        const expanded = new Set(u.expanded);
        if (expanded.has(id)) expanded.delete(id);
        else expanded.add(id);
        return { ...u, selected: id, expanded };
      });
    } else if (input === 's')
      setUi((u) => ({ ...u, sort: SORT_KEYS[(SORT_KEYS.indexOf(u.sort) + 1) % SORT_KEYS.length]! }));
    else if (input === '/') setUi((u) => ({ ...u, filterEditing: true }));
    else if (input === 'p') setUi((u) => ({ ...u, paused: !u.paused }));
    else if (key.escape) setUi((u) => ({ ...u, filter: '' }));
  });

  // Keep a selection once groups exist (the first row after sorting).
  useEffect(() => {
    const groups = visibleGroups(sample, ui);
    if (groups.length && !groups.some((g) => g.groupId === ui.selected))
      setUi((u) => ({ ...u, selected: groups[0]!.groupId }));
  }, [sample, ui]);

  const columns = size?.columns ?? terminal.columns;
  const rows = size?.rows ?? terminal.rows;
  return <TopScreen sample={sample} ui={ui} columns={columns} rows={rows} fill={!size} />;
}

/** Runs the screen on the terminal until `q`, Ctrl-C or `signal`; restores the terminal. */
export async function runInteractive(
  source: SampleSource,
  intervalMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const app = render(<TopApp source={source} intervalMs={intervalMs} />, {
    exitOnCtrlC: false,
    alternateScreen: true,
    // The command already checked stdin/stdout are terminals; Ink's own guess would turn a real
    // terminal into a single final frame whenever CI=true is in the environment.
    interactive: true,
  });
  const onAbort = () => app.unmount();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await app.waitUntilExit();
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
