import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import path from 'node:path';
import { openStore, type Queue, type Store } from '../../src/store/index.js';
import { freshStore, ownersInOnePartition, tmpDir, type Backend } from './helpers.js';

interface Entry {
  conv: string;
  seq: number;
}

const seqsOf = (xs: Array<{ seq: number }>): number[] => xs.map((x) => x.seq);

for (const backend of ['memory', 'level'] as Backend[]) {
  describe(`queues (${backend})`, () => {
    test('append numbers entries 1, 2, 3... per owner, without gaps, under concurrent appends', async () => {
      const s = await freshStore(backend);
      const inbox = s.queue<Entry>('inbox');
      const got = await Promise.all(Array.from({ length: 50 }, (_, i) => inbox.append('user:bob', { conv: 'c', seq: i })));
      assert.deepEqual([...got].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
      // Commit order is call order within a partition, so numbers follow calls.
      assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i + 1));
      assert.equal(await inbox.append('user:carol', { conv: 'c', seq: 0 }), 1, 'each owner counts from 1');
      await s.close();
    });

    test('read from a cursor in batches, oldest first', async () => {
      const s = await freshStore(backend);
      const inbox = s.queue<number>('inbox');
      for (let i = 1; i <= 7; i++) await inbox.append('user:bob', i * 10);
      assert.deepEqual(seqsOf(await inbox.read('user:bob', { limit: 3 })), [1, 2, 3]);
      assert.deepEqual(seqsOf(await inbox.read('user:bob', { after: 3, limit: 3 })), [4, 5, 6]);
      assert.deepEqual(seqsOf(await inbox.read('user:bob', { after: 6, limit: 3 })), [7]);
      assert.deepEqual((await inbox.read('user:bob', { after: 6 })).map((e) => e.value), [70]);
      assert.deepEqual(await inbox.read('user:bob', { after: 7 }), []);
      await s.close();
    });

    test('one cursor per consumer; entries are trimmed once every consumer acknowledged them', async () => {
      const s = await freshStore(backend);
      const inbox = s.queue<number>('inbox');
      await inbox.subscribe('user:bob', 'phone');
      await inbox.subscribe('user:bob', 'laptop');
      for (let i = 1; i <= 5; i++) await inbox.append('user:bob', i);
      await inbox.ack('user:bob', 'phone', 4);
      assert.deepEqual(seqsOf(await inbox.readFor('user:bob', 'phone')), [5]);
      assert.deepEqual(seqsOf(await inbox.readFor('user:bob', 'laptop')), [1, 2, 3, 4, 5]);
      assert.equal((await inbox.info('user:bob')).first, 1, 'nothing trimmed while the laptop has acked nothing');
      await inbox.ack('user:bob', 'laptop', 2);
      assert.deepEqual(seqsOf(await inbox.read('user:bob')), [3, 4, 5], 'entries 1-2 acked by both are gone');
      assert.deepEqual(await inbox.info('user:bob'), { next: 6, first: 3, consumers: { phone: 4, laptop: 2 } });
      await inbox.ack('user:bob', 'laptop', 1);
      assert.equal((await inbox.info('user:bob')).consumers.laptop, 2, 'acks are cumulative: a lower ack is ignored');
      await s.close();
    });

    test('an ack past the head or by a stranger fails with store_invalid and changes nothing', async () => {
      const s = await freshStore(backend);
      const inbox = s.queue<number>('inbox');
      await inbox.subscribe('user:bob', 'phone');
      await inbox.append('user:bob', 1);
      await assert.rejects(inbox.ack('user:bob', 'phone', 2), { code: 'store_invalid' });
      await assert.rejects(inbox.ack('user:bob', 'tablet', 1), { code: 'store_invalid' });
      await assert.rejects(inbox.readFor('user:bob', 'tablet'), { code: 'store_invalid' });
      assert.deepEqual(await inbox.info('user:bob'), { next: 2, first: 1, consumers: { phone: 0 } });
      await s.close();
    });

    test('a rejected transaction in a batch leaves the others of that batch committed', async () => {
      const s = await freshStore(backend);
      const inbox = s.queue<number>('inbox');
      await inbox.subscribe('user:bob', 'phone');
      const results = await Promise.allSettled([
        inbox.append('user:bob', 1),
        inbox.ack('user:bob', 'phone', 5),
        inbox.append('user:bob', 2),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      assert.deepEqual((await inbox.read('user:bob')).map((e) => [e.seq, e.value]), [[1, 1], [2, 2]]);
      assert.ok(s.stats().batches < 4, 'they were one batch');
      await s.close();
    });

    test('subscribe from the end (default), the start, or a number; unsubscribe lets the rest trim', async () => {
      const s = await freshStore(backend);
      const inbox = s.queue<number>('inbox');
      for (let i = 1; i <= 4; i++) await inbox.append('user:bob', i);
      await inbox.subscribe('user:bob', 'old', 'start');
      await inbox.subscribe('user:bob', 'mid', 2);
      await inbox.subscribe('user:bob', 'new');
      assert.deepEqual((await inbox.info('user:bob')).consumers, { old: 0, mid: 2, new: 4 });
      await inbox.subscribe('user:bob', 'old', 'end');
      assert.equal((await inbox.info('user:bob')).consumers.old, 0, 'subscribing again keeps the cursor');
      await inbox.unsubscribe('user:bob', 'old');
      assert.deepEqual(seqsOf(await inbox.read('user:bob')), [3, 4], 'with "old" gone, 1-2 are acked by all');
      await s.close();
    });

    test('the first consumer, subscribing at the end, has acknowledged everything before it', async () => {
      const s = await freshStore(backend);
      const inbox = s.queue<number>('inbox');
      for (let i = 1; i <= 3; i++) await inbox.append('user:bob', i);
      await inbox.subscribe('user:bob', 'phone');
      assert.deepEqual(await inbox.read('user:bob'), []);
      assert.deepEqual(await inbox.info('user:bob'), { next: 4, first: 4, consumers: { phone: 3 } });
      await s.close();
    });

    test('a queue with no consumer keeps its entries (only expiry trims it)', async () => {
      const s = await freshStore(backend);
      const log = s.queue<number>('convlog', { ttlMs: null });
      for (let i = 1; i <= 3; i++) await log.append('conv:x', i);
      assert.deepEqual(seqsOf(await log.read('conv:x')), [1, 2, 3]);
      await s.close();
    });
  });
}

test('queue numbers continue after reopen and never repeat, even when every entry was trimmed', async () => {
  const dir = path.join(tmpDir(), 'db');
  let s = await openStore({ location: dir, sweepIntervalMs: 0 });
  let inbox = s.queue<number>('inbox');
  await inbox.subscribe('user:bob', 'phone');
  for (let i = 1; i <= 3; i++) await inbox.append('user:bob', i);
  await inbox.ack('user:bob', 'phone', 3);
  assert.deepEqual(await inbox.read('user:bob'), []);
  await s.close();
  s = await openStore({ location: dir, sweepIntervalMs: 0 });
  inbox = s.queue<number>('inbox');
  assert.equal(await inbox.append('user:bob', 4), 4);
  await s.close();
});

test('a user inbox and its device cursors, with the conversation pointer, in one transaction', async () => {
  const s = await freshStore('memory');
  const inbox = s.queue<{ conv: string; seq: number }>('inbox');
  const accepted = s.table<[string, string], number>('accepted', { key: ['string', 'string'] });
  const bob = 'user:bob';
  const tx = s.transaction(bob);
  tx.subscribe(inbox, bob, 'phone');
  const slot = tx.append(inbox, bob, { conv: 'conv:dm:alice:bob', seq: 17 });
  tx.put(accepted, [bob, 'conv:dm:alice:bob'], 17);
  assert.throws(() => slot.value, { code: 'store_not_committed' });
  const r = await tx.commit();
  assert.equal(slot.value, 1);
  assert.equal(r.lsn, s.lastLsn(s.partitionOf(bob)));
  assert.deepEqual(seqsOf(await inbox.readFor(bob, 'phone')), [1], 'subscribed before the append in the same transaction: the phone gets it');
  assert.equal(await accepted.get([bob, 'conv:dm:alice:bob']), 17);
  await s.close();
});

// ----- model-based property test: random operations against a plain model -----

type Op =
  | { k: 'append'; owner: number; v: number }
  | { k: 'subscribe'; owner: number; c: number; from: 'start' | 'end' }
  | { k: 'unsubscribe'; owner: number; c: number }
  | { k: 'ack'; owner: number; c: number; by: number }
  | { k: 'read'; owner: number; after: number; limit: number };

interface ModelQueue {
  next: number;
  entries: Map<number, number>;
  cursors: Map<string, number>;
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('append' as const), owner: fc.nat({ max: 2 }), v: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('subscribe' as const), owner: fc.nat({ max: 2 }), c: fc.nat({ max: 2 }), from: fc.constantFrom('start' as const, 'end' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unsubscribe' as const), owner: fc.nat({ max: 2 }), c: fc.nat({ max: 2 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('ack' as const), owner: fc.nat({ max: 2 }), c: fc.nat({ max: 2 }), by: fc.integer({ min: -2, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('read' as const), owner: fc.nat({ max: 2 }), after: fc.nat({ max: 12 }), limit: fc.integer({ min: 1, max: 5 }) }) },
);

function trimModel(q: ModelQueue): void {
  if (q.cursors.size === 0) return;
  const m = Math.min(...q.cursors.values());
  for (const seq of [...q.entries.keys()]) if (seq <= m) q.entries.delete(seq);
}

async function runModel(s: Store, inbox: Queue<number>, owners: string[], ops: Op[]): Promise<void> {
  const model = owners.map((): ModelQueue => ({ next: 1, entries: new Map(), cursors: new Map() }));
  for (const op of ops) {
    const owner = owners[op.owner]!;
    const q = model[op.owner]!;
    switch (op.k) {
      case 'append': {
        const seq = await inbox.append(owner, op.v);
        assert.equal(seq, q.next, 'gap-free numbering');
        q.entries.set(q.next++, op.v);
        break;
      }
      case 'subscribe': {
        await inbox.subscribe(owner, `d${op.c}`, op.from);
        if (!q.cursors.has(`d${op.c}`)) {
          const first = q.entries.size > 0 ? Math.min(...q.entries.keys()) : q.next;
          q.cursors.set(`d${op.c}`, op.from === 'end' ? q.next - 1 : first - 1);
        }
        trimModel(q);
        break;
      }
      case 'unsubscribe':
        await inbox.unsubscribe(owner, `d${op.c}`);
        q.cursors.delete(`d${op.c}`);
        trimModel(q);
        break;
      case 'ack': {
        const cur = q.cursors.get(`d${op.c}`);
        const seq = Math.max(0, (cur ?? 0) + op.by);
        const ok = cur !== undefined && seq <= q.next - 1;
        const r = await inbox.ack(owner, `d${op.c}`, seq).then(() => true, (e: { code: string }) => (assert.equal(e.code, 'store_invalid'), false));
        assert.equal(r, ok, `ack ${seq} by d${op.c} (cursor ${cur}, head ${q.next - 1})`);
        if (ok && seq > cur!) q.cursors.set(`d${op.c}`, seq);
        trimModel(q);
        break;
      }
      case 'read': {
        const got = (await inbox.read(owner, { after: op.after, limit: op.limit })).map((e) => [e.seq, e.value]);
        const want = [...q.entries].filter(([seq]) => seq > op.after).sort((a, b) => a[0] - b[0]).slice(0, op.limit);
        assert.deepEqual(got, want);
        break;
      }
    }
  }
  for (let i = 0; i < owners.length; i++) {
    const info = await inbox.info(owners[i]!);
    assert.equal(info.next, model[i]!.next);
    assert.deepEqual(info.consumers, Object.fromEntries(model[i]!.cursors));
    assert.deepEqual((await inbox.read(owners[i]!, { limit: 1000 })).map((e) => e.seq), [...model[i]!.entries.keys()].sort((a, b) => a - b));
  }
}

test('queues behave as the model: gap-free numbers, per-consumer cursors, trim when all acked (property)', async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
      const s = await freshStore('memory', { partitions: 8 });
      const inbox = s.queue<number>('inbox');
      // Owners in one partition, so their operations interleave in shared batches.
      const owners = ownersInOnePartition(s, 3, `user:m${n++}-`);
      await runModel(s, inbox, owners, ops);
      await s.close();
    }),
    { numRuns: 120 },
  );
});
