import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import path from 'node:path';
import { openStore, StoreError } from '../../src/store/index.js';
import { MemoryAdapter, MemoryDisk } from '../../src/store/memory-adapter.js';
import { collect, freshStore, ownersInOnePartition, ownersInTwoPartitions, tmpDir, type Backend } from './helpers.js';

interface Msg {
  from: string;
  text: string;
}

for (const backend of ['memory', 'level'] as Backend[]) {
  describe(`tables (${backend})`, () => {
    test('put, get, del of one record; a missing record reads as undefined', async () => {
      const s = await freshStore(backend);
      const log = s.table<[string, number], Msg>('convlog', { key: ['string', 'uint'] });
      const r = await log.put(['conv:dm:alice:bob', 1], { from: 'alice', text: 'hi' });
      assert.equal(r.partition, s.partitionOf('conv:dm:alice:bob'));
      assert.deepEqual(await log.get(['conv:dm:alice:bob', 1]), { from: 'alice', text: 'hi' });
      assert.equal(await log.get(['conv:dm:alice:bob', 2]), undefined);
      await log.del(['conv:dm:alice:bob', 1]);
      assert.equal(await log.get(['conv:dm:alice:bob', 1]), undefined);
      await s.close();
    });

    test('getNow reads what get reads, synchronously: committed records, absent ones, and expired ones as absent', async () => {
      let now = 1_000_000;
      const s = await freshStore(backend, { clock: () => now });
      const ids = s.table<[string, string], { seq: number }>('ids', { key: ['string', 'string'], ttlMs: 1000 });
      await ids.put(['user:a', 'm1'], { seq: 1 });
      assert.deepEqual(ids.getNow(['user:a', 'm1']), { seq: 1 });
      assert.equal(ids.getNow(['user:a', 'm2']), undefined);
      assert.equal(ids.getNow(['user:b', 'm1']), undefined, 'another owner');
      now += 1000;
      assert.equal(ids.getNow(['user:a', 'm1']), undefined, 'expired');
      assert.equal(await ids.get(['user:a', 'm1']), undefined);
      await s.close();
      assert.throws(() => ids.getNow(['user:a', 'm1']), (e: unknown) => e instanceof StoreError && e.code === 'store_closed');
    });

    test('getMany reads records of several partitions in order', async () => {
      const s = await freshStore(backend);
      const t = s.table<[string], number>('accounts', { key: ['string'] });
      await Promise.all(['user:a', 'user:b', 'user:c'].map((u, i) => t.put([u], i)));
      assert.deepEqual(await t.getMany([['user:c'], ['user:x'], ['user:a']]), [2, undefined, 0]);
      await s.close();
    });

    test('range: key order within an owner, bounds, prefix, reverse, limit, batches', async () => {
      const s = await freshStore(backend);
      const log = s.table<[string, number], number>('convlog', { key: ['string', 'uint'] });
      const conv = 'conv:dm:alice:bob';
      const tx = s.transaction(conv);
      for (const seq of [10, 2, 9, 1, 300, 256, 255]) tx.put(log, [conv, seq], seq);
      await tx.commit();
      const seqs = async (o: Parameters<typeof log.range>[0]): Promise<number[]> => (await collect(log.range(o))).map(([k]) => k[1]);
      assert.deepEqual(await seqs({ prefix: [conv] }), [1, 2, 9, 10, 255, 256, 300]);
      assert.deepEqual(await seqs({ gte: [conv, 9], lt: [conv, 256] }), [9, 10, 255]);
      assert.deepEqual(await seqs({ gt: [conv, 9], lte: [conv, 256] }), [10, 255, 256]);
      assert.deepEqual(await seqs({ prefix: [conv], reverse: true, limit: 2 }), [300, 256]);
      assert.deepEqual(await seqs({ gte: [conv, 11], lte: [conv] }), [255, 256, 300], 'a partial upper bound includes its extensions');
      const batches = await collect(log.rangeBatches({ prefix: [conv], batchSize: 3 }));
      assert.deepEqual(batches.map((b) => b.length), [3, 3, 1]);
      await s.close();
    });

    test('range: one owner does not see another owner whose id extends it ("conv:a" vs "conv:ab")', async () => {
      const s = await freshStore(backend);
      const a = 'conv:a';
      // An extension of `a` that lands in the same partition, so both share one key range.
      let k = 0;
      while (s.partitionOf(`${a}${k}`) !== s.partitionOf(a)) k++;
      const ab = `${a}${k}`;
      const log = s.table<[string, number], string>('convlog', { key: ['string', 'uint'] });
      await log.put([a, 2 ** 40], 'a1');
      await log.put([ab, 0], 'ab1');
      assert.deepEqual((await collect(log.range({ prefix: [a] }))).map(([, v]) => v), ['a1']);
      assert.deepEqual((await collect(log.range({ prefix: [ab] }))).map(([, v]) => v), ['ab1']);
      assert.deepEqual((await collect(log.range({ gte: [a], lte: [ab] }))).map(([, v]) => v), ['a1', 'ab1']);
      await s.close();
    });

    test('a transaction spans tables of one partition and is all-or-nothing on failure', async () => {
      const s = await freshStore(backend);
      const [u1, u2] = ownersInOnePartition(s, 2);
      const a = s.table<[string], string>('profiles', { key: ['string'] });
      const b = s.table<[string, string], number>('contacts', { key: ['string', 'string'] });
      const r = await s.transaction(u1!).put(a, [u1!], 'one').put(b, [u2!, u1!], 1).commit();
      assert.equal(r.partition, s.partitionOf(u1!));
      assert.deepEqual([await a.get([u1!]), await b.get([u2!, u1!])], ['one', 1]);
      s.faults.failWrites({ code: 'store_io' });
      await assert.rejects(s.transaction(u1!).put(a, [u2!], 'two').put(b, [u1!, u2!], 2).commit(), { code: 'store_io' });
      assert.deepEqual([await a.get([u2!]), await b.get([u1!, u2!])], [undefined, undefined]);
      await s.close();
    });

    test('a transaction refuses a key of another partition (store_cross_partition)', async () => {
      const s = await freshStore(backend);
      const [x, y] = ownersInTwoPartitions(s);
      const t = s.table<[string], number>('t', { key: ['string'] });
      const tx = s.transaction(x);
      assert.throws(() => tx.put(t, [y], 1), (e: StoreError) => e.code === 'store_cross_partition' && e.partition === s.partitionOf(x));
      await s.close();
    });

    test('tx.get sees its own writes, then committed state', async () => {
      const s = await freshStore(backend);
      const t = s.table<[string], number>('t', { key: ['string'] });
      await t.put(['user:a'], 1);
      const tx = s.transaction('user:a');
      assert.equal(await tx.get(t, ['user:a']), 1);
      tx.put(t, ['user:a'], 2);
      assert.equal(await tx.get(t, ['user:a']), 2);
      tx.del(t, ['user:a']);
      assert.equal(await tx.get(t, ['user:a']), undefined);
      tx.abort();
      assert.equal(await t.get(['user:a']), 1, 'an aborted transaction wrote nothing');
      await s.close();
    });

    test('a committed or aborted transaction cannot be used again (store_tx_done)', async () => {
      const s = await freshStore(backend);
      const t = s.table<[string], number>('t', { key: ['string'] });
      const tx = s.transaction('user:a').put(t, ['user:a'], 1);
      await tx.commit();
      assert.throws(() => tx.put(t, ['user:a'], 2), { code: 'store_tx_done' });
      assert.throws(() => tx.commit(), { code: 'store_tx_done' });
      await s.close();
    });

    test('values: undefined is refused (store_invalid); binary, nested and Date values round-trip', async () => {
      const s = await freshStore(backend);
      const t = s.table<[string], unknown>('t', { key: ['string'] });
      assert.throws(() => s.transaction('user:a').put(t, ['user:a'], undefined), { code: 'store_invalid' });
      const v = { bin: Buffer.from([0, 1, 255]), nested: { list: [1, 'two', null] }, at: new Date(86_400_000) };
      await t.put(['user:a'], v);
      assert.deepEqual(await t.get(['user:a']), v);
      await s.close();
    });

    test('ram tables: transactional with disc tables, not kept across reopen', async () => {
      const dir = backend === 'level' ? path.join(tmpDir(), 'db') : null;
      const disk = new MemoryDisk();
      const open = () => openStore({ sweepIntervalMs: 0, ...(dir ? { location: dir } : { adapter: new MemoryAdapter(disk) }) });
      const s = await open();
      const presence = s.table<[string], string>('presence', { key: ['string'], storage: 'ram' });
      const profile = s.table<[string], string>('profile', { key: ['string'] });
      await s.transaction('user:a').put(presence, ['user:a'], 'online').put(profile, ['user:a'], 'Alice').commit();
      assert.equal(await presence.get(['user:a']), 'online');
      s.faults.failWrites();
      await assert.rejects(s.transaction('user:a').put(presence, ['user:a'], 'away').put(profile, ['user:a'], 'A').commit());
      assert.equal(await presence.get(['user:a']), 'online', 'a failed batch changes no ram table either');
      await s.close();
      const again = await open();
      const presence2 = again.table<[string], string>('presence', { key: ['string'], storage: 'ram' });
      assert.equal(await presence2.get(['user:a']), undefined);
      assert.equal(await again.table<[string], string>('profile', { key: ['string'] }).get(['user:a']), 'Alice');
      await again.close();
    });
  });
}

describe('table declarations', () => {
  test('a name declared again with another key schema fails with store_schema, also after reopen', async () => {
    const dir = path.join(tmpDir(), 'db');
    const s = await openStore({ location: dir, sweepIntervalMs: 0 });
    const t = s.table<[string, number], number>('convlog', { key: ['string', 'uint'] });
    assert.strictEqual(s.table<[string, number], number>('convlog', { key: ['string', 'uint'] }).def, t.def);
    assert.throws(() => s.table<[string, string], number>('convlog', { key: ['string', 'string'] }), { code: 'store_schema' });
    assert.throws(() => s.queue('convlog'), { code: 'store_schema' });
    await t.put(['conv:x', 1], 1);
    await s.close();
    const again = await openStore({ location: dir, sweepIntervalMs: 0 });
    assert.throws(() => again.table<[string, number], number>('convlog', { key: ['string', 'int'] }), { code: 'store_schema' });
    assert.equal(await again.table<[string, number], number>('convlog', { key: ['string', 'uint'] }).get(['conv:x', 1]), 1);
    await again.close();
  });

  test('a store opened with another partition count is refused (store_schema)', async () => {
    const dir = path.join(tmpDir(), 'db');
    await (await openStore({ location: dir, partitions: 16, sweepIntervalMs: 0 })).close();
    await assert.rejects(openStore({ location: dir, partitions: 32, sweepIntervalMs: 0 }), { code: 'store_schema' });
  });

  test('bad names, schemas and options fail with store_invalid', async () => {
    const s = await freshStore('memory');
    assert.throws(() => s.table<[string], number>('Bad Name', { key: ['string'] }), { code: 'store_invalid' });
    assert.throws(() => s.table<[number], number>('t', { key: ['uint'] as never }), { code: 'store_invalid' });
    assert.throws(() => s.table<[string], number>('t', { key: ['string'], ttlMs: -1 }), { code: 'store_invalid' });
    await assert.rejects(openStore({ adapter: new MemoryAdapter(), durability: 'never' as never }), { code: 'store_invalid' });
    await assert.rejects(openStore({ adapter: new MemoryAdapter(), partitions: 0 }), { code: 'store_invalid' });
    await assert.rejects(openStore({}), { code: 'store_invalid' });
    await s.close();
  });
});

test('range scans agree with a sorted model (property, memory backend)', async () => {
  const s = await freshStore('memory', { partitions: 4 });
  const t = s.table<[string, number], number>('t', { key: ['string', 'uint'] });
  let n = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.nat({ max: 500 }), { maxLength: 40 }),
      fc.nat({ max: 500 }),
      fc.nat({ max: 500 }),
      fc.boolean(),
      fc.integer({ min: 1, max: 50 }),
      async (seqs, lo, hi, reverse, limit) => {
        const owner = `conv:${n++}`;
        const tx = s.transaction(owner);
        for (const q of seqs) tx.put(t, [owner, q], q);
        await tx.commit();
        const got = (await collect(t.range({ gte: [owner, lo], lt: [owner, hi], reverse, limit }))).map(([, v]) => v);
        let want = seqs.filter((q) => q >= lo && q < hi).sort((a, b) => a - b);
        if (reverse) want = want.reverse();
        assert.deepEqual(got, want.slice(0, limit));
      },
    ),
    { numRuns: 150 },
  );
  await s.close();
});
