// Power loss, simulated: on Linux a kill -9 never loses a LevelDB write (the
// OS keeps even unsynced ones), so only a disk that drops what was not synced
// can show that the store acknowledges nothing before it is durable. The
// memory disk (src/store/memory-adapter.ts) is that disk: each run writes
// under load, cuts the power at a random moment (while fsyncs are in flight),
// keeps only what was synced (or a random prefix of the rest), reopens, and
// checks the durability properties (durability.ts). Then the same test, run
// against deliberately broken stores, must fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { WriteOp } from '../../src/store/adapter.js';
import { openStore, type Durability, type Store } from '../../src/store/index.js';
import { MemoryAdapter, MemoryDisk } from '../../src/store/memory-adapter.js';
import { check, declare, writeOne, type Ack } from './durability.js';
import { seededRandom } from '../../src/transport/link-faults.js';

/** A disk that says "synced" without syncing: what a store that acknowledges before the fsync looks like from outside. */
class LyingAdapter extends MemoryAdapter {
  override write(ops: readonly WriteOp[], _sync: boolean): Promise<void> {
    return super.write(ops, false);
  }
}

type Variant = 'correct' | 'os-durability' | 'ack-before-sync';

interface Scenario {
  seed: number;
  owners: number;
  writers: number;
  perWriter: number;
  crashes: Array<{ afterTicks: number; keepUnsynced: number; diskError: { atTick: number; applied: boolean } | null }>;
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  seed: fc.integer(),
  owners: fc.integer({ min: 1, max: 5 }),
  writers: fc.integer({ min: 1, max: 8 }),
  perWriter: fc.integer({ min: 1, max: 12 }),
  crashes: fc.array(
    fc.record({
      afterTicks: fc.integer({ min: 0, max: 60 }),
      keepUnsynced: fc.nat({ max: 3 }),
      // A failed write before the cut: its batch may or may not have reached the disk.
      diskError: fc.option(fc.record({ atTick: fc.nat({ max: 40 }), applied: fc.boolean() }), { freq: 3 }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
});

const rng = seededRandom;

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** How hard the runs pushed: cuts that landed with batches written but not synced, and acknowledgements checked. */
const stats = { cuts: 0, cutsWithUnsynced: 0, acks: 0 };

/** Runs one scenario; returns the violations found after each simulated power loss. */
async function run(sc: Scenario, variant: Variant): Promise<string[]> {
  const random = rng(sc.seed);
  // An fsync takes 0 to 3 turns of the event loop, so a power cut often lands inside one.
  const syncDelay = async (): Promise<void> => {
    for (let n = Math.floor(random() * 4); n > 0; n--) await tick();
  };
  const durability: Durability = variant === 'os-durability' ? 'os' : 'fsync';
  const make = (d: MemoryDisk): MemoryAdapter => (variant === 'ack-before-sync' ? new LyingAdapter(d, { syncDelay }) : new MemoryAdapter(d, { syncDelay }));
  const owners = Array.from({ length: sc.owners }, (_, k) => `user:${k}`);
  const acks: Ack[] = [];
  let disk = new MemoryDisk();
  let writerId = 0;
  for (const crash of sc.crashes) {
    const s: Store = await openStore({ adapter: make(disk), durability, partitions: 4, sweepIntervalMs: 0 });
    const wl = declare(s);
    let down = false;
    const writers = Array.from({ length: sc.writers }, async () => {
      const w = writerId++;
      for (let i = 0; i < sc.perWriter && !down; i++) {
        const owner = owners[Math.floor(random() * owners.length)]!;
        try {
          const ack = await writeOne(s, wl, owner, w, i);
          // Only what was acknowledged before the power went counts.
          if (!down) acks.push(ack);
        } catch {
          // A rejected commit: not acknowledged; the writer goes on.
        }
      }
    });
    for (let t = 0; t < crash.afterTicks; t++) {
      if (crash.diskError && t === crash.diskError.atTick) disk.injectWriteError({ applied: crash.diskError.applied });
      await tick();
    }
    down = true;
    stats.cuts++;
    if (disk.unsyncedBatches > 0) stats.cutsWithUnsynced++;
    stats.acks += acks.length;
    const survivor = disk.powerLoss(crash.keepUnsynced);
    // The old process is gone: whatever it still does goes to a disk nobody reads.
    void s.close().catch(() => undefined);
    await Promise.allSettled(writers);
    disk = survivor;
    const after = await openStore({ adapter: new MemoryAdapter(disk), partitions: 4, sweepIntervalMs: 0 });
    const bad = await check(after, acks, owners, { replayLog: true });
    await after.close();
    if (bad.length > 0) return bad;
  }
  return [];
}

test('power loss: every acknowledged transaction survives, none is half there, numbers and LSNs have no holes (300 seeds)', async () => {
  await fc.assert(
    fc.asyncProperty(scenario, async (sc) => {
      const bad = await run(sc, 'correct');
      assert.deepEqual(bad, []);
    }),
    { numRuns: 300 },
  );
  // The property means something only if power cuts hit writes in flight.
  assert.ok(stats.cutsWithUnsynced > stats.cuts / 20, `${stats.cutsWithUnsynced} of ${stats.cuts} cuts caught unsynced batches`);
  assert.ok(stats.acks > 1000, `${stats.acks} acknowledgements checked`);
});

test('power loss: the checker catches a store with durability "os" (acknowledged, never synced)', async () => {
  const r = await fc.check(
    fc.asyncProperty(scenario, async (sc) => (await run(sc, 'os-durability')).length === 0),
    { numRuns: 300 },
  );
  assert.equal(r.failed, true, 'some power loss lost an acknowledged write');
});

test('power loss: the checker catches a store that acknowledges before the fsync', async () => {
  const r = await fc.check(
    fc.asyncProperty(scenario, async (sc) => (await run(sc, 'ack-before-sync')).length === 0),
    { numRuns: 300 },
  );
  assert.equal(r.failed, true, 'some power loss lost an acknowledged write');
  // And what it finds is a lost acknowledgement, not some other complaint.
  const sc = r.counterexample![0];
  const bad = await run(sc, 'ack-before-sync');
  assert.ok(bad.some((b) => /acknowledged/.test(b)), bad.join('\n'));
});
