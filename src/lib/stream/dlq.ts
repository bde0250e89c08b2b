import { open, type FileHandle } from 'node:fs/promises';
import type { IHeaders, Kafka, Producer } from 'kafkajs';
import { injectKafkaHeaders } from '../observability/tracing.js';
import { FORBIDDEN_COLUMNS } from '../debezium/source-schema.js';
import { MAX_NESTING, nestsDeeperThan, parseJsonExact, stringifyJsonExact } from '../values/index.js';
import type { DeadLetter, DeadLetterSink, StreamMessage } from './types.js';

/**
 * Dead letters hold source data: the DLQ topic and FILE.rejects.jsonl need the same access control
 * as the source topics (docs/HASHING.md, "Dead letters"). What never goes there: the columns of
 * FORBIDDEN_COLUMNS (password_hash), removed from keys, values and headers at any depth, also
 * inside JSON held in strings (MongoDB documents) and in text that is not JSON at all; and
 * anything shaped like a bcrypt hash. Reasons name the field and the problem, never the value.
 */
const REMOVED = '[removed]';
const FORBIDDEN_NAMES = [...FORBIDDEN_COLUMNS].map((c) => c.replace(/[^A-Za-z0-9_]/g, '')).join('|');
/** `"password_hash": <value>` in JSON text, also with its quotes escaped once or more (JSON inside a string). */
const FORBIDDEN_PAIR = new RegExp(
  String.raw`(\\*"(?:${FORBIDDEN_NAMES})\\*"\s*:\s*)(?:(\\*)"[^"\\]*\\*"|[^,}\]\s]+)`,
  'g',
);
/** Modular-crypt bcrypt hashes ($2a$10$ + 53 characters), wherever they appear. */
const BCRYPT = /\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}/g;

/** Text with every forbidden column's value and every bcrypt-shaped string replaced. */
export function scrubText(text: string): string {
  return text
    .replace(
      FORBIDDEN_PAIR,
      (_m, key: string, esc: string | undefined) => `${key}${esc ?? ''}"${REMOVED}${esc ?? ''}"`,
    )
    .replace(BCRYPT, REMOVED);
}

/** A parsed JSON value without forbidden keys, descending into strings that hold JSON objects. */
function scrubParsed(v: unknown, depth = 0): unknown {
  if (depth > MAX_NESTING) return REMOVED;
  if (typeof v === 'string') {
    if (!v.includes('{') || !/password|\$2/.test(v)) return v;
    try {
      const inner = parseJsonExact(v);
      if (typeof inner === 'object' && inner !== null && !nestsDeeperThan(inner, MAX_NESTING))
        return stringifyJsonExact(scrubParsed(inner, depth + 1));
    } catch {
      // not JSON: the text scrub below handles it
    }
    return scrubText(v);
  }
  if (Array.isArray(v)) return v.map((x) => scrubParsed(x, depth + 1));
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (!FORBIDDEN_COLUMNS.has(k)) out[k] = scrubParsed(x, depth + 1);
    return out;
  }
  return v;
}

/**
 * A message key or value as it may be dead-lettered: forbidden columns removed. Parsed JSON stays
 * structured; text is parsed when it is JSON (and re-serialised), otherwise scrubbed as text. A
 * value too deeply nested to walk safely is dropped (the reason says why it was rejected).
 */
export function scrubPayload(v: StreamMessage['value']): string | object | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v) || typeof v === 'string') {
    const text = Buffer.isBuffer(v) ? v.toString('utf8') : v;
    let parsed: unknown;
    try {
      parsed = parseJsonExact(text);
    } catch {
      return scrubText(text);
    }
    if (typeof parsed !== 'object' || parsed === null) return scrubText(text);
    if (nestsDeeperThan(parsed, MAX_NESTING)) return null;
    return scrubText(stringifyJsonExact(scrubParsed(parsed)));
  }
  if (nestsDeeperThan(v, MAX_NESTING)) return null;
  return scrubParsed(v) as object;
}

/**
 * A ClickHouse insert error without the row data it quotes (`before: <text>`, `Row 1: … parsed
 * text: "…"`), for logs and dead-letter reasons.
 */
export function redactInsertError(message: string): string {
  return scrubText(message)
    .replace(/(before: )[\s\S]*?(: \(at row \d+\)|$)/g, '$1[data removed]$2')
    .replace(/parsed text: "[\s\S]*?"(?=\s|,|$)/g, 'parsed text: [data removed]')
    .replace(/\n?Row \d+:[\s\S]*$/, '');
}

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
  const s = scrubPayload(v);
  return s === null || typeof s === 'string' ? s : stringifyJsonExact(s);
}

/**
 * The dead-letter topic: the original key and value (without forbidden columns), reason and
 * source position in headers, and (with tracing on) the `traceparent` of the span that
 * dead-lettered it, so the rejection can be found in the same trace as the producer's record. It
 * holds source data: give it the source topics' ACLs.
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
        for (const [k, v] of Object.entries(l.message.headers ?? {})) {
          if (v === undefined) continue;
          headers[k] = Array.isArray(v) ? v.map(scrubHeader) : scrubHeader(v);
        }
        const error = scrubText(l.error);
        headers[DLQ_HEADERS.reason] = l.reason;
        headers[DLQ_HEADERS.error] = error.length > 4000 ? error.slice(0, 4000) + '…' : error;
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

function scrubHeader(v: Buffer | string): Buffer | string {
  const text = Buffer.isBuffer(v) ? v.toString('utf8') : v;
  const clean = scrubText(text);
  return clean === text ? v : clean;
}

/**
 * `FILE.rejects.jsonl` next to a replay file: one JSON object per reject with the reason, the
 * source position and the original key and value (without forbidden columns). Created
 * (truncated) on the first reject only, readable by its owner only (mode 0600): it holds source data.
 */
export class FileDeadLetterSink implements DeadLetterSink {
  readonly description: string;
  private handle: FileHandle | undefined;

  constructor(readonly path: string) {
    this.description = `file ${path}`;
  }

  async send(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    if (!this.handle) {
      const h = await open(this.path, 'w', 0o600);
      await h.chmod(0o600); // an existing file keeps its mode on open: tighten it
      this.handle = h;
    }
    const text = letters
      .map((l) =>
        stringifyJsonExact({
          reason: l.reason,
          error: scrubText(l.error),
          line: l.message.line,
          topic: l.message.topic,
          partition: l.message.partition,
          offset: l.message.offset,
          key: scrubPayload(l.message.key),
          value: scrubPayload(l.message.value),
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
