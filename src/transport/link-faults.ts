/**
 * Faults on links between threads: drop, duplicate or delay whole batches.
 *
 * Off unless a runtime is started with `faults: true`. Each outgoing batch
 * rolls a seeded generator (mulberry32) so a failing run can be replayed.
 * Delay keeps one FIFO queue per destination: a delayed batch also holds
 * back every later batch to that destination, so delay alone never reorders
 * (per-batch timers would, see FACTS.md). Drop and duplicate break per-pair
 * FIFO and exactly-once on purpose: the layers above must survive both.
 */
import { ConfigError } from '../actors/errors.js';

export interface LinkFaultConfig {
  /** Probability in [0, 1] that a batch is dropped. */
  drop?: number;
  /** Probability in [0, 1] that a batch is delivered twice. */
  duplicate?: number;
  /** Milliseconds every batch is held back (FIFO kept). */
  delayMs?: number;
  /** Seed of the generator; default 1. */
  seed?: number;
}

export interface LinkFaultCounts {
  dropped: number;
  duplicated: number;
  delayed: number;
}

export function validateLinkFaults(c: LinkFaultConfig): Required<LinkFaultConfig> {
  const p = (name: string, v: number | undefined): number => {
    const x = v ?? 0;
    if (typeof x !== 'number' || !(x >= 0 && x <= 1)) throw new ConfigError('invalid_fault', `${name} must be a probability in [0, 1], got ${String(v)}`);
    return x;
  };
  const delayMs = c.delayMs ?? 0;
  if (typeof delayMs !== 'number' || !(delayMs >= 0) || !Number.isFinite(delayMs)) throw new ConfigError('invalid_fault', `delayMs must be a finite number >= 0, got ${String(c.delayMs)}`);
  return { drop: p('drop', c.drop), duplicate: p('duplicate', c.duplicate), delayMs, seed: c.seed ?? 1 };
}

/** mulberry32: small, fast, and good enough to pick which batches to hurt. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
