/**
 * In-thread measurements for bench/actors.bench.ts: one Host on the main
 * thread (no workers), and the plain-JavaScript baselines beside it.
 */
import { Host } from '../../src/actors/index.js';
import type { ActorRef, Behaviour } from '../../src/actors/index.js';
import { callMany, type CallerResult } from '../fixtures/actors-kinds.js';

interface Tick {
  v: number;
}

/** The work both sides do per message: add a field to a running sum. */
class Summer implements Behaviour<Tick> {
  sum = 0;
  count = 0;
  target = 0;
  wake: (() => void) | null = null;
  handle(m: Tick): void {
    this.sum += m.v;
    if (++this.count === this.target) this.wake?.();
  }
}

const MSG: Tick = { v: 1 };

/**
 * Sends `n` casts from main-thread code to a spawned actor, `chunk` at a
 * time (send a chunk, wait until the actor has handled it), so the mailbox
 * stays small. Returns messages per second.
 */
export async function inThreadSend(n: number, chunk = 10_000): Promise<number> {
  const host = new Host({ node: 'bench', sweepMs: 0 });
  const beh = new Summer();
  const ref: ActorRef<Tick> = await host.spawn(beh);
  const t0 = performance.now();
  for (let sent = 0; sent < n; ) {
    const m = Math.min(chunk, n - sent);
    const handled = new Promise<void>((r) => (beh.wake = r));
    beh.target = sent + m;
    for (let i = 0; i < m; i++) ref.send(MSG);
    sent += m;
    await handled;
  }
  const ms = performance.now() - t0;
  if (beh.sum !== n) throw new Error(`handled ${beh.sum} of ${n}`);
  await host.shutdown();
  return (n / ms) * 1000;
}

/** Baseline: the same handler called directly `n` times, in the same chunks. Messages per second. */
export async function directCalls(n: number, chunk = 10_000): Promise<number> {
  const beh = new Summer();
  const t0 = performance.now();
  for (let sent = 0; sent < n; ) {
    const m = Math.min(chunk, n - sent);
    for (let i = 0; i < m; i++) beh.handle(MSG);
    sent += m;
    await new Promise<void>((r) => setImmediate(r));
  }
  const ms = performance.now() - t0;
  if (beh.sum !== n) throw new Error(`handled ${beh.sum} of ${n}`);
  return (n / ms) * 1000;
}

class Echo implements Behaviour<number> {
  handle(m: number): number {
    return m;
  }
}

/** `k` calls from main-thread code to an actor on the same thread, `concurrency` in flight. */
export async function inThreadCalls(k: number, concurrency: number): Promise<CallerResult> {
  const host = new Host({ node: 'bench', sweepMs: 0 });
  const ref = await host.spawn(new Echo());
  const r = await callMany(ref, k, concurrency, (to, i) => to.call(i));
  await host.shutdown();
  return r;
}

async function echo(m: number): Promise<number> {
  return m;
}

/** Baseline: `k` awaited calls of a plain async function. */
export function asyncFnCalls(k: number, concurrency: number): Promise<CallerResult> {
  return callMany(null, k, concurrency, (_to, i) => echo(i));
}
