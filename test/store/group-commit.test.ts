import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, type Store } from '../../src/store/index.js';
import { MemoryAdapter, MemoryDisk } from '../../src/store/memory-adapter.js';
import { freshStore, ownersInTwoPartitions } from './helpers.js';

/** A memory store whose fsyncs wait for `release()`. */
async function gatedStore(opts: { durability?: 'fsync' | 'os'; maxBatchOps?: number } = {}): Promise<{ s: Store; disk: MemoryDisk; release: () => void; waiting: () => number }> {
  const disk = new MemoryDisk();
  const gates: Array<() => void> = [];
  let gated = false; // the store's own header write at open goes through
  const adapter = new MemoryAdapter(disk, { syncDelay: () => (gated ? new Promise<void>((r) => gates.push(r)) : Promise.resolve()) });
  const s = await openStore({ adapter, sweepIntervalMs: 0, ...opts });
  gated = true;
  return { s, disk, release: () => gates.shift()?.(), waiting: () => gates.length };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('group commit', () => {
  test('commit resolves only after the batch is synced', async () => {
    const { s, release, waiting } = await gatedStore();
    const t = s.table<[string], number>('t', { key: ['string'] });
    let done = false;
    const p = t.put(['user:a'], 1).then(() => (done = true));
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(waiting(), 1, 'the batch is in its fsync');
    assert.equal(done, false, 'not acknowledged before the fsync completes');
    release();
    await p;
    assert.equal(done, true);
    await s.close();
  });

  test('writes arriving while a batch is being synced go to disk together in the next one', async () => {
    const { s, disk, release, waiting } = await gatedStore();
    const t = s.table<[string, number], number>('t', { key: ['string', 'uint'] });
    const first = t.put(['user:a', 0], 0);
    while (waiting() === 0) await tick();
    const rest = Array.from({ length: 100 }, (_, i) => t.put([`user:${i % 7}`, i + 1], i));
    for (let i = 0; i < 5; i++) await tick();
    const writesBefore = disk.writes;
    release();
    await first;
    while (waiting() === 0) await tick();
    assert.equal(disk.writes, writesBefore + 1, '100 commits, one more write');
    release();
    await Promise.all(rest);
    assert.equal(s.stats().batches, 2);
    assert.equal(s.stats().transactions, 101);
    await s.close();
  });

  test('a batch holds at most maxBatchOps intents', async () => {
    const s = await freshStore('memory', { maxBatchOps: 10 });
    const t = s.table<[string, number], number>('t', { key: ['string', 'uint'] });
    await Promise.all(Array.from({ length: 100 }, (_, i) => t.put(['user:a', i], i)));
    assert.ok(s.stats().batches >= 10, `${s.stats().batches} batches`);
    await s.close();
  });

  test('commits of one partition get increasing LSNs in call order; an LSN covers a whole batch', async () => {
    const s = await freshStore('memory');
    const t = s.table<[string, number], number>('t', { key: ['string', 'uint'] });
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => t.put(['user:a', i], i)));
    const lsns = rs.map((r) => r.lsn);
    assert.deepEqual(lsns, [...lsns].sort((a, b) => a - b), 'non-decreasing in call order');
    assert.equal(lsns[0], 1);
    assert.equal(s.lastLsn(s.partitionOf('user:a')), lsns[lsns.length - 1]);
    await s.close();
  });

  test('durability "os" acknowledges without waiting for an fsync', async () => {
    const { s, waiting } = await gatedStore({ durability: 'os' });
    const t = s.table<[string], number>('t', { key: ['string'] });
    await t.put(['user:a'], 1);
    assert.equal(waiting(), 0);
    await s.close();
  });
});

describe('failed writes', () => {
  test('a failing batch rejects its callers, acknowledges nothing, and the store keeps serving', async () => {
    const s = await freshStore('level');
    const t = s.table<[string, number], number>('t', { key: ['string', 'uint'] });
    await t.put(['user:a', 0], 0);
    s.faults.failWrites({ code: 'store_full' });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => t.put(['user:a', i + 1], i)));
    assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'store_full'));
    const err = (results[0] as PromiseRejectedResult).reason as { table?: string; key?: string; injected: boolean };
    assert.equal(err.table, 't');
    assert.equal(err.key, 'user:a,1');
    assert.equal(err.injected, true);
    for (let i = 1; i <= 10; i++) assert.equal(await t.get(['user:a', i]), undefined, 'nothing of the failed batch is there');
    await t.put(['user:a', 11], 11);
    assert.equal(await t.get(['user:a', 11]), 11);
    assert.equal(s.stats().failedBatches, 1);
    await s.close();
  });

  test('a partition fault fails that partition only; the other partitions of the same batch commit', async () => {
    const s = await freshStore('memory');
    const t = s.table<[string], number>('t', { key: ['string'] });
    const [x, y] = ownersInTwoPartitions(s);
    s.faults.failWrites({ partition: s.partitionOf(x), times: Infinity });
    const [rx, ry] = await Promise.allSettled([t.put([x], 1), t.put([y], 2)]);
    assert.equal(rx.status, 'rejected');
    assert.equal((rx as PromiseRejectedResult).reason.partition, s.partitionOf(x));
    assert.equal(ry.status, 'fulfilled');
    assert.equal(await t.get([y]), 2);
    await assert.rejects(t.put([x], 3), { code: 'store_io' });
    s.faults.clear();
    await t.put([x], 4);
    assert.equal(await t.get([x]), 4);
    await s.close();
  });

  test('a real disk error: the adapter is reopened and numbering goes on from what reached the disk', async () => {
    const disk = new MemoryDisk();
    const s = await openStore({ adapter: new MemoryAdapter(disk), sweepIntervalMs: 0 });
    const inbox = s.queue<number>('inbox');
    const ids = s.counter('ids');
    assert.equal(await inbox.append('user:a', 1), 1);
    // The write reports failure although the batch landed (an fsync error after the data hit the disk).
    disk.injectWriteError({ applied: true });
    const tx = s.transaction('user:a');
    tx.append(inbox, 'user:a', 2);
    tx.increment(ids, 'user:a');
    await assert.rejects(tx.commit(), { code: 'store_io' });
    // The store must not hand out 2 again: entry 2 and counter value 1 are on disk.
    assert.equal(await inbox.append('user:a', 3), 3);
    assert.equal(await ids.next('user:a'), 2);
    assert.deepEqual((await inbox.read('user:a')).map((e) => e.seq), [1, 2, 3]);
    await s.close();
  });

  test('a real disk error where the batch did not land: numbering has no gap', async () => {
    const disk = new MemoryDisk();
    const s = await openStore({ adapter: new MemoryAdapter(disk), sweepIntervalMs: 0 });
    const inbox = s.queue<number>('inbox');
    assert.equal(await inbox.append('user:a', 1), 1);
    disk.injectWriteError({ applied: false, code: 'store_full' });
    await assert.rejects(inbox.append('user:a', 2), { code: 'store_full' });
    assert.equal(await inbox.append('user:a', 2), 2);
    await s.close();
  });

  test('a slow disk (delayWrites) is batched behind: commits wait, none is lost', async () => {
    const s = await freshStore('memory');
    const t = s.table<[string, number], number>('t', { key: ['string', 'uint'] });
    s.faults.delayWrites(20);
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 50 }, (_, i) => t.put(['user:a', i], i)));
    assert.ok(Date.now() - t0 >= 19);
    assert.ok(s.stats().batches <= 3, `${s.stats().batches} batches`);
    s.faults.clear();
    assert.equal((await Promise.all(Array.from({ length: 50 }, (_, i) => t.get(['user:a', i])))).filter((v) => v === undefined).length, 0);
    await s.close();
  });
});

describe('counters', () => {
  test('next returns 1, 2, 3... per owner; concurrent calls get distinct values', async () => {
    const s = await freshStore('level');
    const c = s.counter('msgids');
    const vals = await Promise.all(Array.from({ length: 30 }, () => c.next('conv:x')));
    assert.deepEqual([...vals].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i + 1));
    assert.equal(await c.next('conv:x', 10), 40);
    assert.equal(await c.get('conv:x'), 40);
    assert.equal(await c.get('conv:y'), 0);
    await s.close();
  });

  test('the state cache may evict: values continue from disk', async () => {
    const s = await freshStore('memory', { stateCacheSize: 2 });
    const c = s.counter('ids');
    for (let round = 1; round <= 3; round++) {
      for (let i = 0; i < 5; i++) assert.equal(await c.next(`user:${i}`), round);
    }
    assert.ok(s.stats().cachedStates <= 2);
    await s.close();
  });
});
