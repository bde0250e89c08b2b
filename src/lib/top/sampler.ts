import type { Kafka } from 'kafkajs';
import { maskUrl } from '../config/index.js';
import { isNetworkError } from '../errors/index.js';
import { KafkaLagSource } from '../kafka/lag.js';
import type { Logger } from '../log/index.js';
import { ConnectSource } from './connect-source.js';
import { StreamMetricsSource } from './metrics-source.js';
import { OpsLoadsSource } from './ops-source.js';
import { LagTracker } from './tracker.js';
import type { GroupView, LakeView, TopSample } from './types.js';
import { LakeSource, type LakeSourceOptions } from './lake-source.js';

export interface SamplerOptions {
  kafka: Kafka;
  brokers: string[];
  connectUrl?: string | undefined;
  metricsUrl?: string | undefined;
  /** A ClickHouse server URL: freshness and insert rate from `<ops>.loads` (optional). */
  clickhouseUrl?: string | undefined;
  opsDatabase?: string | undefined;
  groups?: string[] | undefined;
  /** A configured lake: its freshness line (read at most every 30 s). */
  lake?: LakeSourceOptions | undefined;
  intervalSeconds: number;
  /** Samples in the status window (Burrow's `intervals`). */
  windowSize: number;
  historySize?: number;
  logger?: Logger | undefined;
}

/**
 * One refresh of everything `top` shows. Kafka is required; Connect and the stream's metrics are
 * optional, and each source that fails is reported in the sample (the views show a banner) rather
 * than failing the refresh.
 */
export class Sampler {
  readonly kafkaSource: KafkaLagSource;
  private readonly connect: ConnectSource | undefined;
  private readonly metrics: StreamMetricsSource | undefined;
  private readonly ops: OpsLoadsSource | undefined;
  private readonly lake: LakeSource | undefined;
  private readonly tracker: LagTracker;

  constructor(private readonly opts: SamplerOptions) {
    this.kafkaSource = new KafkaLagSource(opts.kafka, { groups: opts.groups ?? [], logger: opts.logger });
    this.connect = opts.connectUrl ? new ConnectSource(opts.connectUrl) : undefined;
    this.metrics = opts.metricsUrl ? new StreamMetricsSource(opts.metricsUrl) : undefined;
    this.ops = opts.clickhouseUrl ? new OpsLoadsSource(opts.clickhouseUrl, opts.opsDatabase) : undefined;
    this.lake = opts.lake ? new LakeSource(opts.lake, this.kafkaSource) : undefined;
    this.tracker = new LagTracker({ windowSize: opts.windowSize, historySize: opts.historySize ?? 60 });
  }

  async sample(): Promise<TopSample> {
    const at = Date.now();
    const [kafka, connect, stream, ops, lake] = await Promise.allSettled([
      this.kafkaSource.poll(() => at),
      this.connect
        ? this.connect.poll()
        : Promise.reject(new NotConfigured('--connect-url / SHOPDATA_CONNECT_URL')),
      this.metrics ? this.metrics.poll(at) : Promise.reject(new NotConfigured('--metrics-url')),
      this.ops
        ? this.ops.poll(at)
        : Promise.reject(new NotConfigured('--clickhouse-url to a ClickHouse server')),
      this.lake ? this.lake.poll(at) : Promise.resolve(undefined as LakeView | undefined),
    ]);
    return {
      takenAt: new Date(at).toISOString(),
      intervalSeconds: this.opts.intervalSeconds,
      windowSize: this.opts.windowSize,
      kafka:
        kafka.status === 'fulfilled'
          ? { ok: true, brokers: this.opts.brokers, groups: this.visible(this.tracker.update(kafka.value)) }
          : failed(
              kafka.reason,
              isNetworkError(kafka.reason)
                ? `Kafka unreachable at ${this.opts.brokers.join(',')}`
                : `reading Kafka at ${this.opts.brokers.join(',')} failed`,
            ),
      connect:
        connect.status === 'fulfilled'
          ? { ok: true, url: this.connect!.url, connectors: connect.value }
          : failed(connect.reason, `Kafka Connect unreachable at ${this.connect?.url ?? ''}`),
      stream:
        stream.status === 'fulfilled'
          ? { ok: true, ...stream.value }
          : failed(stream.reason, `stream metrics unreachable at ${maskUrl(this.opts.metricsUrl ?? '')}`),
      warehouse:
        ops.status === 'fulfilled'
          ? { ok: true, url: maskUrl(this.opts.clickhouseUrl ?? ''), ...ops.value }
          : failed(
              ops.reason,
              isNetworkError(ops.reason) || (ops.reason as { exitCode?: number })?.exitCode === 3
                ? `ClickHouse unreachable at ${maskUrl(this.opts.clickhouseUrl ?? '')}`
                : `reading ${this.opts.opsDatabase ?? 'ops'}.loads at ${maskUrl(this.opts.clickhouseUrl ?? '')} failed`,
            ),
      ...(this.lake
        ? {
            lake:
              lake.status === 'fulfilled' && lake.value
                ? { ok: true as const, ...lake.value }
                : failed(lake.status === 'rejected' ? lake.reason : undefined, `reading the lake failed`),
          }
        : {}),
    };
  }

  /**
   * Groups with neither members nor committed offsets (left behind after their topics were
   * deleted) are noise unless asked for by name.
   */
  private visible(groups: GroupView[]): GroupView[] {
    if (this.opts.groups?.length) return groups;
    return groups.filter((g) => g.members > 0 || g.partitions.length > 0);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.kafkaSource.close(), this.ops?.close()]);
    this.lake?.close();
  }
}

class NotConfigured extends Error {
  constructor(readonly setting: string) {
    super(`not configured (set ${setting})`);
  }
}

function failed(reason: unknown, what: string): { ok: false; configured: boolean; error: string } {
  if (reason instanceof NotConfigured) return { ok: false, configured: false, error: reason.message };
  // One line: it goes into a banner. The server's own text often repeats itself on more lines.
  const msg = (reason instanceof Error ? describeError(reason) : String(reason))
    .split('\n', 1)[0]!
    .slice(0, 300);
  return { ok: false, configured: true, error: `${what}: ${msg}` };
}

/** fetch() hides the useful part ("ECONNREFUSED") in `cause`. */
function describeError(err: Error): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (err.name === 'TimeoutError') return 'no answer within the timeout';
  if (cause?.code) return `${err.message} (${cause.code})`;
  if (cause?.message) return `${err.message} (${cause.message})`;
  return err.message;
}
