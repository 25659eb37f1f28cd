/**
 * Attempts: the limits on the identity routes (POST /v1/sessions and
 * /v1/accounts), checked before a body is hashed or a store is read, so
 * guessing passwords or creating accounts in bulk costs the node little.
 *
 * | bucket (key)                       | limit (defaults in `Limits`)                                  |
 * |------------------------------------|---------------------------------------------------------------|
 * | requests (client address)          | `loginRate` 10/s, bursts of `loginBurst` 100; both routes     |
 * | failures (client address)          | `loginFailuresPerMinutePerAddress` 20 per minute              |
 * | failures (user name, per route)    | `loginFailuresPerMinute` 5 per minute                         |
 * | accounts created (client address)  | `accountsPerHourPerAddress` 100 per hour                      |
 * | password hashes in flight (node)   | `hashesInFlight` 16                                           |
 *
 * Guarantees:
 * - A failure token is taken before the attempt runs and given back only if
 *   it succeeds, so N concurrent guesses are held to the same bound as N
 *   sequential ones (5 per user name, 20 per address, in a minute).
 * - Refusals say which limit and when to come back (whole seconds, ≥ 1).
 * - Memory is bounded: each table (addresses, user names) holds at most
 *   `maxKeys` buckets (default 100 000), least recently used evicted first,
 *   and buckets that have refilled completely are dropped once a minute
 *   (forgetting a full bucket changes nothing). Evicting a bucket that is
 *   not full forgets its debt: an attacker who makes 100 000 fresh keys in
 *   between (from many addresses) gets a fresh bucket; the per-address
 *   limits make that cost as many addresses.
 * - An IPv6 client is keyed by its /64 (one host usually owns a whole /64);
 *   an IPv4-mapped IPv6 address is keyed as the IPv4 address.
 *
 * Limits are per node and in memory (a restart forgets them). The address
 * is the caller's (routes.ts: the TCP peer, or the last X-Forwarded-For
 * entry from a `trustedProxies` peer); behind an unlisted reverse proxy
 * every client shares the proxy's buckets (docs/security.md).
 */
import type { Limits } from '../config.js';
import { TokenBucket } from '../gateway/token-bucket.js';

/** Why an attempt is refused: the limit's name, a message for the client, when to retry. */
export interface Refusal {
  limit: keyof Limits;
  message: string;
  retryAfterS: number;
}

/** A reserved attempt: `succeeded()` gives the failure tokens back, `failed()` keeps them (first call wins). */
export interface Ticket {
  succeeded(): void;
  failed(): void;
}

export type IdentityRoute = 'login' | 'account';

const SWEEP_MS = 60_000;

/** A bounded LRU table of buckets. */
class Buckets {
  private readonly m = new Map<string, TokenBucket>();
  private lastSweep: number;

  constructor(
    private readonly maxKeys: number,
    now: number,
  ) {
    this.lastSweep = now;
  }

  get(key: string, rate: number, burst: number, now: number): TokenBucket {
    if (now - this.lastSweep >= SWEEP_MS) this.sweep(now);
    let b = this.m.get(key);
    if (b !== undefined) {
      // Most recently used last: eviction takes the first.
      this.m.delete(key);
    } else {
      b = new TokenBucket(rate, burst, now);
      if (this.m.size >= this.maxKeys) this.m.delete(this.m.keys().next().value as string);
    }
    this.m.set(key, b);
    return b;
  }

  get size(): number {
    return this.m.size;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [k, b] of this.m) if (b.full(now)) this.m.delete(k);
  }
}

export class Attempts {
  private readonly addresses: Buckets;
  private readonly users: Buckets;
  private hashing = 0;

  constructor(
    private readonly L: Limits,
    private readonly o: { maxKeys?: number; now?: () => number } = {},
  ) {
    const now = this.now();
    this.addresses = new Buckets(o.maxKeys ?? 100_000, now);
    this.users = new Buckets(o.maxKeys ?? 100_000, now);
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  /** Buckets held, both tables together (for tests of the bound). */
  get size(): number {
    return this.addresses.size + this.users.size;
  }

  /** One request to an identity route from `addr`; null if admitted. */
  request(addr: string): Refusal | null {
    const now = this.now();
    const b = this.addresses.get(`req ${addr}`, this.L.loginRate, this.L.loginBurst, now);
    if (b.take(now)) return null;
    return refusal('loginRate', `too many login and account requests from this address (limits.loginRate: ${this.L.loginRate}/s, bursts of ${this.L.loginBurst})`, b, now);
  }

  /**
   * Reserves one failure of `addr` and of `user` on `route` before the
   * attempt runs: both or neither.
   */
  reserve(route: IdentityRoute, addr: string, user: string): Ticket | Refusal {
    const now = this.now();
    const perAddr = this.L.loginFailuresPerMinutePerAddress;
    const perUser = this.L.loginFailuresPerMinute;
    const a = this.addresses.get(`fail ${addr}`, perAddr / 60, perAddr, now);
    if (!a.take(now)) return refusal('loginFailuresPerMinutePerAddress', `too many failed attempts from this address (limits.loginFailuresPerMinutePerAddress: ${perAddr} per minute)`, a, now);
    const u = this.users.get(`${route} ${user}`, perUser / 60, perUser, now);
    if (!u.take(now)) {
      a.charge(-1, now);
      return refusal('loginFailuresPerMinute', `too many failed attempts for this user name (limits.loginFailuresPerMinute: ${perUser} per minute)`, u, now);
    }
    let settled = false;
    return {
      succeeded: () => {
        if (settled) return;
        settled = true;
        const t = this.now();
        a.charge(-1, t);
        u.charge(-1, t);
      },
      failed: () => {
        settled = true;
      },
    };
  }

  /** One account about to be created from `addr`; `undo` gives it back (nothing was created). */
  account(addr: string): { undo(): void } | Refusal {
    const now = this.now();
    const n = this.L.accountsPerHourPerAddress;
    const b = this.addresses.get(`acct ${addr}`, n / 3600, n, now);
    if (!b.take(now)) return refusal('accountsPerHourPerAddress', `too many accounts created from this address (limits.accountsPerHourPerAddress: ${n} per hour)`, b, now);
    let undone = false;
    return {
      undo: () => {
        if (undone) return;
        undone = true;
        b.charge(-1, this.now());
      },
    };
  }

  /** A slot for one password hash; null past `hashesInFlight`. Release it exactly once. */
  hashSlot(): (() => void) | null {
    if (this.hashing >= this.L.hashesInFlight) return null;
    this.hashing++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.hashing--;
    };
  }
}

export function isRefusal(x: unknown): x is Refusal {
  return typeof x === 'object' && x !== null && 'retryAfterS' in x;
}

function refusal(limit: keyof Limits, what: string, b: TokenBucket, now: number): Refusal {
  const retryAfterS = Math.max(1, b.retryAfterS(now));
  return { limit, retryAfterS, message: `${what}; retry in ${retryAfterS} s` };
}

/**
 * The key of a client address: IPv4 as is (an IPv4-mapped IPv6 address as
 * its IPv4), IPv6 by its /64 prefix.
 */
export function addressKey(addr: string | undefined): string {
  if (addr === undefined || addr === '') return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (mapped) return mapped[1]!;
  if (!addr.includes(':')) return addr;
  const bare = addr.split('%')[0]!.toLowerCase();
  const [head, tail] = bare.includes('::') ? (bare.split('::', 2) as [string, string]) : [bare, null];
  const h = head === '' ? [] : head.split(':');
  const t = tail === null || tail === '' ? [] : tail.split(':');
  const groups = tail === null ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups
    .slice(0, 4)
    .map((g) => (Number.parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}
