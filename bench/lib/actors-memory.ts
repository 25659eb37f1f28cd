/**
 * Activation cost and memory per idle virtual actor, each measurement in a
 * fresh process so that one count's heap and RSS cannot leak into the next.
 *
 * `measureInChild(mode, count)` runs this file as
 * `node --expose-gc --import tsx bench/lib/actors-memory.ts <mode> <count>`;
 * it prints one JSON line ({@link MemoryResult}).
 *
 * - `actors`: a Host on the main thread with a kind `idle:*` whose behaviour
 *   has no fields (no user state) and passivation off. `count` first
 *   messages (`host.ref('idle:<i>').send(msg)`, 10 000 at a time, each
 *   chunk waited for until handled) activate `count` actors; the time per
 *   activation is that loop's time over `count`. Then the actors sit idle
 *   for 1.1 s and the host's sweep runs once (it releases the empty mailbox
 *   buffers of actors quiet for over a second, as its timer does every
 *   `sweepMs`), and memory is measured.
 * - `map` (the baseline): `count` entries `map.set('idle:<i>', {})`.
 *
 * Memory: `global.gc()` twice, then heapUsed and RSS, before and after;
 * the delta over `count`. Both sides hold the same id strings.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Host } from '../../src/actors/index.js';
import type { Behaviour } from '../../src/actors/index.js';

export type MemoryMode = 'actors' | 'map';

export interface MemoryResult {
  mode: MemoryMode;
  count: number;
  /** µs per activation (actors) or per map entry (map). */
  usEach: number;
  heapEach: number;
  rssEach: number;
  /** Actors only: heap each right after activation, mailbox buffers not yet released. */
  heapEachBusy: number | null;
}

const self = fileURLToPath(import.meta.url);

export function measureInChild(mode: MemoryMode, count: number): Promise<MemoryResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', self, mode, String(count)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`memory child (${mode} ${count}) exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as MemoryResult);
      } catch (e) {
        reject(e);
      }
    });
  });
}

// ---- the child ---------------------------------------------------------------------

function collect(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  gc();
  gc();
  return process.memoryUsage();
}

let handled = 0;
let target = 0;
let wake: (() => void) | null = null;

/** A behaviour with no fields: the actor's cost is the runtime's alone. */
class Idle implements Behaviour {
  handle(): void {
    if (++handled === target) wake?.();
  }
}

const MSG = { hello: true };

async function actors(count: number): Promise<MemoryResult> {
  const host = new Host({ node: 'bench', sweepMs: 0 });
  host.registerKind('idle', { create: () => new Idle(), idleMs: 0 });
  const m0 = collect();
  const t0 = performance.now();
  for (let i = 0; i < count; ) {
    const end = Math.min(count, i + 10_000);
    const done = new Promise<void>((r) => (wake = r));
    target = end;
    for (; i < end; i++) host.ref(`idle:${i}`).send(MSG);
    await done;
  }
  const ms = performance.now() - t0;
  if (host.actorCount !== count) throw new Error(`${host.actorCount} actors active, expected ${count}`);
  const busy = collect();
  await new Promise((r) => setTimeout(r, 1100));
  host.sweep();
  const m1 = collect();
  const r: MemoryResult = {
    mode: 'actors',
    count,
    usEach: (ms * 1000) / count,
    heapEach: (m1.heapUsed - m0.heapUsed) / count,
    rssEach: (m1.rss - m0.rss) / count,
    heapEachBusy: (busy.heapUsed - m0.heapUsed) / count,
  };
  if (host.actorCount !== count) throw new Error('actors were passivated while measuring');
  await host.shutdown();
  return r;
}

async function map(count: number): Promise<MemoryResult> {
  const m0 = collect();
  const t0 = performance.now();
  const entries = new Map<string, object>();
  for (let i = 0; i < count; i++) entries.set(`idle:${i}`, {});
  const ms = performance.now() - t0;
  const m1 = collect();
  if (entries.size !== count) throw new Error('map lost entries');
  return {
    mode: 'map',
    count,
    usEach: (ms * 1000) / count,
    heapEach: (m1.heapUsed - m0.heapUsed) / count,
    rssEach: (m1.rss - m0.rss) / count,
    heapEachBusy: null,
  };
}

if (process.argv[1] === self) {
  const mode = process.argv[2] as MemoryMode;
  const count = Number(process.argv[3]);
  const r = mode === 'actors' ? await actors(count) : await map(count);
  process.stdout.write(JSON.stringify(r) + '\n');
}
