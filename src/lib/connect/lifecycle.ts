import { UsageError } from '../errors/index.js';
import type { ConnectClient } from './client.js';
import type { Masker } from './mask.js';
import { summarize, waitForState, combineFailures } from './operations.js';
import { runGroups, type ProgressOptions } from './progress.js';

/** Existing connectors among NAMEs; a missing one is a usage error (nothing was changed). */
export async function requireConnectors(client: ConnectClient, names: string[]): Promise<void> {
  if (names.length === 0)
    throw new UsageError('Name at least one connector.', {
      hint: 'See `shopdata connectors status` for the names.',
    });
  const existing = await client.listConnectors();
  const missing = names.filter((n) => !existing.includes(n));
  if (missing.length > 0) {
    throw new UsageError(
      `No connector named ${missing.join(', ')} on ${client.displayUrl}; nothing was changed.`,
      {
        hint:
          existing.length > 0
            ? `Connectors there: ${existing.sort().join(', ')}.`
            : 'There are no connectors; create them with `shopdata connectors apply`.',
      },
    );
  }
}

export interface LifecycleItem {
  connector: string;
  state: string | undefined;
  ok: boolean;
}

/**
 * restart / pause / resume: one action per connector, then wait for the state it leads to.
 * Connectors are handled one after the other; a failure does not stop the rest.
 */
export async function runLifecycle(
  client: ConnectClient,
  names: string[],
  masker: Masker,
  progress: ProgressOptions,
  spec: {
    verb: string;
    act: (name: string) => Promise<unknown>;
    want: 'RUNNING' | 'PAUSED';
    timeoutMs: number;
    settleMs: number;
    graceMs: number;
    signal?: AbortSignal;
    /** Only report the connectors' current states; change nothing. */
    dryRun?: boolean;
  },
): Promise<LifecycleItem[]> {
  await requireConnectors(client, names);
  if (spec.dryRun) {
    const current: LifecycleItem[] = [];
    for (const name of names)
      current.push({ connector: name, state: summarize(await client.getStatus(name)), ok: true });
    return masker.deep(current);
  }
  const items: LifecycleItem[] = names.map((n) => ({ connector: n, state: undefined, ok: false }));
  const outcomes = await runGroups(
    names.map((name, i) => ({
      title: name,
      steps: [
        { title: spec.verb, run: async () => void (await spec.act(name)) },
        {
          title: `wait until ${spec.want.toLowerCase()}`,
          run: async (note) => {
            const s = await waitForState(client, name, masker, {
              want: spec.want,
              timeoutMs: spec.timeoutMs,
              settleMs: spec.settleMs,
              graceMs: spec.graceMs,
              signal: spec.signal,
              onState: note,
            });
            items[i]!.state = summarize(s);
            items[i]!.ok = true;
            return items[i]!.state;
          },
        },
      ],
    })),
    progress,
  );
  const failures = outcomes.flatMap((o, i) => (o.error ? [{ connector: names[i]!, error: o.error }] : []));
  if (failures.length > 0) throw combineFailures(failures, { connectors: masker.deep(items) });
  return items;
}
