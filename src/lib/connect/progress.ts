import { Listr } from 'listr2';
import type { Masker } from './mask.js';

/**
 * Multi-step work (render → validate → apply → wait, per connector) shown as a listr2 tree on a
 * terminal and as plain `connector: what happened` lines otherwise (CI logs, pipes, tests).
 * One group per connector; a failing group does not stop the others.
 */
export interface Step {
  title: string;
  /** Returns a short outcome shown after the title ("created", "RUNNING, 1 task"). */
  run(note: (progress: string) => void): Promise<string | void>;
}
export interface StepGroup {
  title: string;
  steps: Step[];
}
export interface GroupOutcome {
  title: string;
  error?: Error;
}

export interface ProgressOptions {
  tty: boolean;
  /** Where plain lines go (stdout in text mode; nowhere with --json). */
  print: (line: string) => void;
  masker: Masker;
}

/** Secrets must not reach the terminal through an error message either. */
function masked(err: unknown, masker: Masker): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  e.message = masker.text(e.message);
  return e;
}

export async function runGroups(groups: StepGroup[], opts: ProgressOptions): Promise<GroupOutcome[]> {
  const outcomes: GroupOutcome[] = groups.map((g) => ({ title: g.title }));
  if (!opts.tty) {
    for (const [i, g] of groups.entries()) {
      for (const s of g.steps) {
        try {
          const r = await s.run((p) => opts.print(`${g.title}: ${opts.masker.text(p)}`));
          opts.print(`${g.title}: ${opts.masker.text(r ? `${s.title}: ${r}` : s.title)}`);
        } catch (err) {
          outcomes[i]!.error = masked(err, opts.masker);
          opts.print(`${g.title}: ${s.title}: FAILED`);
          break;
        }
      }
    }
    return outcomes;
  }
  const list = new Listr(
    groups.map((g, i) => ({
      title: g.title,
      task: (_ctx: unknown, parent: { newListr: (t: unknown[], o: unknown) => unknown }) =>
        parent.newListr(
          g.steps.map((s) => ({
            title: s.title,
            task: async (_c: unknown, task: { title: string; output: string }) => {
              try {
                const r = await s.run((p) => (task.output = opts.masker.text(p)));
                if (r) task.title = opts.masker.text(`${s.title}: ${r}`);
              } catch (err) {
                const e = masked(err, opts.masker);
                outcomes[i]!.error = e;
                // The full message follows in the error report; the tree shows its first line.
                throw new Error(e.message.split('\n')[0], { cause: err });
              }
            },
          })),
          { exitOnError: true },
        ),
    })) as never,
    {
      concurrent: false,
      exitOnError: false,
      rendererOptions: { collapseSubtasks: false, collapseErrors: false },
    },
  );
  await list.run().catch(() => undefined);
  return outcomes;
}
