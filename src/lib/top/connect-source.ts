import type { ConnectorView } from './types.js';

/**
 * Connector and task states from Kafka Connect's REST API (`GET /connectors?expand=status`, one
 * request for all connectors). A small client of its own so `top` depends on nothing but fetch.
 */
export class ConnectSource {
  constructor(
    readonly url: string,
    private readonly timeoutMs = 3000,
  ) {}

  async poll(): Promise<ConnectorView[]> {
    const res = await fetch(
      new URL('connectors?expand=status', this.url.endsWith('/') ? this.url : `${this.url}/`),
      {
        signal: AbortSignal.timeout(this.timeoutMs),
        headers: { accept: 'application/json' },
      },
    );
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
