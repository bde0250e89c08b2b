import { ports } from '../../helpers/stack.js';

/** The stack's Iceberg REST catalog (scripts/stack/services/iceberg-rest.sh, ICEBERG_REST_PORT). */
export function catalogUrl(): string {
  return process.env.SHOPDATA_TEST_ICEBERG_REST_URL ?? `http://127.0.0.1:${ports.ICEBERG_REST_PORT ?? 18181}`;
}
