/**
 * Exponential backoff with jitter, for reconnecting and for retrying a send
 * the server refused with `rate_limited`.
 *
 * Attempt n (from 1) waits a delay drawn uniformly from [b/2, b], where
 * b = min(maxMs, minMs · 2^(n-1)) ("equal jitter"). The random half spreads
 * the reconnects of many clients that lost the same node at the same moment,
 * so they do not all come back in one burst; the fixed half keeps a client
 * from retrying at once after a string of unlucky draws.
 */

export interface BackoffPolicy {
  /** The ceiling of the first delay, in ms. */
  minMs: number;
  /** No delay exceeds this, in ms. */
  maxMs: number;
}

/** The delay before attempt `attempt` (1, 2, 3 …), in whole ms. */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  // 2^30 already passes any sane maxMs; capping the exponent keeps the product finite.
  const ceiling = Math.min(policy.maxMs, policy.minMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
