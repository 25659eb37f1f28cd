/**
 * Run-length cast envelopes (W_CAST_RUN) between two Hosts of one process,
 * through the real codec: what the sender appends, that it survives
 * encodeBatch/decodeBatch unchanged, and that the receiver delivers exactly
 * the casts that were made, in order, with the same dead letters as
 * one-envelope-per-cast would give.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Host } from '../../src/actors/host.js';
import type { ActorRef } from '../../src/actors/ref.js';
import { CAST_FIELDS, W_CAST, W_CAST_RUN, W_REPLY } from '../../src/actors/transport.js';
import { decodeBatch, encodeBatch } from '../../src/transport/codec.js';
import { tick, waitFor } from '../fixtures/probes.js';
import { recorder } from '../fixtures/recorder.js';

const P = 16;
/** Every partition on thread 1: the sender (thread 0) casts through its outbox. */
const onOne = new Array<number>(P).fill(1);

/** A sender on thread 0 whose outbox to thread 1 the test holds, and can replace like a carrier does. */
function sender(): { host: Host; box: () => unknown[]; take: () => unknown[] } {
  let box: unknown[] = [];
  const host = new Host({ node: 'n', thread: 0, partitions: P, table: onOne, sweepMs: 0, transport: { outbox: (t) => (t === 1 ? box : null) } });
  return {
    host,
    box: () => box,
    take: () => {
      const b = box;
      box = [];
      return b;
    },
  };
}

/** A receiver on thread 1 whose `rcv:*` actors record what they get. */
function receiver(got: Map<string, unknown[]>, table = onOne, outbox: (t: number) => unknown[] | null = () => null): Host {
  return new Host({
    node: 'n',
    thread: 1,
    partitions: P,
    table,
    sweepMs: 0,
    transport: { outbox },
    kinds: {
      rcv: recorder(got),
    },
  });
}

/** The casts an outbox holds, one entry per message, as (kind of header, id, incarnation, msg). */
function castsIn(f: unknown[]): Array<[string, number, unknown]> {
  const out: Array<[string, number, unknown]> = [];
  let i = 0;
  while (i < f.length) {
    if (f[i] === W_CAST) {
      out.push([f[i + 1] as string, f[i + 4] as number, f[i + 5]]);
      i += CAST_FIELDS;
    } else if (f[i] === W_CAST_RUN) {
      const count = f[i + 5] as number;
      assert.ok(count >= 2, `a run holds at least two casts, got ${count}`);
      for (let k = 0; k < count; k++) out.push([f[i + 1] as string, f[i + 4] as number, f[i + CAST_FIELDS + k]]);
      i += CAST_FIELDS + count;
    } else if (f[i] === W_REPLY) {
      i += 5;
    } else throw new Error(`unexpected kind ${String(f[i])} at ${i}`);
  }
  return out;
}

describe('the sending side', () => {
  test('consecutive casts to one actor share one header; the count says how many', () => {
    const s = sender();
    const a = s.host.ref('rcv:a');
    for (let k = 0; k < 5; k++) a.send(k);
    const f = s.box();
    assert.deepEqual(f.slice(0, CAST_FIELDS), [W_CAST_RUN, 'rcv:a', a.partition, -1, 0, 5]);
    assert.deepEqual(f.slice(CAST_FIELDS), [0, 1, 2, 3, 4]);
  });

  test('a single cast, and casts that alternate between actors, stay 6-field W_CASTs', () => {
    const s = sender();
    const a = s.host.ref('rcv:a');
    const b = s.host.ref('rcv:b');
    a.send(1);
    b.send(2);
    a.send(3);
    const f = s.box();
    assert.equal(f.length, 3 * CAST_FIELDS);
    assert.deepEqual([f[0], f[6], f[12]], [W_CAST, W_CAST, W_CAST]);
  });

  test('a run never extends across another envelope appended after it', () => {
    const s = sender();
    const a = s.host.ref('rcv:a');
    a.send(1);
    a.send(2);
    s.box().push(W_REPLY, 0, 1, true, 'x'); // what a call's reply appends to the same outbox
    a.send(3);
    assert.deepEqual(castsIn(s.box()), [
      ['rcv:a', 0, 1],
      ['rcv:a', 0, 2],
      ['rcv:a', 0, 3],
    ]);
    assert.equal(s.box()[0], W_CAST_RUN);
    assert.equal(s.box()[s.box().length - CAST_FIELDS], W_CAST, 'the cast after the reply starts a new envelope');
  });

  test('a run never extends into a new outbox after the carrier took the old one', () => {
    const s = sender();
    const a = s.host.ref('rcv:a');
    a.send(1);
    a.send(2);
    const first = s.take();
    a.send(3);
    assert.deepEqual(first.slice(0, CAST_FIELDS), [W_CAST_RUN, 'rcv:a', a.partition, -1, 0, 2]);
    assert.equal(first.length, CAST_FIELDS + 2, 'the taken outbox is not written to again');
    assert.deepEqual(s.box(), [W_CAST, 'rcv:a', a.partition, -1, 0, 3]);
  });

  test('casts to the same id with another incarnation or thread never merge', () => {
    const s = sender();
    const v = s.host.ref('rcv:a');
    const inc7 = s.host.decodeRef('n', 'rcv:a', v.partition, -1, 7);
    const pinned = s.host.decodeRef('n', 'rcv:a', -1, 1, 7);
    v.send(1);
    inc7.send(2);
    inc7.send(3);
    pinned.send(4);
    v.send(5);
    const f = s.box();
    assert.deepEqual(castsIn(f), [
      ['rcv:a', 0, 1],
      ['rcv:a', 7, 2],
      ['rcv:a', 7, 3],
      ['rcv:a', 7, 4],
      ['rcv:a', 0, 5],
    ]);
    assert.equal(f.length, 4 * CAST_FIELDS + 2, 'one run (inc 7, virtual) and three single casts');
  });
});

/** A cast to one of a few targets, or something else appended to the outbox, or the carrier taking it. */
type Op = { cast: number; msg: unknown } | { reply: true } | { take: true };

const payloadArb = fc.oneof(
  fc.constantFrom(0, 1, 2, 3, 4, W_CAST_RUN), // payloads equal to envelope kinds and counts
  fc.integer(),
  fc.string({ maxLength: 40 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 4 }),
  fc.record({ seq: fc.nat(), from: fc.constantFrom('user:alice', 'user:bob'), body: fc.string({ maxLength: 30 }) }, { noNullPrototype: true }),
  fc.uint8Array({ maxLength: 8 }),
);
const TARGETS = 4;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ cast: fc.integer({ min: 0, max: TARGETS - 1 }), msg: payloadArb }) },
  { weight: 1, arbitrary: fc.constant({ reply: true as const }) },
  { weight: 1, arbitrary: fc.constant({ take: true as const }) },
);
/** Sequences with long runs: each step repeats its op a few times with fresh payloads. */
const scriptArb = fc.array(fc.tuple(opArb, fc.integer({ min: 1, max: 6 }), fc.array(payloadArb, { minLength: 6, maxLength: 6 })), { maxLength: 60 });

describe('through the codec', () => {
  test('any sequence of casts, runs, other envelopes and batch cuts round-trips through encode/decode and reaches each actor in order (property)', async () => {
    await fc.assert(
      fc.asyncProperty(scriptArb, async (script) => {
        const s = sender();
        const got = new Map<string, unknown[]>();
        const rx = receiver(got);
        // Target 3 is rcv:t2 again through a ref with an incarnation: same actor, other header.
        const refs: ActorRef[] = [s.host.ref('rcv:t0'), s.host.ref('rcv:t1'), s.host.ref('rcv:t2')];
        refs.push(s.host.decodeRef('n', 'rcv:t2', refs[2]!.partition, -1, 9));
        const sent = new Map<string, unknown[]>();
        const made: Array<[string, number, unknown]> = [];
        const batches: unknown[][] = [];
        for (const [op, times, payloads] of script) {
          for (let k = 0; k < times; k++) {
            if ('take' in op) batches.push(s.take());
            else if ('reply' in op) s.box().push(W_REPLY, 1, 999_999, true, null); // a reply no call waits for
            else {
              const to = refs[op.cast]!;
              const msg = k === 0 ? op.msg : payloads[k - 1];
              to.send(msg);
              made.push([to.id, to.incarnation, msg]);
              let l = sent.get(to.id);
              if (l === undefined) sent.set(to.id, (l = []));
              l.push(msg);
            }
          }
        }
        batches.push(s.take());
        // What the sender appended is exactly the casts made, in order.
        assert.deepEqual(batches.flatMap(castsIn), made);
        for (const b of batches) {
          if (b.length === 0) continue;
          const back = decodeBatch(encodeBatch(b), rx);
          assert.deepEqual(back, b);
          rx.receive(back);
        }
        const total = made.length;
        await waitFor(() => [...got.values()].reduce((n, l) => n + l.length, 0) >= total, 3000, `${total} messages handled`);
        await tick();
        assert.deepEqual(got, sent);
        assert.equal(rx.deadLetters.total, 0);
        await rx.shutdown(100);
        await s.host.shutdown(100);
      }),
      { numRuns: 150 },
    );
  });
});

describe('the receiving side', () => {
  test('a run to a pinned actor that has stopped is one noproc dead letter per message', async () => {
    const got = new Map<string, unknown[]>();
    const rx = receiver(got);
    const pinned = await rx.spawn({ handle: () => undefined });
    rx.stopActor(pinned);
    await waitFor(() => !rx.isActive(pinned.id));
    const s = sender();
    const to = s.host.decodeRef('n', pinned.id, -1, 1, pinned.incarnation);
    for (let k = 0; k < 5; k++) to.send(k);
    assert.equal(s.box()[0], W_CAST_RUN);
    rx.receive(decodeBatch(encodeBatch(s.take()), rx));
    assert.equal(rx.deadLetters.counts.noproc, 5);
    assert.deepEqual(
      rx.deadLetters.recent().map((d) => d.to),
      new Array(5).fill(pinned.id),
    );
    await rx.shutdown(100);
  });

  test('a run activates its virtual actor once and delivers every message to that activation', async () => {
    let created = 0;
    const seen: number[] = [];
    const rx = new Host({
      node: 'n',
      thread: 1,
      partitions: P,
      table: onOne,
      sweepMs: 0,
      kinds: { c: { create: () => (created++, { handle: (m: number) => void seen.push(m) }) } },
    });
    const s = sender();
    const to = s.host.ref('c:x');
    for (let k = 0; k < 100; k++) to.send(k);
    rx.receive(decodeBatch(encodeBatch(s.take()), rx));
    await waitFor(() => seen.length === 100);
    assert.equal(created, 1);
    assert.deepEqual(
      seen,
      Array.from({ length: 100 }, (_, k) => k),
    );
    await rx.shutdown(100);
  });

  test('a run for a partition owned by another thread is forwarded whole, in place in the batch', async () => {
    const s = sender();
    const a = s.host.ref('rcv:a');
    const fwd: unknown[] = [];
    const moved = onOne.slice();
    moved[a.partition] = 2; // the partition moved on: thread 1 passes it on to thread 2
    const rx = receiver(new Map(), moved, (t) => (t === 2 ? fwd : null));
    for (let k = 0; k < 4; k++) a.send(k);
    const batch = s.take();
    rx.receive(decodeBatch(encodeBatch(batch), rx));
    assert.deepEqual(fwd, batch);
    await rx.shutdown(100);
  });

  test('a batch whose run count is missing, not an integer or runs past the end is refused as corrupt', () => {
    const rx = receiver(new Map());
    for (const count of [0, -1, 1.5, 'x', 3]) {
      assert.throws(() => rx.receive([W_CAST_RUN, 'rcv:a', 0, -1, 0, count, 'only one']), /corrupt envelope batch/);
    }
  });
});
