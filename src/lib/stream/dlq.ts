import { open, type FileHandle } from 'node:fs/promises';
import type { IHeaders, Kafka, Producer } from 'kafkajs';
import { injectKafkaHeaders } from '../observability/tracing.js';
import type { DeadLetter, DeadLetterSink, StreamMessage } from './types.js';

/** Header names on dead letters; the original headers are kept alongside. */
export const DLQ_HEADERS = {
  reason: 'shopdata.dlq.reason',
  error: 'shopdata.dlq.error',
  topic: 'shopdata.source.topic',
  partition: 'shopdata.source.partition',
  offset: 'shopdata.source.offset',
  at: 'shopdata.dlq.at',
} as const;

function raw(v: StreamMessage['key']): Buffer | string | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v) || typeof v === 'string') return v;
  return JSON.stringify(v);
}

/**
 * The dead-letter topic: original key and value bytes, reason and source position in headers, and
 * (with tracing on) the `traceparent` of the span that dead-lettered it, so the rejection can be
 * found in the same trace as the producer's record.
 */
export class KafkaDeadLetterSink implements DeadLetterSink {
  readonly description: string;
  private producer: Producer | undefined;

  constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
  ) {
    this.description = `kafka topic ${topic}`;
  }

  async send(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    if (!this.producer) {
      const p = this.kafka.producer({
        allowAutoTopicCreation: true,
        idempotent: true,
        maxInFlightRequests: 1,
      });
      await p.connect();
      this.producer = p;
    }
    const at = new Date().toISOString();
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: letters.map((l) => {
        const headers: IHeaders = {};
        for (const [k, v] of Object.entries(l.message.headers ?? {})) if (v !== undefined) headers[k] = v;
        headers[DLQ_HEADERS.reason] = l.reason;
        headers[DLQ_HEADERS.error] = l.error.length > 4000 ? l.error.slice(0, 4000) + '…' : l.error;
        headers[DLQ_HEADERS.topic] = l.message.topic;
        headers[DLQ_HEADERS.partition] = String(l.message.partition);
        headers[DLQ_HEADERS.offset] = l.message.offset;
        headers[DLQ_HEADERS.at] = at;
        injectKafkaHeaders(headers);
        return { key: raw(l.message.key), value: raw(l.message.value), headers };
      }),
    });
  }

  async close(): Promise<void> {
    await this.producer?.disconnect();
    this.producer = undefined;
  }
}

/**
 * `FILE.rejects.jsonl` next to a replay file: one JSON object per reject with the reason, the
 * source position and the original key and value. Created (truncated) on the first reject only.
 */
export class FileDeadLetterSink implements DeadLetterSink {
  readonly description: string;
  private handle: FileHandle | undefined;

  constructor(readonly path: string) {
    this.description = `file ${path}`;
  }

  async send(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    this.handle ??= await open(this.path, 'w');
    const text = letters
      .map((l) =>
        JSON.stringify({
          reason: l.reason,
          error: l.error,
          line: l.message.line,
          topic: l.message.topic,
          partition: l.message.partition,
          offset: l.message.offset,
          key: asText(l.message.key),
          value: asText(l.message.value),
        }),
      )
      .join('\n');
    await this.handle.write(text + '\n');
    await this.handle.datasync();
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }
}

function asText(v: StreamMessage['key']): unknown {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return v;
}
