import { ports } from '../../helpers/stack.js';

/** The stack's Iceberg REST catalog (scripts/stack/services/iceberg-rest.sh, ICEBERG_REST_PORT). */
export function catalogUrl(): string {
  return process.env.SHOPDATA_TEST_ICEBERG_REST_URL ?? `http://127.0.0.1:${ports.ICEBERG_REST_PORT ?? 18181}`;
}

/** Drops a test namespace and its tables from the stack's catalog (files purged), best effort. */
export async function dropCatalogNamespace(namespace: string): Promise<void> {
  const base = `${catalogUrl()}/v1/namespaces/${encodeURIComponent(namespace)}`;
  try {
    const res = await fetch(`${base}/tables`);
    if (res.ok) {
      const { identifiers = [] } = (await res.json()) as { identifiers?: { name: string }[] };
      for (const t of identifiers)
        await fetch(`${base}/tables/${encodeURIComponent(t.name)}?purgeRequested=true`, { method: 'DELETE' });
    }
    await fetch(base, { method: 'DELETE' });
  } catch {
    // the catalog is shared: leftovers are harmless, only untidy
  }
}
