/**
 * The partition log's two modes (options.ts `log`): `ops` records every
 * batch's ops for followers; `lsn` numbers the batches the same way and
 * records nothing else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { openStore, type Store, type StoreOptions } from '../../src/store/index.js';
import type { WriteOp } from '../../src/store/adapter.js';
import { MemoryAdapter, MemoryDisk } from '../../src/store/memory-adapter.js';
import { collect } from './helpers.js';

/** A memory adapter that counts the bytes handed to it. */
class CountingAdapter extends MemoryAdapter {
  bytes = 0;
  override write(ops: readonly WriteOp[], sync: boolean): Promise<void> {
    for (const op of ops) this.bytes += op.key.length + (op.value?.length ?? 0);
    return super.write(ops, sync);
  }
}

function open(disk: MemoryDisk, log: StoreOptions['log']): Promise<Store> {
  return openStore({ adapter: new CountingAdapter(disk), sweepIntervalMs: 0, log });
}

/** One workload step: a record put, a queue append, or an ack of everything so far, for one of a few owners. */
type Step = { owner: number; kind: 'put' | 'append' | 'ack' };
const stepsArb = fc.array(fc.record({ owner: fc.nat({ max: 5 }), kind: fc.constantFrom<Step['kind']>('put', 'append', 'ack') }), { minLength: 1, maxLength: 40 });

async function run(s: Store, steps: Step[]): Promise<number[]> {
  const t = s.table<[string, number], { body: string }>('t', { key: ['string', 'uint'] });
  const q = s.queue<{ body: string }>('inbox');
  const lsns: number[] = [];
  for (const [i, st] of steps.entries()) {
    const owner = `user:${st.owner}`;
    const tx = s.transaction(owner);
    if (st.kind === 'put') tx.put(t, [owner, i], { body: 'x'.repeat(100) });
    else if (st.kind === 'append') tx.subscribe(q, owner, 'phone', 'start').append(q, owner, { body: 'y'.repeat(100) });
    else tx.subscribe(q, owner, 'phone', 'start');
    lsns.push((await tx.commit()).lsn);
  }
  return lsns;
}

test('log: "lsn" numbers every batch exactly as log: "ops" does, and the numbers survive a reopen (property)', async () => {
  await fc.assert(
    fc.asyncProperty(stepsArb, async (steps) => {
      const opsDisk = new MemoryDisk();
      const lsnDisk = new MemoryDisk();
      const a = await open(opsDisk, 'ops');
      const b = await open(lsnDisk, 'lsn');
      assert.deepEqual(await run(b, steps), await run(a, steps));
      const owners = [...new Set(steps.map((s) => `user:${s.owner}`))];
      const last = owners.map((o) => a.lastLsn(a.partitionOf(o)));
      assert.deepEqual(owners.map((o) => b.lastLsn(b.partitionOf(o))), last);
      await a.close();
      await b.close();
      const again = await open(lsnDisk, 'lsn');
      assert.deepEqual(owners.map((o) => again.lastLsn(again.partitionOf(o))), last);
      // The next batch of a partition follows the last one, with no gap and no repeat.
      const next = await again.table<[string, number], { body: string }>('t', { key: ['string', 'uint'] }).put([owners[0]!, 1e6], { body: 'z' }).then(() => again.lastLsn(again.partitionOf(owners[0]!)));
      assert.equal(next, last[0]! + 1);
      await again.close();
    }),
    { numRuns: 25 },
  );
});

test('log: "lsn" writes each op once: about half the bytes of log: "ops", and the same data', async () => {
  const steps: Step[] = Array.from({ length: 200 }, (_, i) => ({ owner: i % 6, kind: i % 2 === 0 ? 'put' : 'append' }));
  const opsAdapter = new CountingAdapter(new MemoryDisk());
  const lsnAdapter = new CountingAdapter(new MemoryDisk());
  // One clock for both: queue entries carry their expiry time.
  const clock = (): number => 1_700_000_000_000;
  const a = await openStore({ adapter: opsAdapter, sweepIntervalMs: 0, log: 'ops', clock });
  const b = await openStore({ adapter: lsnAdapter, sweepIntervalMs: 0, log: 'lsn', clock });
  const before = [opsAdapter.bytes, lsnAdapter.bytes];
  await run(a, steps);
  await run(b, steps);
  const opsBytes = opsAdapter.bytes - before[0]!;
  const lsnBytes = lsnAdapter.bytes - before[1]!;
  assert.ok(lsnBytes < opsBytes * 0.6, `lsn wrote ${lsnBytes} bytes, ops ${opsBytes}`);
  for (let p = 0; p < a.partitions; p++) {
    const [sa, sb] = [await a.snapshot(p), await b.snapshot(p)];
    assert.deepEqual(await collect(sb.entries()), await collect(sa.entries()), `partition ${p}`);
    await sa.close();
    await sb.close();
  }
  await a.close();
  await b.close();
});

test('follow on a store opened with log: "lsn" fails with store_invalid naming the option', async () => {
  const s = await open(new MemoryDisk(), 'lsn');
  await s.table<[string], number>('t', { key: ['string'] }).put(['user:a'], 1);
  await assert.rejects(collect(s.follow(s.partitionOf('user:a'), 1)), (e: Error & { code?: string }) => e.code === 'store_invalid' && /log: "lsn"/.test(e.message));
  await s.close();
});

test('reopened with log: "ops", batches written under "lsn" cannot be followed (store_log_trimmed); new ones can', async () => {
  const disk = new MemoryDisk();
  const s = await open(disk, 'lsn');
  const t = s.table<[string], number>('t', { key: ['string'] });
  const p = s.partitionOf('user:a');
  await t.put(['user:a'], 1);
  await t.put(['user:a'], 2);
  await s.close();
  const again = await open(disk, 'ops');
  await assert.rejects(collect(again.follow(p, 1)), { code: 'store_log_trimmed' });
  await again.table<[string], number>('t', { key: ['string'] }).put(['user:a'], 3);
  const [b] = await collect(again.follow(p, 3), 1);
  assert.equal(b!.lsn, 3);
  assert.equal(b!.ops.length > 0, true);
  await again.close();
});

test('an unknown log mode is refused with store_invalid naming the option', async () => {
  await assert.rejects(open(new MemoryDisk(), 'all' as StoreOptions['log']), (e: Error & { code?: string }) => e.code === 'store_invalid' && /option log/.test(e.message));
});
