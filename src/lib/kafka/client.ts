import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { ShopdataConfig } from '../config/index.js';
import { ConfigError } from '../errors/index.js';
import type { Logger } from '../log/index.js';

/** Builds a kafkajs client from the shopdata config (brokers, TLS, SASL), logging through pino. */
export function createKafka(
  config: ShopdataConfig,
  logger?: Logger,
  overrides: Partial<KafkaConfig> = {},
): Kafka {
  const { brokers, clientId, ssl, sasl } = config.kafka;
  if (brokers.length === 0) {
    throw new ConfigError('No Kafka brokers configured.', {
      hint: 'Set SHOPDATA_KAFKA_BROKERS=host:port[,host:port] or pass --kafka-brokers (or use --from-file to replay a file).',
    });
  }
  return new Kafka({
    clientId,
    brokers,
    ssl,
    ...(sasl ? { sasl: sasl as SASLOptions } : {}),
    connectionTimeout: 5000,
    requestTimeout: 30000,
    retry: { initialRetryTime: 300, retries: 5 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      if (!logger) return;
      const { message, ...rest } = entry.log;
      const level =
        entry.level === logLevel.ERROR ? 'error' : entry.level === logLevel.WARN ? 'warn' : 'debug';
      logger[level]({ kafka: { namespace: entry.namespace, ...rest } }, message);
    },
    ...overrides,
  });
}
