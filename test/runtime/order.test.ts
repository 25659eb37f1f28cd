/**
 * Per-pair FIFO across threads: senders on two workers and on the main
 * thread, receivers on workers, random interleavings and batch boundaries;
 * and the same under link delay (which must never reorder).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Runtime } from '../../src/runtime/runtime.js';
import { idOn, startRuntime } from '../fixtures/runtime.js';
import { checkPairOrder, type Stamp } from '../fixtures/pair-order.js';
import { waitFor } from '../fixtures/probes.js';

/** Per sender: chunks of receiver indices; each relay chunk is one command. The last sender is the main thread. */
const SENDERS = 3;
const RECEIVERS = 3;
const scriptArb = fc.array(fc.array(fc.array(fc.integer({ min: 0, max: RECEIVERS - 1 }), { maxLength: 12 }), { maxLength: 6 }), {
  minLength: SENDERS,
  maxLength: SENDERS,
});
/** Which sender moves next, and how the main thread pauses (none, macrotask, timer) after it. */
const orderArb = fc.array(fc.tuple(fc.integer({ min: 0, max: SENDERS - 1 }), fc.constantFrom(0, 0, 1, 2)), { maxLength: 40 });

let rt: Runtime;
let run = 0;

before(async () => {
  // No hang detection to speak of here: a cold handler sending thousands of
  // messages on a busy machine must not pass for a hung worker.
  ({ rt } = await startRuntime({ workers: 2, faults: true, hangTimeoutMs: 10_000 }));
});
after(async () => {
  await rt.stop();
});

/**
 * One run: relays on threads 1 and 2 and the main thread send to logs on
 * threads 1, 2 and 2; every log must see every sender's stamps in order.
 */
async function checkOrder(scripts: number[][][], order: Array<[number, number]>, mainCalls: boolean): Promise<void> {
  const r = ++run;
  const relays = [idOn(rt, `relay:${r}-`, 1), idOn(rt, `relay:${r}-`, 2)];
  const logs = [idOn(rt, `log:${r}-`, 1), idOn(rt, `log:${r}-`, 2)];
  logs.push(idOn(rt, `log:${r}-`, 2, new Set(logs)));
  await checkPairOrder(rt, { relays, logs, scripts, order, callEvery: mainCalls ? 2 : 0, callTimeoutMs: 5000, waitMs: 5000 });
}

describe('per-pair FIFO across threads', () => {
  test('the test’s ids are placed as intended: relays and logs on both workers', async () => {
    const relay1 = idOn(rt, 'relay:p-', 1);
    const log2 = idOn(rt, 'log:p-', 2);
    assert.equal(await rt.ref(relay1).call('thread'), 1);
    assert.equal(await rt.ref(log2).call('thread'), 2);
  });

  test('each receiver sees each sender’s messages in order, senders on two workers and the main thread (property)', async () => {
    await fc.assert(fc.asyncProperty(scriptArb, orderArb, fc.boolean(), checkOrder), { numRuns: 25 });
  });

  test('a large burst from one sender crosses in several batches and stays in order', async () => {
    const log = idOn(rt, 'log:burst-', 1);
    const relay = idOn(rt, 'relay:burst-', 2);
    const N = 12_000;
    const sends: Array<[string, number]> = [];
    for (let i = 1; i <= N; i++) sends.push([log, i]);
    // 12 000 sends from one handler: one run of casts, cut into several batches (4096 fields each).
    rt.ref(relay).send({ from: relay, sends });
    for (let i = 1; i <= 2000; i++) rt.ref(log).send({ from: 'main', seq: i });
    let got: Stamp[] = [];
    await waitFor(async () => (got = await rt.ref(log).call<Stamp[]>('get')).length >= N + 2000, 10_000);
    const fromRelay = got.filter((x) => x.from === relay).map((x) => x.seq);
    const fromMain = got.filter((x) => x.from === 'main').map((x) => x.seq);
    assert.ok(fromRelay.every((v, i) => v === i + 1) && fromRelay.length === N, 'relay stamps in order');
    assert.ok(fromMain.every((v, i) => v === i + 1) && fromMain.length === 2000, 'main stamps in order');
  });
});

describe('per-pair FIFO under link delay', () => {
  test('delaying every batch between threads never reorders (property)', async () => {
    rt.faults.linkFaults({ delayMs: 4 });
    try {
      await fc.assert(fc.asyncProperty(scriptArb, orderArb, fc.boolean(), checkOrder), { numRuns: 10 });
      const st = await rt.stats();
      const delayed = st.threads.reduce((n, t) => n + ((t as { linkFaults?: { delayed: number } }).linkFaults?.delayed ?? 0), 0);
      assert.ok(delayed > 0, 'workers did delay batches');
    } finally {
      rt.faults.linkFaults(null);
    }
  });

  test('switching the delay off does not let new batches overtake the ones still held', async () => {
    const log = idOn(rt, 'log:switch-', 1);
    await rt.ref(log).call('get'); // activated before the delay starts
    rt.faults.linkFaults({ delayMs: 200 });
    for (let i = 1; i <= 50; i++) {
      rt.ref(log).send({ from: 'main', seq: i });
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setImmediate(r));
    rt.faults.linkFaults(null);
    for (let i = 51; i <= 100; i++) rt.ref(log).send({ from: 'main', seq: i });
    let got: Stamp[] = [];
    await waitFor(async () => (got = await rt.ref(log).call<Stamp[]>('get')).length >= 100, 3000);
    assert.deepEqual(
      got.map((x) => x.seq),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
  });
});
