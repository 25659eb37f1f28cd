/**
 * Passivation on worker threads: `saver:*` (fixture) loads its count from
 * `store:*` in init and saves it there in its passivate hook, both by calls
 * that may cross threads. Under a steady trickle of messages it passivates
 * and comes back many times; not one message may be lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { idOn, startRuntime } from '../fixtures/runtime.js';
import { sleep, waitFor } from '../fixtures/probes.js';

test('passivation under load on worker threads loses nothing', async () => {
  const { rt } = await startRuntime({ workers: 2, sweepMs: 10, hangTimeoutMs: 10_000 });
  try {
    const savers = [idOn(rt, 'saver:', 1), idOn(rt, 'saver:', 2)];
    savers.push(idOn(rt, 'saver:', 1, new Set(savers)));
    const totals = new Map(savers.map((s) => [s, 0]));
    // Bursts, then quiet gaps longer than idleMs (50) in which messages keep
    // trickling in: some reach a saver while its save hook is running.
    for (let round = 0; round < 6; round++) {
      for (let i = 1; i <= 30; i++) {
        const s = savers[(round + i) % savers.length]!;
        rt.ref(s).send(i);
        totals.set(s, totals.get(s)! + i);
      }
      for (let k = 0; k < 12; k++) {
        await sleep(7);
        if (k % 4 === 3) {
          const s = savers[k % savers.length]!;
          rt.ref(s).send(1000);
          totals.set(s, totals.get(s)! + 1000);
        }
      }
    }
    for (const s of savers) assert.equal(await rt.ref(s).call('get'), totals.get(s), s);
    const st = await rt.stats();
    const passivations = st.threads.reduce((n, t) => n + t.passivations, 0);
    assert.ok(passivations >= 6, `savers were passivated ${passivations} times`);
    assert.equal(st.totals.deadLetters, 0);
  } finally {
    await rt.stop();
  }
});

test('a virtual actor on a worker is passivated after idleMs and its state saved', async () => {
  const { rt } = await startRuntime({ workers: 2, sweepMs: 10, hangTimeoutMs: 10_000 });
  try {
    const s = idOn(rt, 'saver:idle', 2);
    rt.ref(s).send(42);
    assert.equal(await rt.ref(s).call('get'), 42);
    const thread2 = async () => (await rt.stats()).threads.find((t) => t.thread === 2)!;
    let now = await thread2();
    await waitFor(async () => (now = await thread2()).passivations >= 1, 3000, 'passivation of an idle saver');
    const activations = now.activations;
    assert.equal(await rt.ref(s).call('get'), 42, 'the next activation loaded what was saved');
    assert.equal((await thread2()).activations, activations + 1, 'a new activation');
  } finally {
    await rt.stop();
  }
});
