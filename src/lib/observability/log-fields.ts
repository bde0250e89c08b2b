/** ECS `event.outcome` and `event.duration` (nanoseconds) for a finished unit of work. */
export function eventOutcome(
  ok: boolean,
  startedAtMs: number,
  now: number = Date.now(),
): { 'event.outcome': 'success' | 'failure'; 'event.duration': number } {
  return {
    'event.outcome': ok ? 'success' : 'failure',
    'event.duration': Math.max(0, Math.round((now - startedAtMs) * 1e6)),
  };
}
