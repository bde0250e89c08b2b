import { maskUrl } from '../config/index.js';
import type { ConnectorView } from './types.js';

/**
 * Connector and task states from Kafka Connect's REST API (`GET /connectors?expand=status`, one
 * request for all connectors). A small client of its own so `top` depends on nothing but fetch.
 */
export class ConnectSource {
  /** The URL without credentials, for output. */
  readonly url: string;
  private readonly base: URL;
  private readonly headers: Record<string, string> = { accept: 'application/json' };

  constructor(
    url: string,
    private readonly timeoutMs = 3000,
  ) {
    // fetch() refuses URLs with credentials: send them as Basic auth instead.
    const u = new URL(url.endsWith('/') ? url : `${url}/`);
    if (u.username || u.password) {
      const user = decodeURIComponent(u.username);
      const pass = decodeURIComponent(u.password);
      this.headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
      u.username = '';
      u.password = '';
    }
    this.base = u;
    this.url = maskUrl(url);
  }

  async poll(): Promise<ConnectorView[]> {
    const res = await fetch(new URL('connectors?expand=status', this.base), {
      signal: AbortSignal.timeout(this.timeoutMs),
      headers: this.headers,
    });
    if (!res.ok)
      throw new Error(
        `Kafka Connect answered ${res.status} ${res.statusText} to GET /connectors?expand=status`,
      );
    const body = (await res.json()) as Record<string, { status?: ConnectStatus }>;
    return Object.entries(body)
      .map(([name, { status }]) => ({
        name,
        type: status?.type ?? 'unknown',
        state: status?.connector?.state ?? 'UNKNOWN',
        workerId: status?.connector?.worker_id ?? '',
        tasks: (status?.tasks ?? [])
          .map((t) => ({
            id: t.id,
            state: t.state,
            workerId: t.worker_id ?? '',
            ...(t.trace ? { trace: firstLine(t.trace) } : {}),
          }))
          .sort((a, b) => a.id - b.id),
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}

interface ConnectStatus {
  type?: string;
  connector?: { state?: string; worker_id?: string };
  tasks?: Array<{ id: number; state: string; worker_id?: string; trace?: string }>;
}

/** A task's stack trace is long; its first line says what failed. */
function firstLine(trace: string): string {
  return trace.split('\n', 1)[0]!.slice(0, 300);
}
