import type { Warehouse } from '../warehouse/types.js';
import type { Dialect } from '../warehouse/dialect.js';
import type { VaultDatabases } from '../vault/tables.js';
import type { LakeIO } from '../lake/io.js';
import type { Logger } from '../log/index.js';
import type { CheckDialect } from './dialect.js';

export type CheckGroup = 'orphans' | 'keys' | 'history' | 'reconciliation' | 'freshness' | 'replication';
export type Severity = 'error' | 'warn';
export type CheckStatus = 'pass' | 'fail' | 'skip' | 'error';

/** One offending item: where it is, which key, and what is wrong with it. */
export interface SampleItem {
  table: string;
  key: string;
  detail: string;
}

export interface CheckResult {
  id: string;
  group: CheckGroup;
  severity: Severity;
  title: string;
  /** What the check looks for and why it matters (plain words, for reports and JUnit). */
  explanation: string;
  status: CheckStatus;
  /** One line: what was found, or why the check was skipped or could not run. */
  message: string;
  /** Offending items (rows, keys or table/day cells); 0 when passed or skipped. */
  count: number;
  /** Offending items per table (only tables with any). */
  counts: Record<string, number>;
  /** A few offending items, at most `sampleSize`. */
  sample: SampleItem[];
  /** Check-specific figures (e.g. reconciliation counts per table and day). */
  details?: Record<string, unknown>;
  durationMs: number;
}

export interface CheckReport {
  /** False when any error-severity check failed or any check could not run. */
  ok: boolean;
  warehouse: string;
  engine: Warehouse['engine'];
  serverVersion: string;
  databases: VaultDatabases;
  /** --date, or null for the whole vault. */
  date: string | null;
  startedAt: string;
  durationMs: number;
  summary: {
    total: number;
    passed: number;
    failed: number;
    warnings: number;
    skipped: number;
    errors: number;
  };
  checks: CheckResult[];
}

/** One UTC day as bounds in the units the vault uses. */
export interface DayWindow {
  day: string;
  /** Days since 1970-01-01. */
  epochDay: number;
  startSec: number;
  endSec: number;
  startUs: number;
  endUs: number;
}

export interface PostgresInput {
  url: string;
  schema: string;
}

export interface MongoInput {
  url: string;
  database: string;
}

export interface LakeInput {
  io: LakeIO;
  /** For messages (the configured URI). */
  uri: string;
}

export interface CheckContext {
  wh: Warehouse;
  dialect: Dialect;
  checkDialect: CheckDialect;
  dbs: VaultDatabases;
  window: DayWindow | undefined;
  /** Relative tolerance of reconciliation counts (config checks.reconciliationTolerance). */
  tolerance: number;
  /** config checks.freshnessMaxSeconds */
  freshnessMaxSeconds: number;
  sampleSize: number;
  postgres: PostgresInput | undefined;
  mongo: MongoInput | undefined;
  lake: LakeInput | undefined;
  /** Why there is no lake (the skip message of the lake checks). */
  lakeSkipReason?: string | undefined;
  /** Lets lost-changes compare hashdiffs too (personal data is hashed with it). */
  piiSalt: string | undefined;
  logger: Logger | undefined;
  signal: AbortSignal | undefined;
  /** Memoised inputs shared by several checks in one run (lake changes, vault counts). */
  cache: Map<string, Promise<unknown>>;
}

/** What a check's body returns; the runner adds id, timing and defaults. */
export type CheckOutcome =
  | { status: 'pass'; message?: string; details?: Record<string, unknown> }
  | {
      status: 'fail';
      message: string;
      count: number;
      counts: Record<string, number>;
      sample: SampleItem[];
      details?: Record<string, unknown>;
    }
  | { status: 'skip'; message: string };

/** A rule a check counts in the shared scan of a table (profile.ts): rows where `cond` holds offend. */
export interface ProfileCount {
  table: string;
  key: string;
  cond: string;
}

export interface CheckDefinition {
  id: string;
  group: CheckGroup;
  severity: Severity;
  title: string;
  explanation: string;
  run(ctx: CheckContext): Promise<CheckOutcome>;
  /** Rules to count in the one shared scan per table, so a clean table needs no scan of its own. */
  profile?(ctx: CheckContext): ProfileCount[];
}
