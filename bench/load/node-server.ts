/**
 * The Parley node under test, in its own process (forked by run.ts with an
 * IPC channel): `createNode` from src/ on 127.0.0.1, an ephemeral port, a
 * fresh data directory, durability "fsync" (the default), the given number
 * of scheduler threads, and a known secret so the drivers can sign tokens.
 * The per-device send rate limit is lifted (a load driver's senders are far
 * above 50/s by design); every other limit keeps its default.
 *
 * Tells its parent `{t: 'up', url, pid, threads}` once listening (threads:
 * Linux thread id → `main` or `sched-<n>`, written by thread-ids.ts);
 * answers `{t: 'mem'}` with heap figures per thread and the actor count; `{t: 'stop'}` stops
 * it gracefully and it exits.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode } from '../../src/server/node.js';

interface Args {
  data: string;
  workers: number;
  secret: string;
  durability: 'fsync' | 'os';
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const tids = mkdtempSync(join(tmpdir(), 'parley-tids-'));
process.env.PARLEY_LOAD_TIDS = tids;
const node = await createNode({
  host: '127.0.0.1',
  port: 0,
  data: args.data,
  workers: args.workers,
  secret: args.secret,
  durability: args.durability,
  log: 'warn',
  // The driver is one address with thousands of users on it: the abuse
  // limits (per address, per device) would measure the limits, not the node.
  limits: {
    sendRate: 10_000_000,
    sendBurst: 10_000_000,
    frameRate: 10_000_000,
    frameBurst: 10_000_000,
    connectionsPerAddress: 1_000_000,
    userSendsInFlight: 1_000_000,
  },
  modules: [new URL('./thread-ids.ts', import.meta.url)],
});
await node.start();
const threads: Record<string, string> = { [String(process.pid)]: 'main' };
for (const f of readdirSync(tids)) threads[readFileSync(join(tids, f), 'utf8')] = `sched-${f}`;
rmSync(tids, { recursive: true, force: true });
process.send!({ t: 'up', url: node.url, pid: process.pid, threads });
let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  const hard = setTimeout(() => process.exit(3), 20_000);
  hard.unref();
  try {
    await node.stop();
  } finally {
    process.exit(0);
  }
};
process.on('message', (m: { t?: string }) => {
  if (m.t === 'stop') void stop();
  if (m.t === 'mem') {
    // Where the memory is: this thread's heap, and each scheduler thread's (garbage included: no forced GC).
    void node.runtime.stats().then((st) => {
      const workers = st.threads.filter((t) => t.thread !== 0) as Array<{ heapUsed?: number; actors: number }>;
      process.send!({
        t: 'mem',
        mainHeap: process.memoryUsage().heapUsed,
        external: process.memoryUsage().external,
        workerHeap: workers.reduce((a, t) => a + (t.heapUsed ?? 0), 0),
        actors: st.totals.actors,
      });
    });
  }
});
process.on('SIGTERM', () => void stop());
process.on('disconnect', () => void stop());
