import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openStore, type Store } from '../../src/store/index.js';
import { MemoryAdapter, MemoryDisk } from '../../src/store/memory-adapter.js';
import { GLOBAL_SPACE, globalKey } from '../../src/store/keys.js';
import { collect, freshStore, ownersInOnePartition, tmpDir } from './helpers.js';

/** Every key and value of a partition (records, queue states, counters, TTL index), as hex. */
async function dump(s: Store, p: number): Promise<string[]> {
  const snap = await s.snapshot(p);
  try {
    const out: string[] = [];
    for await (const rows of snap.entries(7)) for (const [k, v] of rows) out.push(`${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`);
    return out;
  } finally {
    await snap.close();
  }
}

/** A mixed workload on the owners' partition: records, deletes, queue appends and acks, counters. */
async function workload(s: Store, owners: string[], rounds: number, from = 0): Promise<void> {
  const t = s.table<[string, number], { n: number }>('t', { key: ['string', 'uint'] });
  const inbox = s.queue<number>('inbox');
  const ids = s.counter('ids');
  for (let i = from; i < from + rounds; i++) {
    const o = owners[i % owners.length]!;
    const tx = s.transaction(o);
    tx.put(t, [o, i], { n: i });
    if (i % 3 === 0 && i >= 3) tx.del(t, [o, i - 3]);
    tx.append(inbox, o, i);
    tx.increment(ids, o);
    if (i === from) tx.subscribe(inbox, o, 'phone', 'start');
    await tx.commit();
    if (i % 4 === 3) await inbox.ack(o, 'phone', Math.floor(i / 8)).catch(() => undefined);
  }
}

test('follow yields every committed batch of a partition once, in LSN order, then waits for new ones', async () => {
  const s = await freshStore('memory');
  const t = s.table<[string, number], number>('t', { key: ['string', 'uint'] });
  const p = s.partitionOf('user:a');
  for (let i = 0; i < 5; i++) await t.put(['user:a', i], i);
  const seen: number[] = [];
  const ac = new AbortController();
  const follower = (async () => {
    for await (const b of s.follow(p, 1, { signal: ac.signal, batchSize: 2 })) {
      seen.push(b.lsn);
      if (seen.length === 8) ac.abort();
    }
  })();
  while (seen.length < 5) await new Promise((r) => setImmediate(r));
  for (let i = 5; i < 8; i++) await t.put(['user:a', i], i);
  await follower;
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8]);
  await s.close();
});

test('follow ends when the store closes', async () => {
  const s = await freshStore('memory');
  const it = s.follow(0, 1);
  const done = collect(it);
  await s.close();
  assert.deepEqual(await done, []);
});

test('catch-up from zero: snapshot, then follow from its LSN, reproduces the partition exactly (LevelDB)', async () => {
  const primary = await freshStore('level');
  const replica = await freshStore('level');
  const owners = ownersInOnePartition(primary, 3);
  const p = primary.partitionOf(owners[0]!);
  await workload(primary, owners, 40);
  const snap = await primary.snapshot(p);
  // Writes go on while the replica copies the snapshot.
  const during = workload(primary, owners, 30, 40);
  await replica.restore(p, snap);
  await snap.close();
  await during;
  assert.equal(replica.lastLsn(p), snap.lsn);
  for await (const b of primary.follow(p, snap.lsn + 1)) {
    await replica.apply(b);
    if (b.lsn === primary.lastLsn(p)) break;
  }
  assert.equal(replica.lastLsn(p), primary.lastLsn(p));
  assert.deepEqual(await dump(replica, p), await dump(primary, p));
  // The replica's tables read the same, and its queues number on from there.
  const rq = replica.queue<number>('inbox');
  assert.deepEqual(await rq.read(owners[0]!, { limit: 1000 }), await primary.queue<number>('inbox').read(owners[0]!, { limit: 1000 }));
  await primary.close();
  await replica.close();
});

test('a replica can be followed in turn: its log matches the primary batch for batch', async () => {
  const a = await freshStore('memory');
  const b = await freshStore('memory');
  const owners = ownersInOnePartition(a, 2);
  const p = a.partitionOf(owners[0]!);
  await workload(a, owners, 10);
  for (const batch of await collect(a.follow(p, 1), a.lastLsn(p))) await b.apply(batch);
  const la = await collect(a.follow(p, 1), a.lastLsn(p));
  const lb = await collect(b.follow(p, 1), b.lastLsn(p));
  assert.deepEqual(lb, la);
  await a.close();
  await b.close();
});

test('apply accepts only the next LSN (store_lsn_gap) and leaves the replica unchanged otherwise', async () => {
  const a = await freshStore('memory');
  const b = await freshStore('memory');
  const t = a.table<[string], number>('t', { key: ['string'] });
  const p = a.partitionOf('user:a');
  for (let i = 0; i < 3; i++) await t.put(['user:a'], i);
  const [b1, b2, b3] = await collect(a.follow(p, 1), 3);
  await b.apply(b1!);
  await assert.rejects(b.apply(b3!), { code: 'store_lsn_gap' });
  await assert.rejects(b.apply(b1!), { code: 'store_lsn_gap' });
  assert.equal(b.lastLsn(p), 1);
  await b.apply(b2!);
  await b.apply(b3!);
  assert.equal(await b.table<[string], number>('t', { key: ['string'] }).get(['user:a']), 2);
  await a.close();
  await b.close();
});

test('handoff: snapshot to a new owner, then drop on the old one; the other partitions stay', async () => {
  const a = await freshStore('memory');
  const b = await freshStore('memory');
  const owners = ownersInOnePartition(a, 2);
  const p = a.partitionOf(owners[0]!);
  const other = 'user:zz' + [...Array(50).keys()].find((i) => a.partitionOf(`user:zz${i}`) !== p);
  await workload(a, owners, 12);
  await workload(a, [other], 3);
  const snap = await a.snapshot(p);
  await b.restore(p, snap);
  await snap.close();
  await a.dropPartition(p);
  assert.deepEqual(await dump(a, p), []);
  assert.equal(a.lastLsn(p), 0);
  assert.notDeepEqual(await dump(a, a.partitionOf(other)), []);
  assert.equal((await dump(b, p)).length > 0, true);
  assert.equal(await b.queue('inbox').append(owners[0]!, 99), 7, 'queue numbers continue on the new owner');
  await a.close();
  await b.close();
});

test('a restore interrupted by a crash is dropped when the store opens again', async () => {
  const disk = new MemoryDisk();
  const s = await openStore({ adapter: new MemoryAdapter(disk), sweepIntervalMs: 0 });
  const t = s.table<[string], number>('t', { key: ['string'] });
  await t.put(['user:a'], 1);
  const p = s.partitionOf('user:a');
  // What restore writes first, as a crash right after it would leave it.
  await s.adapter.write([{ key: globalKey(GLOBAL_SPACE.restoring, Uint8Array.of(p >>> 8, p & 0xff)), value: new Uint8Array(0) }], true);
  await s.close();
  const again = await openStore({ adapter: new MemoryAdapter(disk), sweepIntervalMs: 0 });
  assert.deepEqual(await dump(again, p), []);
  assert.equal(again.lastLsn(p), 0);
  await again.close();
});

test('follow from LSN 1 of a trimmed log fails with store_log_trimmed; the snapshot path still works', async () => {
  const dir = path.join(tmpDir(), 'db');
  const s = await openStore({ location: dir, sweepIntervalMs: 0, logRetain: 2 });
  const t = s.table<[string, number], number>('t', { key: ['string', 'uint'] });
  for (let i = 0; i < 6; i++) await t.put(['user:a', i], i);
  await s.sweep();
  const p = s.partitionOf('user:a');
  await assert.rejects(collect(s.follow(p, 1)), { code: 'store_log_trimmed' });
  const snap = await s.snapshot(p);
  assert.equal(snap.lsn, 6);
  await snap.close();
  await s.close();
  // Retention survives a reopen: the first retained LSN is read back from the log.
  const again = await openStore({ location: dir, sweepIntervalMs: 0, logRetain: 2 });
  await assert.rejects(collect(again.follow(p, 4)), { code: 'store_log_trimmed' });
  assert.deepEqual((await collect(again.follow(p, 5), 2)).map((b) => b.lsn), [5, 6]);
  await again.close();
});
