import { Flags } from '@oclif/core';
import { Listr } from 'listr2';
import { BaseCommand } from '../lib/cli/base-command.js';
import { dryRunFlag, sourceFlags } from '../lib/cli/flags.js';
import { ConfigError, UsageError } from '../lib/errors/index.js';
import { SHOP_DEFAULTS, resolveShopOptions, type ShopOptions } from '../lib/shop/generator.js';
import {
  planHistory,
  seedHistory,
  seedLive,
  type SeedProgress,
  type SeedResult,
  type SeedTarget,
} from '../lib/shop/seed.js';
import { SOURCE_TABLES } from '../lib/vault/types.js';

export default class Seed extends BaseCommand<typeof Seed> {
  static override summary = 'Write realistic shop activity into the real PostgreSQL and MongoDB sources.';
  static override description = [
    'Generates a deterministic synthetic shop (same --seed and options, same data) and writes it into the source databases as real INSERT/UPDATE/DELETE statements and MongoDB inserts, so Debezium captures c/u/d events. An event is one source change: a row inserted, updated or deleted, or a MongoDB document.',
    'History mode (--days N, the default with N=7) writes N days of activity ending yesterday (UTC), or starting at --start. Progress is committed with the rows: stopping it (Ctrl-C) and rerunning the same command continues without duplicates, and a longer run of the same shop extends a shorter one.',
    'Live mode (--rate N --duration D) continues the shop the sources hold (or opens one when they are empty) at about N events per second, stamped with the current time.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> seed --days 7',
    '<%= config.bin %> seed --days 3 --seed 42 --start 2026-11-01 --truncate --json',
    '<%= config.bin %> seed --rate 200 --duration 60s',
    '<%= config.bin %> seed --days 30 --events-per-day 5000 --dry-run',
  ];

  static override flags = {
    ...sourceFlags,
    ...dryRunFlag,
    days: Flags.integer({
      description: 'Days of history to write (ending yesterday UTC unless --start).',
      min: 1,
      exclusive: ['rate'],
    }),
    rate: Flags.string({
      description: 'Live mode: events (source changes) per second.',
      exclusive: ['days', 'start'],
      dependsOn: ['duration'],
    }),
    duration: Flags.string({
      description: 'Live mode: how long to run, e.g. 60s, 5m, 1h.',
      dependsOn: ['rate'],
    }),
    seed: Flags.integer({
      description: 'PRNG seed: the same seed and options give the same shop.',
      default: SHOP_DEFAULTS.seed,
      min: 0,
    }),
    start: Flags.string({ description: 'First day of history, YYYY-MM-DD (UTC).' }),
    users: Flags.integer({ description: 'Users at the shop opening.', default: SHOP_DEFAULTS.users, min: 1 }),
    products: Flags.integer({
      description: 'Products at the shop opening.',
      default: SHOP_DEFAULTS.products,
      min: 1,
    }),
    sellers: Flags.integer({
      description: 'Sellers at the shop opening.',
      default: SHOP_DEFAULTS.sellers,
      min: 1,
    }),
    'events-per-day': Flags.integer({
      description: 'Average shop actions per day (weekends get more).',
      default: SHOP_DEFAULTS.eventsPerDay,
      min: 0,
    }),
    truncate: Flags.boolean({
      description: 'Empty the shop tables and collections first (and forget earlier seed runs).',
      default: false,
    }),
    'pg-schema': Flags.string({
      description: 'PostgreSQL schema holding the shop tables.',
      default: 'public',
    }),
    'mongo-db': Flags.string({
      description: 'MongoDB database (default: the one in the URL, else shop_events).',
    }),
    'batch-size': Flags.integer({ description: 'Source changes per transaction.', default: 2000, min: 1 }),
  };

  public async run(): Promise<SeedResult> {
    const f = this.flags;
    const live = f.rate !== undefined;
    const shop: ShopOptions = {
      seed: f.seed,
      days: f.days ?? SHOP_DEFAULTS.days,
      sellers: f.sellers,
      users: f.users,
      products: f.products,
      eventsPerDay: f['events-per-day'],
      ...(f.start ? { start: f.start } : {}),
    };
    if (f.start && !/^\d{4}-\d{2}-\d{2}$/.test(f.start)) {
      throw new UsageError(`--start ${f.start} is not a date in YYYY-MM-DD form.`, {
        hint: 'Example: --start 2026-11-01',
      });
    }
    if (!live) this.guard(() => resolveShopOptions(shop));
    const target = this.target(f['dry-run']);

    if (f['dry-run']) {
      if (live) {
        throw new UsageError(
          '--dry-run works with history mode (--days) only: live traffic depends on what the sources hold.',
        );
      }
      const plan = this.guard(() => planHistory(shop, target));
      this.render(plan);
      return plan;
    }

    const signal = this.shutdownSignal();
    const progress = this.progressReporter();
    const common = {
      target,
      truncate: f.truncate,
      batchSize: f['batch-size'],
      signal,
      onProgress: progress.update,
    };
    const result = await progress.wrap(
      live ? `live seed at ${f.rate}/s for ${f.duration}` : `seed ${shop.days} day(s) with seed ${f.seed}`,
      () =>
        live
          ? seedLive({
              ...common,
              rate: parseRate(f.rate!),
              durationMs: parseDuration(f.duration!),
              seed: f.seed,
              sizes: { sellers: f.sellers, users: f.users, products: f.products },
            })
          : seedHistory({ ...common, shop }),
    );
    this.render(result);
    return result;
  }

  private target(dryRun: boolean): SeedTarget {
    const cfg = this.settings();
    const postgresUrl = cfg.postgres.url;
    const mongoUrl = cfg.mongo.url;
    if (!dryRun && !postgresUrl) {
      throw new ConfigError('No PostgreSQL source configured.', {
        hint: 'Set SHOPDATA_POSTGRES_URL or --postgres-url, e.g. postgres://shopdata:shopdata@127.0.0.1:55432/shop.',
      });
    }
    if (!dryRun && !mongoUrl) {
      throw new ConfigError('No MongoDB source configured.', {
        hint: 'Set SHOPDATA_MONGO_URL or --mongo-url, e.g. mongodb://127.0.0.1:27117/shop_events.',
      });
    }
    return {
      postgresUrl: postgresUrl ?? '',
      mongoUrl: mongoUrl ?? '',
      pgSchema: this.flags['pg-schema'],
      ...(this.flags['mongo-db'] ? { mongoDatabase: this.flags['mongo-db'] } : {}),
    };
  }

  /** Option errors of the generator (a bad date, a bad size) are usage errors: nothing was written. */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (
        err instanceof RangeError ||
        (err instanceof Error && /not a (valid|YYYY-MM-DD) date/.test(err.message))
      ) {
        throw new UsageError(err.message, { hint: 'Run `shopdata seed --help` for the flags.' });
      }
      throw err;
    }
  }

  /** listr2 on an interactive terminal; log lines (at most one per second) otherwise. */
  private progressReporter(): {
    update: (p: SeedProgress) => void;
    wrap: <T>(title: string, fn: () => Promise<T>) => Promise<T>;
  } {
    const tty = process.stdout.isTTY === true && !this.jsonEnabled();
    let lastLog = 0;
    let setOutput: ((s: string) => void) | undefined;
    const describe = (p: SeedProgress) =>
      `${p.written}${p.total !== undefined ? `/${p.total}` : ''} events, ${Math.round((p.written * 1000) / Math.max(1, p.elapsedMs))}/s`;
    const update = (p: SeedProgress) => {
      if (setOutput) return setOutput(describe(p));
      const now = Date.now();
      if (now - lastLog >= 1000 || (p.total !== undefined && p.written >= p.total)) {
        lastLog = now;
        this.logger.info(
          { written: p.written, total: p.total, elapsed_ms: Math.round(p.elapsedMs) },
          `seed: ${describe(p)}`,
        );
      }
    };
    const wrap = async <T>(title: string, fn: () => Promise<T>): Promise<T> => {
      if (!tty) return fn();
      let result: T | undefined;
      const list = new Listr(
        [
          {
            title,
            task: async (_ctx: unknown, task: { output: string; title: string }) => {
              setOutput = (s) => (task.output = s);
              result = await fn();
              task.title = `${title}: done`;
            },
          },
        ],
        { exitOnError: true, rendererOptions: { collapseErrors: true } },
      );
      await list.run();
      return result as T;
    };
    return { update, wrap };
  }

  private render(r: SeedResult): void {
    const head = r.dryRun ? 'Would write' : 'Wrote';
    const span =
      r.mode === 'history' ? ` for ${r.start} … ${r.end} (seed ${r.seed})` : ` live (seed ${r.seed})`;
    const pgTarget = r.target.postgres || '(SHOPDATA_POSTGRES_URL not set)';
    const mongoTarget = r.target.mongo || '(SHOPDATA_MONGO_URL not set)';
    this.out(
      `${head} ${r.dryRun ? r.total : r.written} events${span} to PostgreSQL ${pgTarget} (schema ${r.target.schema}) and MongoDB ${mongoTarget} (db ${r.target.database}).`,
    );
    if (r.resumedFrom > 0) this.out(`Continued an earlier run after ${r.resumedFrom} events.`);
    if (!r.dryRun && r.mode === 'history' && r.written === 0)
      this.out('Nothing to do: this run is already complete.');
    this.out('');
    this.out(`${'table'.padEnd(18)}${'insert'.padStart(9)}${'update'.padStart(9)}${'delete'.padStart(9)}`);
    for (const t of SOURCE_TABLES) {
      const c = r.tables[t];
      this.out(
        `${t.padEnd(18)}${String(c.c).padStart(9)}${String(c.u).padStart(9)}${String(c.d).padStart(9)}`,
      );
    }
    if (!r.dryRun)
      this.out(
        `\n${r.written} events in ${(r.durationMs / 1000).toFixed(1)} s (${r.eventsPerSecond} events/s).`,
      );
  }
}

export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m)
    throw new UsageError(`--duration ${text} is not a duration.`, { hint: 'Use e.g. 90s, 5m, 1h or 500ms.' });
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

function parseRate(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`--rate ${text} is not a positive number of events per second.`, {
      hint: 'Example: --rate 200',
    });
  return n;
}
