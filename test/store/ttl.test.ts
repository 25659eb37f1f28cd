import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_QUEUE_TTL_MS } from '../../src/store/index.js';
import { collect, freshStore, type Backend } from './helpers.js';

const MIN = 60_000;
const DAY = 24 * 3600 * 1000;

function clock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

for (const backend of ['memory', 'level'] as Backend[]) {
  describe(`expiry (${backend})`, () => {
    test('a TTL record reads as absent once expired, and the sweeper deletes it', async () => {
      const c = clock();
      const s = await freshStore(backend, { clock: c.now });
      const tokens = s.table<[string], string>('tokens', { key: ['string'], ttlMs: 10 * MIN });
      await tokens.put(['user:a'], 'secret');
      c.advance(10 * MIN - 1);
      assert.equal(await tokens.get(['user:a']), 'secret');
      c.advance(1);
      assert.equal(await tokens.get(['user:a']), undefined, 'hidden at its expiry, before any sweep');
      assert.deepEqual(await collect(tokens.range({ prefix: ['user:a'] })), []);
      const r = await s.sweep();
      assert.equal(r.records, 1);
      // Move the clock back: had the sweeper not deleted it, it would read again.
      c.advance(-MIN);
      assert.equal(await tokens.get(['user:a']), undefined, 'deleted, not only hidden');
      await s.close();
    });

    test('a record rewritten before its expiry lives on; the old index entry is dropped', async () => {
      const c = clock();
      const s = await freshStore(backend, { clock: c.now });
      const t = s.table<[string], number>('sessions', { key: ['string'], ttlMs: 10 * MIN });
      await t.put(['user:a'], 1);
      c.advance(8 * MIN);
      await t.put(['user:a'], 2);
      c.advance(3 * MIN);
      const r = await s.sweep();
      assert.equal(r.records, 0);
      assert.equal(await t.get(['user:a']), 2);
      c.advance(8 * MIN);
      assert.equal((await s.sweep()).records, 1);
      await s.close();
    });

    test('queue entries expire after the TTL (default 30 days); the sweeper trims the prefix', async () => {
      const c = clock();
      const s = await freshStore(backend, { clock: c.now });
      const inbox = s.queue<number>('inbox');
      assert.equal(inbox.def.ttlMs, DEFAULT_QUEUE_TTL_MS);
      assert.equal(DEFAULT_QUEUE_TTL_MS, 30 * DAY);
      await inbox.append('user:a', 1);
      await inbox.append('user:a', 2);
      c.advance(10 * DAY);
      await inbox.append('user:a', 3);
      c.advance(20 * DAY);
      assert.deepEqual((await inbox.read('user:a')).map((e) => e.seq), [3], 'entries 1 and 2 read as absent at 30 days');
      c.advance(2 * MIN); // one expiry bucket later
      const r = await s.sweep();
      assert.equal(r.queues, 1);
      assert.deepEqual(await inbox.info('user:a'), { next: 4, first: 3, consumers: {} });
      c.advance(10 * DAY);
      await s.sweep();
      assert.deepEqual(await inbox.info('user:a'), { next: 4, first: 4, consumers: {} });
      assert.equal(await inbox.append('user:a', 4), 4, 'numbers continue after expiry');
      await s.close();
    });

    test('a consumer behind expired entries reads on from the first one left', async () => {
      const c = clock();
      const s = await freshStore(backend, { clock: c.now });
      const inbox = s.queue<number>('inbox', { ttlMs: MIN });
      await inbox.subscribe('user:a', 'phone');
      await inbox.append('user:a', 1);
      c.advance(2 * MIN);
      await inbox.append('user:a', 2);
      assert.deepEqual((await inbox.readFor('user:a', 'phone')).map((e) => e.seq), [2]);
      await s.sweep();
      await inbox.ack('user:a', 'phone', 2);
      assert.deepEqual(await inbox.info('user:a'), { next: 3, first: 3, consumers: { phone: 2 } });
      await s.close();
    });
  });
}

test('ram tables expire and are swept in memory', async () => {
  const c = clock();
  const s = await freshStore('memory', { clock: c.now });
  const presence = s.table<[string], string>('presence', { key: ['string'], storage: 'ram', ttlMs: MIN });
  await presence.put(['user:a'], 'online');
  c.advance(MIN);
  assert.equal(await presence.get(['user:a']), undefined);
  assert.equal((await s.sweep()).records, 1);
  await s.close();
});

test('the sweeper deletes through the log, so a follower sees expiry', async () => {
  const c = clock();
  const s = await freshStore('memory', { clock: c.now });
  const t = s.table<[string], number>('t', { key: ['string'], ttlMs: MIN });
  const r = await t.put(['user:a'], 1);
  c.advance(MIN);
  await s.sweep();
  const p = s.partitionOf('user:a');
  const [, sweepBatch] = await collect(s.follow(p, r.lsn), 2);
  assert.ok(sweepBatch!.ops.some((op) => op.value === null), 'the sweep batch deletes');
  await s.close();
});

test('the log keeps the last logRetain batches per partition', async () => {
  const s = await freshStore('memory', { logRetain: 5 });
  const t = s.table<[string, number], number>('t', { key: ['string', 'uint'] });
  for (let i = 0; i < 12; i++) await t.put(['user:a', i], i);
  const r = await s.sweep();
  assert.equal(r.logEntries, 7);
  const p = s.partitionOf('user:a');
  const batches = await collect(s.follow(p, 8), 5);
  assert.deepEqual(batches.map((b) => b.lsn), [8, 9, 10, 11, 12]);
  await assert.rejects(collect(s.follow(p, 7), 1), { code: 'store_log_trimmed' });
  await s.close();
});

test('the background sweeper runs on its interval', async () => {
  const c = clock();
  const s = await freshStore('memory', { clock: c.now, sweepIntervalMs: 20 });
  const t = s.table<[string], number>('t', { key: ['string'], ttlMs: MIN });
  await t.put(['user:a'], 1);
  c.advance(MIN);
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    c.advance(-2 * MIN);
    const v = await t.get(['user:a']);
    c.advance(2 * MIN);
    if (v === undefined) break;
  }
  c.advance(-2 * MIN);
  assert.equal(await t.get(['user:a']), undefined, 'swept by the timer');
  await s.close();
});

test('a sweep never deletes a record rewritten while the sweep was reading (even by the batch then in flight)', async () => {
  const { MemoryAdapter, MemoryDisk } = await import('../../src/store/memory-adapter.js');
  const { openStore } = await import('../../src/store/index.js');
  const c = clock();
  const gates: Array<() => void> = [];
  let gated = false;
  const adapter = new MemoryAdapter(new MemoryDisk(), { syncDelay: () => (gated ? new Promise<void>((r) => gates.push(r)) : Promise.resolve()) });
  const s = await openStore({ adapter, sweepIntervalMs: 0, clock: c.now });
  const t = s.table<[string], number>('sessions', { key: ['string'], ttlMs: MIN });
  await t.put(['user:a'], 1);
  c.advance(MIN);
  gated = true;
  const rewrite = t.put(['user:a'], 2); // built and in its fsync: not yet visible to the sweeper's read
  while (gates.length === 0) await new Promise((r) => setImmediate(r));
  const sweep = s.sweep();
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  gated = false;
  gates.shift()!();
  await rewrite;
  await sweep;
  assert.equal(await t.get(['user:a']), 2, 'the rewrite survives the sweep');
  c.advance(MIN);
  assert.equal((await s.sweep()).records, 1, 'and expires on its own schedule');
  await s.close();
});
