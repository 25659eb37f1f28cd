/**
 * Per-pair FIFO across real worker threads when casts travel as runs
 * (W_CAST_RUN): several senders on two workers and the main thread each
 * send runs of consecutive casts to several receivers, interleaved within
 * and across batches; runs from two senders on one thread to one receiver
 * are adjacent in one outbox and may share a header. Every receiver must
 * see every sender's messages in the order sent, none lost, none twice;
 * also with every batch delayed.
 */
import { test, describe, before, after } from 'node:test';
import fc from 'fast-check';
import type { Runtime } from '../../src/runtime/runtime.js';
import { idOn, startRuntime } from '../fixtures/runtime.js';
import { checkPairOrder } from '../fixtures/pair-order.js';

/** Senders: relays on worker 1 (two), on worker 2, and the main thread (last). */
const SENDERS = 4;
const RECEIVERS = 3;
/** A run: `n` consecutive casts to one receiver; mostly short, sometimes longer than a batch. */
const runArb = fc.tuple(
  fc.integer({ min: 0, max: RECEIVERS - 1 }),
  fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 1, max: 12 }) }, { weight: 1, arbitrary: fc.integer({ min: 500, max: 5000 }) }),
);
/** Per sender, commands; each command is a list of runs sent from one handler (or one main-thread turn). */
const scriptArb = fc.array(fc.array(fc.array(runArb, { maxLength: 6 }), { maxLength: 5 }), { minLength: SENDERS, maxLength: SENDERS });
/** Which sender moves next, and how the main thread pauses after it (none, macrotask, timer). */
const orderArb = fc.array(fc.tuple(fc.integer({ min: 0, max: SENDERS - 1 }), fc.constantFrom(0, 0, 0, 1, 2)), { maxLength: 30 });

let rt: Runtime;
let run = 0;

before(async () => {
  // Senders may cast thousands from one handler on a loaded machine: no hang detection to speak of.
  ({ rt } = await startRuntime({ workers: 2, faults: true, hangTimeoutMs: 10_000 }));
});
after(async () => {
  await rt.stop();
});

async function checkRuns(scripts: Array<Array<Array<[number, number]>>>, order: Array<[number, number]>, mainCalls: boolean): Promise<void> {
  const r = ++run;
  const relays = [idOn(rt, `relay:r${r}a-`, 1), idOn(rt, `relay:r${r}b-`, 1), idOn(rt, `relay:r${r}c-`, 2)];
  const logs = [idOn(rt, `log:r${r}-`, 1), idOn(rt, `log:r${r}-`, 2)];
  logs.push(idOn(rt, `log:r${r}-`, 2, new Set(logs)));
  // Each run [receiver, n] is n consecutive casts to that receiver. A call in
  // the middle of a run (every 7th message of the main thread) ends it: the
  // casts after it start a new one.
  const commands = scripts.map((cmds) => cmds.map((runs) => runs.flatMap(([k, n]) => new Array<number>(n).fill(k))));
  await checkPairOrder(rt, { relays, logs, scripts: commands, order, callEvery: mainCalls ? 7 : 0, callTimeoutMs: 10_000, waitMs: 15_000 });
}

describe('runs of casts across threads', () => {
  test('each receiver sees each sender’s runs in order, senders on two workers and the main thread (property)', async () => {
    await fc.assert(fc.asyncProperty(scriptArb, orderArb, fc.boolean(), checkRuns), { numRuns: 25 });
  });

  test('with every batch delayed, runs still arrive in order (property)', async () => {
    rt.faults.linkFaults({ delayMs: 3 });
    try {
      await fc.assert(fc.asyncProperty(scriptArb, orderArb, fc.boolean(), checkRuns), { numRuns: 8 });
    } finally {
      rt.faults.linkFaults(null);
    }
  });
});
