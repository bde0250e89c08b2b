import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

/** Ports of the local stack, read from the same file the stack scripts use. */
const portsFile = fileURLToPath(new URL('../../scripts/stack/ports.env', import.meta.url));
export const ports: Record<string, number> = Object.fromEntries(
  readFileSync(portsFile, 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z][A-Z0-9_]*=\d+/.test(l))
    .map((l) => {
      const [k, v] = l.split('=');
      return [k!, Number(v)];
    }),
);

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const STACK_DIR = process.env.SHOPDATA_STACK_DIR ?? `${REPO_ROOT}.stack`;

/** Connection settings of the local stack (loopback only). */
export const stack = {
  postgresUrl: `postgres://shopdata:shopdata@127.0.0.1:${ports.PG_PORT}/shop`,
  kafkaBrokers: [`127.0.0.1:${ports.KAFKA_PORT}`],
  connectUrl: `http://127.0.0.1:${ports.CONNECT_PORT}`,
  clickhouseUrl: `http://default:@127.0.0.1:${ports.CH_HTTP_PORT}`,
  s3Endpoint: `http://127.0.0.1:${ports.S3_PORT}`,
  s3Bucket: 'shopdata-lake',
  mongoUrl: `mongodb://127.0.0.1:${ports.FERRETDB_PORT}/shop_events`,
  prometheusUrl: `http://127.0.0.1:${ports.PROMETHEUS_PORT}`,
  pushgatewayUrl: `http://127.0.0.1:${ports.PUSHGATEWAY_PORT}`,
  python: `${STACK_DIR}/venv/bin/python`,
} as const;

/** S3 credentials the local S3 server accepts. */
export const s3Env = {
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_REGION: 'us-east-1',
} as const;

/** A unique, SQL- and topic-safe name for one test's tables, topics, groups and prefixes. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}
