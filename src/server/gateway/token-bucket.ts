/**
 * Token bucket: `burst` tokens, refilled at `rate` per second. The protocol's
 * send limit is a bucket of 200 refilled at 50/s per device; a refused send
 * may be sent again later with the same id.
 *
 * `charge` takes a cost known only afterwards (bytes of an answer) and may
 * leave the bucket in debt: nothing more is admitted until the debt has
 * been refilled, so a cost cannot be dodged by being large.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }

  take(now = Date.now()): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether at least one token is there now (nothing taken). */
  has(now = Date.now()): boolean {
    this.refill(now);
    return this.tokens >= 1;
  }

  /** Takes `n` tokens whatever is left (the bucket may go into debt). */
  charge(n: number, now = Date.now()): void {
    this.refill(now);
    this.tokens -= n;
  }

  /** Whether the bucket is full again by `now`: forgetting it then changes nothing. */
  full(now = Date.now()): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  /** Whole seconds until a token is there (for `Retry-After`); 0 when one is. */
  retryAfterS(now = Date.now()): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.rate);
  }
}
