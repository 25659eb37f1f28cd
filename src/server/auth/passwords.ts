/**
 * Password hashing: scrypt (N = 16384, r = 8, p = 1, 16-byte salt, 32-byte
 * key), stored as `scrypt$N$r$p$salt$key` (base64url); hashes stored by
 * earlier versions verify unchanged. Comparison is constant-time.
 *
 * The work runs on the node's CPU pool (src/runtime/cpu-pool.ts, scryptSync
 * on a piscina thread), never on libuv's 4-thread pool: that pool also runs
 * LevelDB's synced writes, so hashing there let a burst of logins stall
 * every user's sends. How many hashes may be in flight is bounded by the
 * caller (routes.ts, `limits.hashesInFlight`).
 *
 * `verifyDummy` costs what a real verification costs and always fails: a
 * login for an unknown user, or a user without a password, takes as long as
 * a wrong password, so timing does not tell which names exist.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { CpuPool } from '../../runtime/cpu-pool.js';

const N = 16384;
const R = 8;
const P = 1;

/** A hash of a password nobody has, with the parameters of real ones (same cost to verify). */
const DUMMY_HASH = 'scrypt$16384$8$1$NQQzzjH7zJt9Fr_9f1aN9w$gobZdqWAxUiv4nhbtRb4ajqAh9cT96vvChIAr2-22fA';

export async function hashPassword(pool: CpuPool, password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await pool.scrypt(password, salt, { N, r: R, p: P, len: 32 });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(pool: CpuPool, password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, key] = parts as [string, string, string, string, string, string];
  const want = Buffer.from(key, 'base64url');
  if (want.length === 0) return false;
  const got = await pool.scrypt(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p), len: want.length });
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Verifies `password` against a hash no password matches: the cost of a real check, answer false. */
export async function verifyDummy(pool: CpuPool, password: string): Promise<false> {
  await verifyPassword(pool, password, DUMMY_HASH);
  return false;
}
