/**
 * What batch commands call around their work: a span when traces are exported, a Pushgateway push
 * when SHOPDATA_PUSHGATEWAY_URL is set (grouped by job and day, plus `instance` from
 * SHOPDATA_PUSHGATEWAY_INSTANCE when several places run the same job). Both modules load only when configured, so a plain run pays
 * nothing for them.
 */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export async function inSpan<T>(
  name: string,
  attributes: Record<string, string | number | boolean | string[]>,
  fn: () => Promise<T>,
): Promise<T> {
  if (!tracingEnabled()) return fn();
  const { withSpan } = await import('./tracing.js');
  return withSpan(name, { attributes }, () => fn());
}

export async function withBatchReporting(
  fn: (reporting: typeof import('./batch-reporting.js')) => Promise<unknown>,
): Promise<void> {
  if (!process.env.SHOPDATA_PUSHGATEWAY_URL) return;
  await fn(await import('./batch-reporting.js'));
}
