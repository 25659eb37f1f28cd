import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Inbox } from '../../src/client/inbox.js';
import type { InboxFrame } from '../../src/protocol/server-frames.js';

const frame = (inbox: number): InboxFrame => ({ t: 'read_sync', inbox, conv: 'dm:a:b', upTo: 1 });

/** What at-most-once delivery must hand over: each number above the floor and above every earlier one. */
function model(floor: number, offered: number[]): number[] {
  const out: number[] = [];
  let top = floor;
  for (const n of offered) if (n > top) out.push((top = n));
  return out;
}

test('property: handlers see each inbox number once, increasing, above ready.inbox, whatever the server repeats', () => {
  fc.assert(fc.property(fc.nat(20), fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 60 }), (floor, offered) => {
    const seen: number[] = [];
    const inbox = new Inbox((f) => void seen.push(f.inbox), () => {}, true);
    inbox.acknowledged(floor);
    for (const n of offered) inbox.offer(frame(n));
    assert.deepEqual(seen, model(floor, offered));
    assert.equal(inbox.ackable, seen.length > 0 ? seen[seen.length - 1] : 0);
  }));
});

test('property: with async handlers, one runs at a time and ackable never passes a running handler', async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 1, max: 30 }), fc.boolean()), { maxLength: 30 }), async (offered) => {
    let running = 0;
    const seen: number[] = [];
    const asyncFor = new Map(offered.map(([n, isAsync]) => [n, isAsync]));
    const inbox: Inbox = new Inbox((f) => {
      assert.equal(running, 0, 'no overlap');
      assert.ok(inbox.ackable < f.inbox, 'not acknowledged before its handler finished');
      seen.push(f.inbox);
      if (!asyncFor.get(f.inbox)) return undefined;
      running++;
      return new Promise<void>((r) => setImmediate(() => {
        running--;
        r();
      }));
    }, () => {}, true);
    for (const [n] of offered) inbox.offer(frame(n));
    const expected = model(0, offered.map(([n]) => n));
    // Each async handler takes one turn of the event loop; wait for the chain, bounded.
    for (let turns = 0; turns < 1_000 && (running > 0 || seen.length < expected.length); turns++) {
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setImmediate(r)); // the last promise's continuation
    assert.deepEqual(seen, expected);
    assert.equal(inbox.ackable, expected.length > 0 ? expected[expected.length - 1] : 0);
  }), { numRuns: 50 });
});

test('without autoAck, ackable is only what ack(n) was given', () => {
  const inbox = new Inbox(() => undefined, () => {}, false);
  inbox.offer(frame(1));
  inbox.offer(frame(2));
  assert.equal(inbox.ackable, 0);
  inbox.ack(1);
  assert.equal(inbox.ackable, 1);
});

test('after stop, nothing more is delivered', () => {
  const seen: number[] = [];
  const inbox = new Inbox((f) => void seen.push(f.inbox), () => {}, true);
  inbox.offer(frame(1));
  inbox.stop();
  assert.equal(inbox.offer(frame(2)), false);
  assert.deepEqual(seen, [1]);
});
