/**
 * Per-pair FIFO on one thread: whatever the interleaving of senders, each
 * receiver sees each sender's messages in the order sent, none lost, none twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Host } from '../../src/actors/host.js';
import type { ActorContext, Behaviour } from '../../src/actors/behaviour.js';
import type { ActorRef } from '../../src/actors/ref.js';
import { sleep } from '../fixtures/probes.js';

/** How a sender pauses after a send: not at all, a microtask, a macrotask, a timer. */
type Pause = 0 | 1 | 2 | 3;
/** One send: to which receiver, by cast or call, and the pause after it. */
type Step = [receiver: number, call: boolean, pause: Pause];

interface Stamp {
  from: string;
  seq: number;
}

async function pause(p: Pause): Promise<void> {
  if (p === 1) await Promise.resolve();
  else if (p === 2) await new Promise((r) => setImmediate(r));
  else if (p === 3) await sleep(0);
}

const SENDERS = 4;
const RECEIVERS = 3;

const stepArb = fc.tuple(fc.integer({ min: 0, max: RECEIVERS - 1 }), fc.boolean(), fc.constantFrom<Pause>(0, 0, 1, 2, 3));
/** Each sender's script, cut into chunks: every chunk is one command to that sender. */
const scriptArb = fc.array(fc.array(fc.array(stepArb, { maxLength: 8 }), { maxLength: 5 }), { minLength: SENDERS + 1, maxLength: SENDERS + 1 });
/** The order in which the test hands out chunks (and sends its own messages). */
const orderArb = fc.array(fc.integer({ min: 0, max: SENDERS }), { maxLength: 60 });

test('each receiver sees each sender’s messages in the order sent, under random interleavings (property)', async () => {
  await fc.assert(
    fc.asyncProperty(scriptArb, orderArb, fc.boolean(), async (scripts, order, virtualReceivers) => {
      const received = new Map<string, Stamp[]>();
      const record = (id: string, s: Stamp): void => {
        let l = received.get(id);
        if (l === undefined) received.set(id, (l = []));
        l.push(s);
      };
      /** A receiver records what it gets under its own id; some yield mid-handler. */
      const receiver = (): Behaviour<Stamp> => ({
        async handle(m, ctx) {
          record(ctx.id, m);
          if (m.seq % 3 === 0) await Promise.resolve();
          return ctx.id;
        },
      });
      const host = new Host({
        node: 'n',
        sweepMs: 0,
        throughput: 3, // a small budget: senders and receivers are preempted often
        kinds: { rcv: { create: receiver } },
      });
      const receivers: ActorRef<Stamp>[] = [];
      for (let r = 0; r < RECEIVERS; r++) {
        receivers.push(virtualReceivers ? host.ref<Stamp>(`rcv:${r}`) : await host.spawn(receiver()));
      }
      const sent = new Map<string, Stamp[]>(); // receiver id → stamps in the order each sender sent them
      const expect = (to: ActorRef, s: Stamp): void => {
        let l = sent.get(to.id);
        if (l === undefined) sent.set(to.id, (l = []));
        l.push(s);
      };
      const seqs = new Map<string, number>();
      const nextSeq = (from: string): number => {
        const n = (seqs.get(from) ?? 0) + 1;
        seqs.set(from, n);
        return n;
      };

      // Senders run each command (a chunk of steps) as one handler, pausing between sends.
      const senders: ActorRef<Step[]>[] = [];
      for (let s = 0; s < SENDERS; s++) {
        senders.push(
          await host.spawn<Step[]>({
            async handle(steps, ctx: ActorContext) {
              for (const [r, call, p] of steps) {
                const to = receivers[r]!;
                const stamp = { from: ctx.id, seq: nextSeq(ctx.id) };
                expect(to, stamp);
                if (call) await ctx.call(to, stamp, { timeout: 2000 });
                else to.send(stamp);
                await pause(p);
              }
            },
          }),
        );
      }

      const cursor = new Array<number>(SENDERS + 1).fill(0);
      const calls: Promise<unknown>[] = [];
      const hand = (k: number): void => {
        const chunk = scripts[k]![cursor[k]!++];
        if (chunk === undefined) return;
        if (k < SENDERS) {
          senders[k]!.send(chunk);
          return;
        }
        // The test itself is a sender too (from outside any actor).
        for (const [r, call] of chunk) {
          const to = receivers[r]!;
          const stamp = { from: 'outside', seq: nextSeq('outside') };
          expect(to, stamp);
          if (call) calls.push(to.call(stamp, { timeout: 2000 }));
          else to.send(stamp);
        }
      };
      for (const k of order) {
        hand(k);
        if (k % 2 === 0) await Promise.resolve();
      }
      for (let k = 0; k <= SENDERS; k++) while (cursor[k]! < scripts[k]!.length) hand(k);
      await Promise.all(calls);
      // A call from every sender to every receiver, queued behind all of its earlier sends.
      for (const s of senders) await s.call([], { timeout: 5000 });
      for (const r of receivers) await r.call({ from: 'final', seq: 0 }, { timeout: 5000 });

      for (const [rid, expected] of sent) {
        const got = received.get(rid) ?? [];
        const froms = new Set(expected.map((x) => x.from));
        for (const from of froms) {
          assert.deepEqual(
            got.filter((x) => x.from === from).map((x) => x.seq),
            expected.filter((x) => x.from === from).map((x) => x.seq),
            `${from} → ${rid}`,
          );
        }
      }
      await host.shutdown(500);
    }),
    { numRuns: 60 },
  );
});
