/**
 * backoff is the wait in ms before reconnect attempt n (0 for the first
 * after a loss): full jitter, uniform over [0, min(max, min * 2^n)), so
 * that the clients of a failed node come back spread out rather than
 * together (docs/client-spec.md, "Reconnecting and backoff").
 */
export function backoff(n: number, min: number, max: number, random: () => number): number {
  const ceiling = Math.min(max, min * 2 ** Math.min(n, 62));
  return Math.floor(random() * ceiling);
}

/**
 * refreshDelay is when to refresh credentials that expire in ttl seconds,
 * in ms: at a random point between 80% and 90% of the ttl, so that clients
 * connected together do not refresh together; at least a second before
 * expiry; never before half the ttl (docs/client-spec.md, "Token refresh").
 */
export function refreshDelay(ttl: number, random: () => number): number {
  const n = ttl * 1000;
  return Math.floor(Math.max(n / 2, Math.min(n * (0.8 + 0.1 * random()), n - 1000)));
}

/**
 * retryAfterMs reads the Retry-After of an upgrade the server refused as
 * too busy (HTTP 503): whole seconds, as Herald sends them, in ms; anything
 * else gives 0, the usual backoff (docs/client-spec.md).
 */
export function retryAfterMs(status: number, header: string | string[] | undefined): number {
  if (status !== 503 || header === undefined) return 0;
  const n = Number(Array.isArray(header) ? header[0] : header);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 3600) * 1000 : 0;
}
