/**
 * Unread counts: which messages of one conversation, from others, a user
 * has not read yet.
 *
 * Kept as ranges of seqs, `[lo1, hi1, lo2, hi2, …]` in increasing order,
 * rather than one number per message: the record is rewritten with every
 * message the user accepts, and a conversation that receives a thousand
 * messages in a row without a read is then one range, not a thousand
 * numbers. Ranges only split where the user's own messages interleave.
 *
 * At most `UNREAD_RANGES` ranges are kept; past that the oldest range is
 * folded into `extra` (a count without positions), which a read past the
 * oldest range kept clears.
 */

export const UNREAD_RANGES = 1000;

export interface Unread {
  /** `[lo, hi]` pairs, flat, ascending, non-adjacent. */
  ranges: number[];
  /** Unread messages older than the ranges kept. */
  extra: number;
}

/** A message from someone else was accepted; seqs arrive in increasing order. */
export function addUnread(u: Unread, seq: number): void {
  const r = u.ranges;
  const n = r.length;
  if (n > 0 && r[n - 1] === seq - 1) {
    r[n - 1] = seq;
    return;
  }
  if (n > 0 && r[n - 1]! >= seq) return; // a repeat
  r.push(seq, seq);
  if (r.length > 2 * UNREAD_RANGES) {
    u.extra += r[1]! - r[0]! + 1;
    r.splice(0, 2);
  }
}

/** The user has read everything up to `top`. */
export function readUnread(u: Unread, top: number): void {
  const r = u.ranges;
  if (r.length > 0 && top >= r[0]!) u.extra = 0;
  let i = 0;
  while (i < r.length && r[i + 1]! <= top) i += 2;
  if (i < r.length && r[i]! <= top) r[i] = top + 1;
  if (i > 0) r.splice(0, i);
}

export function countUnread(u: Unread): number {
  let n = u.extra;
  for (let i = 0; i < u.ranges.length; i += 2) n += u.ranges[i + 1]! - u.ranges[i]! + 1;
  return n;
}
