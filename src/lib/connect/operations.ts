import {
  ConfigError,
  DataProblemError,
  DependencyUnavailableError,
  InterruptedError,
  ShopdataError,
  type ShopdataErrorOptions,
} from '../errors/index.js';
import { backoffMs, retry } from '../retry/index.js';
import type { ConnectClient, ConnectorState, ConnectorStatus } from './client.js';
import type { Masker } from './mask.js';
import type { RenderedConnector } from './template.js';

/** A connector or one of its tasks FAILED, or did not reach the wanted state in time. Exit 1. */
export class ConnectorFailedError extends DataProblemError {
  override readonly code: string = 'CONNECTOR_FAILED';
}

/** `connectors diff`: the live config differs from the templates. Exit 1, so CI can gate on it. */
export class ConnectorDriftError extends DataProblemError {
  override readonly code: string = 'CONNECTOR_DRIFT';
}

/** The connector's source database could not be reached from the Connect worker. Exit 3. */
export class SourceUnreachableError extends DependencyUnavailableError {
  override readonly code: string = 'SOURCE_UNREACHABLE';
}

/**
 * Messages (validation errors, task traces) that mean "the worker could not reach the database":
 * unknown host, refused or timed-out connection, no MongoDB server selectable. These are a
 * dependency being unreachable (exit 3), not a wrong setting or a broken connector.
 */
const UNREACHABLE =
  /(connection attempt failed|Connection to \S+ refused|Connection refused|UnknownHostException|No route to host|Network is unreachable|Name or service not known|connect timed out|SocketTimeoutException|Unable to connect: Timed out|Timed out while waiting for a server|Temporary failure in name resolution)/i;

export function looksUnreachable(text: string): boolean {
  return UNREACHABLE.test(text);
}

// ── validation ────────────────────────────────────────────────────────────────────────────────

export interface ValidationReport {
  connector: string;
  template: string;
  errors: Array<{ key: string; messages: string[] }>;
  /** Keys neither the plugin nor Connect knows: a typo is otherwise ignored silently. */
  unknownKeys: string[];
  /** Validations asked (more than one when the database was unreachable), and how long they took. */
  attempts?: number;
  elapsedMs?: number;
}

/**
 * Keys Connect passes on to converters, transforms and clients, which the plugin does not define;
 * and the Iceberg sink's pass-through prefixes (catalog, Hadoop and Kafka client properties,
 * per-table settings, table properties).
 */
const PASS_THROUGH =
  /^(key\.converter\.|value\.converter\.|header\.converter\.|transforms\.|predicates\.|topic\.creation\.|producer\.override\.|consumer\.override\.|admin\.override\.|database\.|driver\.|errors\.|name$|iceberg\.(catalog|hadoop|kafka|table)\.|iceberg\.tables\.(auto-create-props|write-props)\.)/;

/**
 * Validates on the worker. When the plugin could not reach the database, asks again with backoff
 * while the whole validation stays under ~15 s: a database that is restarting is not a bad config.
 */
export async function validateConnector(
  client: ConnectClient,
  rc: RenderedConnector,
  masker: Masker,
  opts: { retryBudgetMs?: number } = {},
): Promise<ValidationReport> {
  const started = Date.now();
  const budget = opts.retryBudgetMs ?? 15_000;
  let last: ValidationReport | undefined;
  try {
    return await retry(
      async (attempt) => {
        const report = await validateOnce(client, rc, masker);
        last = { ...report, attempts: attempt, elapsedMs: Date.now() - started };
        if (report.errors.some((e) => e.messages.some(looksUnreachable))) throw new SourceUnreachable();
        return last;
      },
      {
        // Another attempt only if it (about as long as the ones so far) fits in the budget too.
        retryable: (err, attempt) => {
          const elapsed = Date.now() - started;
          return (
            err instanceof SourceUnreachable &&
            elapsed + backoffMs(attempt, 1_000, 8_000) + elapsed / attempt <= budget
          );
        },
        baseMs: 1_000,
        maxMs: 8_000,
      },
    );
  } catch (err) {
    // Still unreachable when the budget is spent: the report says so.
    if (err instanceof SourceUnreachable) return last!;
    throw err;
  }
}

/** The database, as the worker sees it, did not answer the validation. */
class SourceUnreachable extends Error {}

async function validateOnce(
  client: ConnectClient,
  rc: RenderedConnector,
  masker: Masker,
): Promise<ValidationReport> {
  const res = await client.validate(rc.connectorClass, { ...rc.config, name: rc.name });
  const defined = new Set<string>();
  const errors: ValidationReport['errors'] = [];
  for (const c of res.configs) {
    // Some plugin-internal definitions come with `"value": null`.
    const key = c.definition?.name ?? c.value?.name;
    if (key) defined.add(key);
    const errs = c.value?.errors ?? [];
    if (key && errs.length > 0) errors.push({ key, messages: errs.map((m) => masker.text(m)) });
  }
  const unknownKeys = Object.keys(rc.config).filter((k) => !defined.has(k) && !PASS_THROUGH.test(k));
  return { connector: rc.name, template: rc.template, errors, unknownKeys };
}

/** Turns a failed validation into the contract's exit code: 3 when the database was unreachable, else 2. */
export function validationError(report: ValidationReport, connectUrl: string): Error {
  const lines = report.errors.flatMap((e) => e.messages.map((m) => `${e.key}: ${m}`));
  const message = `Connector ${report.connector} (template ${report.template}) is not valid according to Kafka Connect:\n  - ${lines.join('\n  - ')}`;
  const details = { connector: report.connector, template: report.template, errors: report.errors };
  if (lines.some(looksUnreachable)) {
    const tried =
      report.attempts && report.attempts > 1
        ? ` (${report.attempts} validations over ${((report.elapsedMs ?? 0) / 1000).toFixed(1)} s)`
        : '';
    const m = `Kafka Connect could not reach the source database of connector ${report.connector} (template ${report.template}) while validating it${tried}:\n  - ${lines.join('\n  - ')}`;
    return new SourceUnreachableError('source-database', m, {
      hint: `The Connect worker at ${connectUrl} could not reach the source database: check host, port and the network from the worker, then retry. Nothing was changed.`,
      details,
    });
  }
  return new ConfigError(message, {
    hint: 'Fix the template or the SHOPDATA_* variables it uses; nothing was changed.',
    details,
  });
}

// ── diff ──────────────────────────────────────────────────────────────────────────────────────

export interface ConfigChange {
  key: string;
  change: 'add' | 'remove' | 'change';
  /** Masked. */
  live?: string | null;
  /** Masked. */
  rendered?: string | null;
}

/** The change from the live config to the rendered one (`name` is Connect's own and ignored). */
export function diffConfigs(
  rendered: Record<string, string>,
  live: Record<string, string> | undefined,
  masker: Masker,
): ConfigChange[] {
  const out: ConfigChange[] = [];
  const l = { ...(live ?? {}) };
  delete l.name;
  const keys = [...new Set([...Object.keys(rendered), ...Object.keys(l)])].sort();
  for (const k of keys) {
    const r = rendered[k];
    const v = l[k];
    if (r !== undefined && v === undefined) out.push({ key: k, change: 'add', rendered: masker.value(k, r) });
    else if (r === undefined && v !== undefined)
      out.push({ key: k, change: 'remove', live: masker.value(k, v) });
    else if (r !== v) {
      // Two different inline secrets mask alike; say that they differ without showing either.
      const from = masker.value(k, v);
      const to = masker.value(k, r);
      out.push({ key: k, change: 'change', live: from, rendered: from === to ? `${to} (differs)` : to });
    }
  }
  return out;
}

export function formatChanges(changes: ConfigChange[], indent = '  '): string[] {
  return changes.map((c) =>
    c.change === 'add'
      ? `${indent}+ ${c.key}: ${c.rendered}`
      : c.change === 'remove'
        ? `${indent}- ${c.key}: ${c.live}`
        : `${indent}~ ${c.key}: ${c.live} → ${c.rendered}`,
  );
}

// ── waiting for a state ───────────────────────────────────────────────────────────────────────

export interface WaitOptions {
  /** RUNNING: connector and every task running (and at least one task). PAUSED/STOPPED likewise. */
  want: 'RUNNING' | 'PAUSED' | 'STOPPED';
  timeoutMs: number;
  /**
   * How long the wanted state must hold before it counts. Debezium tasks report RUNNING as soon as
   * start() returns and fail a moment later (missing publication, slot in use); after an update
   * the old tasks still show RUNNING until they are restarted.
   */
  settleMs: number;
  /**
   * FAILED seen this soon after a restart or an update is the old state not yet overwritten
   * (Connect records RESTARTING asynchronously); it counts only when it lasts longer.
   */
  graceMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
  onState?: (summary: string) => void;
}

export function summarize(s: ConnectorStatus | undefined): string {
  if (!s) return 'not yet known to the worker';
  const tasks =
    s.tasks.length === 0 ? 'no tasks yet' : s.tasks.map((t) => `task ${t.id} ${t.state}`).join(', ');
  return `${s.connector.state}, ${tasks}`;
}

function reached(s: ConnectorStatus, want: ConnectorState): boolean {
  if (s.connector.state !== want) return false;
  // A paused or stopped connector may have no tasks; a running one has at least one (Debezium: exactly one).
  if (want !== 'RUNNING') return s.tasks.every((t) => t.state === want);
  return s.tasks.length > 0 && s.tasks.every((t) => t.state === want);
}

/** Polls the status until the wanted state holds for settleMs; throws on FAILED or timeout. */
export async function waitForState(
  client: ConnectClient,
  name: string,
  masker: Masker,
  opts: WaitOptions,
): Promise<ConnectorStatus> {
  const started = Date.now();
  const pollMs = opts.pollMs ?? 500;
  let since: number | undefined;
  let last: ConnectorStatus | undefined;
  let lastSummary = '';
  for (;;) {
    if (opts.signal?.aborted)
      throw new InterruptedError(
        `Stopped waiting for connector ${name} (${summarize(last)}); the connector itself keeps its state on Connect.`,
      );
    last = await client.getStatus(name);
    const summary = summarize(last);
    if (summary !== lastSummary) opts.onState?.(summary);
    lastSummary = summary;
    if (last) {
      const failed = failureOf(last);
      if (failed && Date.now() - started >= (opts.graceMs ?? 0)) throw failureError(name, last, masker);
      if (reached(last, opts.want)) {
        since ??= Date.now();
        if (Date.now() - since >= opts.settleMs) return last;
      } else {
        since = undefined;
      }
    }
    if (Date.now() - started >= opts.timeoutMs) {
      // Reached but not yet settled for the whole window: the timeout wins, and the state holds.
      if (since !== undefined && last) return last;
      throw new ConnectorFailedError(
        `Connector ${name} did not reach ${opts.want} within ${(opts.timeoutMs / 1000).toFixed(0)} s (last seen: ${summary}).`,
        {
          hint: `Watch it with \`shopdata connectors status ${name}\`; raise --timeout if the worker is slow, or check the worker log.`,
          details: { connector: name, status: last ? masker.deep(last) : null },
        },
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

function failureOf(s: ConnectorStatus): { what: string; trace: string | undefined } | undefined {
  if (s.connector.state === 'FAILED') return { what: 'the connector', trace: s.connector.trace };
  const t = s.tasks.find((x) => x.state === 'FAILED');
  return t ? { what: `task ${t.id}`, trace: t.trace } : undefined;
}

/** The first lines of a Java trace: the exception chain's messages, not 200 frames. */
export function traceReason(trace: string | undefined, maxLines = 6): string {
  if (!trace) return '(no trace given)';
  const lines = trace.split('\n');
  const keep = lines
    .filter((l, i) => i === 0 || /^(Caused by:|\S)/.test(l))
    .filter((l) => !/^\s+at /.test(l));
  return keep.slice(0, maxLines).join('\n');
}

export function failureError(
  name: string,
  s: ConnectorStatus,
  masker: Masker,
  opts: ShopdataErrorOptions = {},
): Error {
  const f = failureOf(s)!;
  const reason = masker.text(traceReason(f.trace));
  const message = `Connector ${name}: ${f.what} FAILED:\n${indent(reason)}`;
  const details = { connector: name, status: masker.deep(s) };
  if (looksUnreachable(f.trace ?? '')) {
    return new SourceUnreachableError('source-database', message, {
      hint: `The worker could not reach the source database. Fix the network or the host, then \`shopdata connectors restart ${name} --failed-only\`.`,
      details,
      ...opts,
    });
  }
  return new ConnectorFailedError(message, {
    hint: `Fix the cause above, then \`shopdata connectors restart ${name} --failed-only\` (full trace: \`shopdata connectors status ${name} --json\`).`,
    details,
    ...opts,
  });
}

function indent(text: string, by = '    '): string {
  return text
    .split('\n')
    .map((l) => by + l.trim())
    .join('\n');
}

// ── apply ─────────────────────────────────────────────────────────────────────────────────────

export type ApplyAction = 'created' | 'updated' | 'unchanged' | 'would-create' | 'would-update';

export interface ApplyPlan {
  connector: RenderedConnector;
  live: Record<string, string> | undefined;
  changes: ConfigChange[];
  action: 'create' | 'update' | 'none';
}

export async function planApply(
  client: ConnectClient,
  rc: RenderedConnector,
  masker: Masker,
): Promise<ApplyPlan> {
  const live = await client.getConfig(rc.name);
  const changes = diffConfigs(rc.config, live, masker);
  return {
    connector: rc,
    live,
    changes,
    action: live === undefined ? 'create' : changes.length > 0 ? 'update' : 'none',
  };
}

// ── several connectors ────────────────────────────────────────────────────────────────────────

/**
 * One error for several failed connectors: exit 3 when any source or Connect was unreachable
 * (retrying later may help), else 1 when a connector failed, else 2 (invalid configuration).
 */
export function combineFailures(
  failures: Array<{ connector: string; error: Error }>,
  details: Record<string, unknown>,
): Error {
  if (failures.length === 1) {
    // The failure's own details (connector, errors, status) plus the command's whole result.
    const e = failures[0]!.error as Error & { details?: Record<string, unknown> };
    if (e instanceof ShopdataError)
      (e as { details: Record<string, unknown> | undefined }).details = { ...details, ...(e.details ?? {}) };
    return e;
  }
  const message = `${failures.length} connectors failed:\n${failures.map((f) => `- ${f.connector}: ${f.error.message}`).join('\n')}`;
  const code = (e: Error) => (e as { exitCode?: number }).exitCode ?? 1;
  if (failures.some((f) => code(f.error) === 3)) {
    return new DependencyUnavailableError('source-database', message, {
      hint: 'See each connector above; unreachable services first.',
      details,
    });
  }
  if (failures.some((f) => code(f.error) !== 2))
    return new ConnectorFailedError(message, { hint: 'See each connector above.', details });
  return new ConfigError(message, {
    hint: 'Fix the templates or variables named above; nothing was changed.',
    details,
  });
}
