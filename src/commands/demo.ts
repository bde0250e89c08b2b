import { Flags } from '@oclif/core';
import { BaseCommand } from '../lib/cli/base-command.js';
import { DataProblemError, UsageError } from '../lib/errors/index.js';
import type { DemoResult, DemoStep } from '../lib/demo/run.js';
import { parseDay } from '../lib/backfill/dates.js';

export default class Demo extends BaseCommand<typeof Demo> {
  static override summary =
    'Run the whole platform on embedded parts: synthetic shop → Iceberg lake → chDB vault → marts.';
  static override description = `Generates a deterministic synthetic shop, writes it to a local Iceberg lake (DIR/lake), migrates an
embedded ClickHouse (chDB, DIR/warehouse), backfills every day but the last from the lake, replays the last
day through the streaming path with some events dropped and doubled, backfills that day to correct it,
runs vault check and prints the marts next to the generator's ground truth. No server is needed.
Each run starts from empty DIR/lake, DIR/warehouse and DIR/replay, so running it twice is safe.

Exit codes: 0 the marts equal the ground truth and every check passed; 1 otherwise.`;
  static override examples = [
    '<%= config.bin %> demo',
    '<%= config.bin %> demo --days 3 --dir /tmp/shop',
    '<%= config.bin %> demo --days 2 --start 2028-02-28',
    '<%= config.bin %> demo --json > demo.json',
  ];
  static override flags = {
    days: Flags.integer({ description: 'Days of shop history to generate.', default: 7, min: 1, max: 60 }),
    dir: Flags.string({
      description: 'Folder for the lake, the warehouse and the replay file.',
      default: './.shopdata',
    }),
    seed: Flags.integer({ description: 'Seed of the generator (same seed, same shop).', default: 42 }),
    start: Flags.string({
      description: 'First day of the shop, YYYY-MM-DD (UTC). Default: --days days ending yesterday.',
    }),
    'drop-rate': Flags.string({
      description: 'Share of the replayed day’s events the streaming path loses (0..1).',
      default: '0.03',
    }),
    'double-rate': Flags.string({
      description: 'Share of the replayed day’s events delivered twice (0..1).',
      default: '0.03',
    }),
  };

  public async run(): Promise<DemoResult> {
    const dropRate = rate(this.flags['drop-rate'], '--drop-rate');
    const doubleRate = rate(this.flags['double-rate'], '--double-rate');
    const start = this.flags.start === undefined ? undefined : parseDay(this.flags.start, '--start');
    // Loaded here, not at the top: --help stays fast.
    const { runDemo } = await import('../lib/demo/run.js');
    const opts = {
      dir: this.flags.dir,
      days: this.flags.days,
      seed: this.flags.seed,
      ...(start === undefined ? {} : { start }),
      dropRate,
      doubleRate,
      logger: this.logger,
      signal: this.shutdownSignal(),
    };
    const interactive = Boolean(process.stderr.isTTY) && !this.jsonEnabled();
    // On a terminal the progress list tells the story; info lines would tear it.
    if (interactive && this.flags['log-level'] === undefined) this.logger.level = 'warn';
    const result = interactive
      ? await this.withProgress((onStep) => runDemo({ ...opts, onStep }))
      : await runDemo(opts);
    if (!this.jsonEnabled()) this.render(result);
    if (!result.matchesGroundTruth || !result.check.ok) {
      throw new DataProblemError(
        !result.matchesGroundTruth
          ? `The marts differ from the generator's ground truth in ${result.differences.length} rows.`
          : `vault check failed: ${result.check.failed.map((c) => c.id).join(', ')}.`,
        {
          details: { differences: result.differences.slice(0, 20), failedChecks: result.check.failed },
          hint: 'Rerun with --json to see every difference; please report it.',
        },
      );
    }
    return result;
  }

  /** listr2 on a terminal: one line per step with its latest message. */
  private async withProgress(
    work: (onStep: (s: DemoStep, m: string) => void) => Promise<DemoResult>,
  ): Promise<DemoResult> {
    const { Listr } = await import('listr2');
    let result: DemoResult | undefined;
    const steps: DemoStep[] = [
      'generate',
      'lake',
      'migrate',
      'backfill',
      'stream',
      'correct',
      'check',
      'marts',
    ];
    const titles: Record<DemoStep, string> = {
      generate: 'Generate the shop',
      lake: 'Write the Iceberg lake',
      migrate: 'Migrate the embedded warehouse',
      backfill: 'Backfill the history',
      stream: 'Replay the last day through the stream',
      correct: 'Correct the last day by backfill',
      check: 'vault check',
      marts: 'Read the marts',
    };
    let current: ((s: DemoStep, m: string) => void) | undefined;
    const reached = new Map<DemoStep, () => void>();
    const waits = new Map(steps.map((s) => [s, new Promise<void>((res) => reached.set(s, res))]));
    const list = new Listr(
      [
        {
          title: 'shopdata demo',
          task: (_ctx, task) =>
            task.newListr(
              steps.map((s, i) => ({
                title: titles[s],
                task: async (_c: unknown, t: { output: string }) => {
                  current = (step, m) => {
                    if (step === s) t.output = m;
                  };
                  await (steps[i + 1] ? waits.get(steps[i + 1]!) : done);
                },
              })),
            ),
        },
      ],
      { rendererOptions: { collapseSubtasks: false } },
    );
    let finish!: () => void;
    const done = new Promise<void>((res) => (finish = res));
    const running = list.run();
    try {
      result = await work((s, m) => {
        reached.get(s)?.();
        current?.(s, m);
      });
    } finally {
      for (const r of reached.values()) r();
      finish();
      await running.catch(() => undefined);
    }
    return result;
  }

  private render(r: DemoResult): void {
    this.out(
      `shopdata demo: ${r.days.length} days (${r.days[0]} … ${r.days[r.days.length - 1]}), seed ${r.seed}, ${r.generated.changes} source changes`,
    );
    this.out(`  lake       ${r.lake} (Iceberg, ${r.lakeWrites.reduce((s, w) => s + w.files, 0)} data files)`);
    this.out(
      `  warehouse  ${r.warehouse} (migrations ${r.migrations.versionBefore} → ${r.migrations.versionAfter})`,
    );
    for (const b of r.backfilled) {
      const note = b.day === r.replay.day ? ' (correction after the replay)' : '';
      this.out(
        `  backfill   ${b.day}: ${b.lakeRows} lake rows, ${b.mode} mode, ${(b.durationMs / 1000).toFixed(1)} s${note}`,
      );
    }
    this.out(
      `  stream     replayed ${r.replay.day}: ${r.replay.events} events (${r.replay.dropped} dropped, ${r.replay.doubled} doubled), ${r.replay.stream.dlq.count} rejected`,
    );
    this.out('');
    this.out(`Correction of ${r.replay.day} by backfill (stream had → batch result):`);
    this.out('  vault table              before    after   added  changed  removed  duplicates');
    for (const [t, c] of Object.entries(r.correction)) {
      if (c.before === c.after && c.added + c.changed + c.removed + c.duplicates === 0) continue;
      this.out(
        `  ${t.padEnd(24)} ${pad(c.before, 6)}  ${pad(c.after, 7)}  ${pad(c.added, 6)}  ${pad(c.changed, 7)}  ${pad(c.removed, 7)}  ${pad(c.duplicates, 10)}`,
      );
    }
    this.out('');
    const s = r.check.summary;
    this.out(
      `vault check: ${r.check.ok ? 'OK' : 'FAILED'} (${s.passed} passed, ${s.failed} failed, ${s.warnings} warnings, ${s.skipped} skipped)`,
    );
    for (const f of r.check.failed) this.out(`  ✗ ${f.id}: ${f.message}`);
    this.out('');
    this.out('mart.daily_orders');
    this.out('  day         orders  buyers  units  gross_revenue  cancellations');
    for (const d of r.marts.daily_orders) {
      this.out(
        `  ${d.day}  ${pad(d.orders, 6)}  ${pad(d.buyers, 6)}  ${pad(d.units, 5)}  ${d.gross_revenue.padStart(13)}  ${pad(d.cancellations, 13)}`,
      );
    }
    const last = r.days[r.days.length - 1];
    this.out('');
    this.out(`mart.daily_sales_by_category (${last})`);
    for (const d of r.marts.daily_sales_by_category.filter((x) => x.day === last)) {
      this.out(
        `  ${d.category.padEnd(16)} ${pad(d.orders, 5)} orders  ${pad(d.units, 5)} units  ${d.gross_revenue.padStart(12)}`,
      );
    }
    const top = [...r.marts.product_ratings]
      .sort((a, b) => b.ratings - a.ratings || a.product_id - b.product_id)
      .slice(0, 5);
    this.out('');
    this.out(`mart.product_ratings (${r.marts.product_ratings.length} products; most rated)`);
    for (const p of top)
      this.out(
        `  product ${String(p.product_id).padEnd(6)} ${pad(p.ratings, 4)} ratings  avg ${p.avg_stars.toFixed(2)}`,
      );
    this.out('');
    this.out(
      r.matchesGroundTruth
        ? `The marts equal the generator's ground truth. Done in ${(r.durationMs / 1000).toFixed(1)} s.`
        : `The marts DIFFER from the generator's ground truth in ${r.differences.length} rows.`,
    );
  }
}

function pad(n: number, w: number): string {
  return String(n).padStart(w);
}

function rate(v: string, flag: string): number {
  const x = Number(v);
  if (!Number.isFinite(x) || x < 0 || x > 0.5) {
    throw new UsageError(`${flag} must be a number between 0 and 0.5, not "${v}".`, {
      hint: 'For example --drop-rate 0.05.',
    });
  }
  return x;
}
