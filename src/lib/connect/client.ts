import {
  ConfigError,
  DependencyUnavailableError,
  isNetworkError,
  ShopdataError,
  type ShopdataErrorOptions,
  ExitCode,
} from '../errors/index.js';
import { maskUrl } from '../config/index.js';
import { retry } from '../retry/index.js';

/** Kafka Connect REST types (the parts shopdata reads). */
export type ConnectorState =
  'RUNNING' | 'PAUSED' | 'STOPPED' | 'FAILED' | 'UNASSIGNED' | 'RESTARTING' | 'DESTROYED';
export interface TaskStatus {
  id: number;
  state: ConnectorState;
  worker_id: string;
  trace?: string;
}
export interface ConnectorStatus {
  name: string;
  connector: { state: ConnectorState; worker_id: string; trace?: string };
  tasks: TaskStatus[];
  type?: string;
}
export interface ConnectorInfo {
  name: string;
  config: Record<string, string>;
  tasks: Array<{ connector: string; task: number }>;
  type: string;
}
export interface ValidationField {
  definition?: { name: string; type: string; required: boolean; group?: string | null };
  value: { name: string; value: string | null; errors: string[]; visible: boolean } | null;
}
export interface ValidationResponse {
  name: string;
  error_count: number;
  configs: ValidationField[];
}

/** Connect answered with an error status we do not retry (400, 404, 409 after retries, 500). */
export class ConnectRequestError extends ShopdataError {
  readonly exitCode = ExitCode.DataProblem;
  readonly code: string = 'CONNECT_REQUEST_FAILED';
  constructor(
    readonly status: number,
    message: string,
    opts: ShopdataErrorOptions = {},
  ) {
    super(message, opts);
  }
}

export interface ConnectClientOptions {
  url: string;
  /** Total time spent retrying an unreachable or busy worker before giving up with exit 3. */
  retryBudgetMs?: number;
  /** Time to wait for the worker to answer one request before the worker has answered once. */
  probeTimeoutMs?: number;
  /** Time to wait for one request once the worker is known to be up. */
  requestTimeoutMs?: number;
  fetchImpl?: typeof fetch;
  /** Called after every attempt (for debug logs); never given request bodies, which hold configs. */
  onAttempt?: (info: {
    method: string;
    path: string;
    attempt: number;
    ms: number;
    status?: number;
    problem?: string;
  }) => void;
}

/** Statuses that mean "try again shortly": rebalance in progress (409), worker starting or overloaded. */
const RETRY_STATUSES = new Set([409, 502, 503, 504]);

/**
 * A small Kafka Connect REST client. Unreachable workers are retried with backoff for a bounded
 * time (default 10 s, so a command fails with exit 3 within ~12 s of starting, 15 s at worst); HTTP errors become
 * `ConnectRequestError` with Connect's own message.
 */
export class ConnectClient {
  readonly url: string;
  private readonly retryBudgetMs: number;
  private readonly probeTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly onAttempt: ConnectClientOptions['onAttempt'];
  private answered = false;
  private unreachable: DependencyUnavailableError | undefined;

  constructor(opts: ConnectClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.retryBudgetMs = opts.retryBudgetMs ?? 10_000;
    this.probeTimeoutMs = opts.probeTimeoutMs ?? 4_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.fetchImpl = opts.fetchImpl ?? fetch;
    this.onAttempt = opts.onAttempt;
  }

  /** The URL without credentials, for messages. */
  get displayUrl(): string {
    return maskUrl(this.url);
  }

  async request<T>(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    opts: { body?: unknown; timeoutMs?: number; allow404?: boolean } = {},
  ): Promise<{ status: number; body: T | undefined }> {
    // Once the worker stayed unreachable for a whole retry budget, later calls fail at once
    // (apply of several connectors must not wait the budget out once per connector).
    if (this.unreachable) throw this.unreachable;
    const started = Date.now();
    return retry((attempt) => this.attempt<T>(method, path, opts, attempt, started), {
      retryable: (err) => err instanceof TryAgain,
      budgetMs: this.retryBudgetMs,
      baseMs: 250,
      maxMs: 2_000,
      giveUp: ({ err, attempt, elapsedMs }) => (err as TryAgain).final(attempt, elapsedMs),
    });
  }

  /** One request. Throws TryAgain for an unreachable worker or a "busy" status, the final error otherwise. */
  private async attempt<T>(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    opts: { body?: unknown; timeoutMs?: number; allow404?: boolean },
    attempt: number,
    started: number,
  ): Promise<{ status: number; body: T | undefined }> {
    const remaining = this.retryBudgetMs - (Date.now() - started);
    // Until the worker has answered once, keep attempts short so an unreachable worker fails fast.
    const timeoutMs = this.answered
      ? (opts.timeoutMs ?? this.requestTimeoutMs)
      : Math.max(500, Math.min(this.probeTimeoutMs, remaining));
    let res: Response;
    const t0 = Date.now();
    try {
      res = await this.fetchImpl(`${this.url}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw this.notAnswered(err, method, path, attempt, Date.now() - t0, timeoutMs);
    }
    this.answered = true;
    this.onAttempt?.({ method, path, attempt, ms: Date.now() - t0, status: res.status });
    const text = await res.text();
    const body = text === '' ? undefined : safeJson(text);
    if (res.ok) return { status: res.status, body: body as T | undefined };
    if (res.status === 404 && opts.allow404) return { status: 404, body: undefined };
    const message = connectMessage(body, text, res.status);
    const refused = new ConnectRequestError(
      res.status,
      `Kafka Connect refused ${method} ${path} (${res.status}): ${message}`,
      {
        hint:
          res.status === 409
            ? 'The worker group is rebalancing; retry in a few seconds.'
            : 'See the message from Connect above.',
        details: { status: res.status },
      },
    );
    if (!RETRY_STATUSES.has(res.status)) throw refused;
    throw new TryAgain(() =>
      res.status === 409
        ? refused
        : new DependencyUnavailableError(
            'kafka-connect',
            `Kafka Connect at ${this.displayUrl} answered ${res.status} to ${method} ${path} for ${(this.retryBudgetMs / 1000).toFixed(0)} s: ${message}`,
            {
              hint: 'The worker is starting, rebalancing or overloaded; retry in a minute and check its log.',
            },
          ),
    );
  }

  /** A request without an answer: retried while the worker may be unreachable, final otherwise. */
  private notAnswered(
    err: unknown,
    method: string,
    path: string,
    attempt: number,
    ms: number,
    timeoutMs: number,
  ): Error {
    const timedOut = (err as Error).name === 'TimeoutError';
    if (!isNetworkError(err) && !timedOut) {
      // Not a connection problem: a port fetch refuses to use, a TLS certificate, a malformed URL.
      return new ConfigError(
        `Cannot talk to Kafka Connect at ${this.displayUrl}: ${describeNetworkError(err)}.`,
        {
          hint: 'Check SHOPDATA_CONNECT_URL / --connect-url (scheme, host, port, certificate).',
          cause: err,
        },
      );
    }
    const problem = timedOut ? `no answer within ${timeoutMs} ms` : describeNetworkError(err);
    this.onAttempt?.({ method, path, attempt, ms, problem });
    // A slow answer from a worker that is up (e.g. a validation connecting to the database) is not "unreachable".
    if (timedOut && this.answered) {
      return new DependencyUnavailableError(
        'kafka-connect',
        `Kafka Connect at ${this.displayUrl} did not answer ${method} ${path} within ${timeoutMs} ms.`,
        { hint: 'The worker is up but busy or stuck; check its log, then retry.' },
      );
    }
    return new TryAgain(
      (attempts, elapsedMs) =>
        (this.unreachable = new DependencyUnavailableError(
          'kafka-connect',
          `Kafka Connect at ${this.displayUrl} is unreachable: ${problem} (${attempts} attempts in ${(elapsedMs / 1000).toFixed(1)} s).`,
          {
            hint: 'Check that the worker runs (scripts/stack/up connect) and that SHOPDATA_CONNECT_URL / --connect-url points at its REST port.',
            cause: err,
          },
        )),
    );
  }

  /** GET / — version and cluster id; also the reachability probe. */
  async info(): Promise<{ version: string; commit: string; kafka_cluster_id: string }> {
    return (await this.request<{ version: string; commit: string; kafka_cluster_id: string }>('GET', '/'))
      .body!;
  }

  async listConnectors(): Promise<string[]> {
    return (await this.request<string[]>('GET', '/connectors')).body ?? [];
  }

  /** GET /connectors?expand=status&expand=info in one call. */
  async listExpanded(): Promise<Record<string, { status?: ConnectorStatus; info?: ConnectorInfo }>> {
    return (
      (
        await this.request<Record<string, { status?: ConnectorStatus; info?: ConnectorInfo }>>(
          'GET',
          '/connectors?expand=status&expand=info',
        )
      ).body ?? {}
    );
  }

  async getConfig(name: string): Promise<Record<string, string> | undefined> {
    const r = await this.request<Record<string, string>>('GET', `/connectors/${enc(name)}/config`, {
      allow404: true,
    });
    return r.status === 404 ? undefined : r.body;
  }

  async getStatus(name: string): Promise<ConnectorStatus | undefined> {
    const r = await this.request<ConnectorStatus>('GET', `/connectors/${enc(name)}/status`, {
      allow404: true,
    });
    return r.status === 404 ? undefined : r.body;
  }

  /** PUT /connectors/{name}/config: create-or-update. True when created. */
  async putConfig(name: string, config: Record<string, string>): Promise<boolean> {
    const r = await this.request<ConnectorInfo>('PUT', `/connectors/${enc(name)}/config`, {
      body: { ...config, name },
      timeoutMs: 120_000,
    });
    return r.status === 201;
  }

  /** Connect validates by asking the plugin, and Debezium connects to the database: allow it time. */
  async validate(connectorClass: string, config: Record<string, string>): Promise<ValidationResponse> {
    const shortName = connectorClass.split('.').pop()!;
    return (
      await this.request<ValidationResponse>('PUT', `/connector-plugins/${enc(shortName)}/config/validate`, {
        body: config,
        timeoutMs: 120_000,
      })
    ).body!;
  }

  async listPlugins(): Promise<Array<{ class: string; type: string; version: string }>> {
    return (
      (
        await this.request<Array<{ class: string; type: string; version: string }>>(
          'GET',
          '/connector-plugins',
        )
      ).body ?? []
    );
  }

  async restart(name: string, opts: { includeTasks: boolean; onlyFailed: boolean }): Promise<boolean> {
    const r = await this.request(
      'POST',
      `/connectors/${enc(name)}/restart?includeTasks=${opts.includeTasks}&onlyFailed=${opts.onlyFailed}`,
      { allow404: true },
    );
    return r.status !== 404;
  }

  async pause(name: string): Promise<boolean> {
    return (await this.request('PUT', `/connectors/${enc(name)}/pause`, { allow404: true })).status !== 404;
  }

  async resume(name: string): Promise<boolean> {
    return (await this.request('PUT', `/connectors/${enc(name)}/resume`, { allow404: true })).status !== 404;
  }

  async delete(name: string): Promise<boolean> {
    return (await this.request('DELETE', `/connectors/${enc(name)}`, { allow404: true })).status !== 404;
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

/** The body as JSON when it is JSON, else the text (error pages). */
export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Connect errors are `{"error_code":409,"message":"…"}`. */
function connectMessage(body: unknown, text: string, status: number): string {
  if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string')
    return (body as { message: string }).message;
  return text.trim().slice(0, 500) || `HTTP ${status}`;
}

/** `ECONNREFUSED`, or the chain of messages (`fetch failed: bad port`) when there is no code. */
export function describeNetworkError(err: unknown): string {
  const messages: string[] = [];
  for (let e: unknown = err, d = 0; e && d < 5; d++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) return code;
    const m = (e as Error).message;
    if (m) messages.push(m);
    e = (e as { cause?: unknown }).cause;
  }
  return messages.join(': ') || String(err);
}

/** A failure worth another attempt; `final` builds the error to throw once the budget is spent. */
class TryAgain extends Error {
  constructor(readonly final: (attempts: number, elapsedMs: number) => Error) {
    super('try again');
  }
}
