/** One consumed message, from Kafka or from a replay file. */
export interface StreamMessage {
  topic: string;
  partition: number;
  /** Kafka offset as a decimal string (kafkajs' representation). */
  offset: string;
  key: Buffer | string | object | null;
  value: Buffer | string | object | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
  /** 1-based line of the replay file, for rejects. */
  line?: number;
}

/** A message that cannot be loaded, and why. */
export interface DeadLetter {
  message: StreamMessage;
  /** Stable reason code (`malformed-json`, `unknown-table`, `type-mismatch`, `mapping-failed`, ...). */
  reason: string;
  /** Human-readable explanation with what to do. */
  error: string;
}

/** Where dead letters go: the DLQ topic, or the rejects file next to a replay file. */
export interface DeadLetterSink {
  readonly description: string;
  /** Resolves once every letter is durably written (Kafka acks=all, or flushed to the file). */
  send(letters: readonly DeadLetter[]): Promise<void>;
  close(): Promise<void>;
}

/** The next offset to commit for a partition: everything before it is in ClickHouse or the DLQ. */
export interface PartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

export interface TopicCounts {
  events: number;
  loaded: number;
  skipped: number;
  dlq: number;
}

/** What `shopdata stream --json` prints. */
export interface StreamResult {
  source: 'kafka' | 'file';
  /** Per source topic: messages, changes loaded, tombstones skipped, dead letters. */
  topics: Record<string, TopicCounts>;
  /** Changes loaded per source table. */
  sourceTables: Record<string, number>;
  /** Rows ClickHouse confirmed per vault table. */
  vaultRows: Record<string, number>;
  dlq: { count: number; destination: string; reasons: Record<string, number> };
  /** Kafka: the last committed next-offset per `topic/partition`; file: lines read. */
  offsetsCommitted: Record<string, string>;
  batches: number;
  durationMs: number;
  stoppedBy: 'idle' | 'eof' | 'SIGTERM' | 'SIGINT' | 'error';
}
