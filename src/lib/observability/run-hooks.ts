/**
 * What batch commands call after their work: a Pushgateway push when SHOPDATA_PUSHGATEWAY_URL is
 * set (grouped by job and day, plus `instance` from SHOPDATA_PUSHGATEWAY_INSTANCE when several
 * places run the same job). run-reports.ts and prom-client load only then, so a plain run pays
 * nothing for them.
 */
export async function withRunReports(
  fn: (reports: typeof import('./run-reports.js')) => Promise<unknown>,
): Promise<void> {
  if (!process.env.SHOPDATA_PUSHGATEWAY_URL) return;
  await fn(await import('./run-reports.js'));
}
