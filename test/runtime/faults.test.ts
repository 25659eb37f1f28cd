/**
 * Fault hooks: off unless enabled (every hook refuses with faults_disabled),
 * and, when enabled, each does what faults.ts says.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/actors/errors.js';
import { idOn, startRuntime } from '../fixtures/runtime.js';
import { sleep, waitFor } from '../fixtures/probes.js';

const disabled = (e: unknown): boolean => e instanceof ConfigError && e.code === 'faults_disabled';

describe('fault hooks', () => {
  test('every fault hook refuses with faults_disabled unless the runtime enabled them', async () => {
    const { rt } = await startRuntime({ workers: 1 });
    try {
      assert.equal(rt.faults.enabled, false);
      const c = idOn(rt, 'counter:', 1);
      rt.ref(c).send(1);
      assert.throws(() => rt.faults.crashActor(c), disabled);
      assert.throws(() => rt.faults.crashWorker(1), disabled);
      assert.throws(() => rt.faults.hangWorker(1), disabled);
      assert.throws(() => rt.faults.linkFaults({ drop: 1 }), disabled);
      assert.throws(() => rt.faults.linkFaults(null), disabled);
      await assert.rejects(rt.faults.killWorker(1), disabled);
      await sleep(50);
      assert.equal(rt.generation(1), 1, 'nothing was hurt');
      assert.equal(await rt.ref(c).call('get'), 1);
    } finally {
      await rt.stop();
    }
  });

  test('crashActor crashes one actor as if its handler threw injected_crash; it comes back fresh', async () => {
    const { rt, logs } = await startRuntime({ workers: 2, faults: true });
    try {
      const c = idOn(rt, 'counter:crash', 2);
      const other = idOn(rt, 'counter:other', 2);
      rt.ref(c).send(4);
      rt.ref(other).send(8);
      assert.equal(await rt.ref(c).call('get'), 4);
      rt.faults.crashActor(c, 'testing');
      await waitFor(() => logs.some((l) => l.msg.includes(`actor ${c} crashed`)));
      assert.ok(logs.some((l) => l.msg.includes('injected_crash') && l.msg.includes('testing')));
      assert.equal(await rt.ref(c).call('get'), 0);
      assert.equal(await rt.ref(other).call('get'), 8, 'only that actor');
      const st = await rt.stats();
      assert.equal(st.threads.find((t) => t.thread === 2)!.crashes, 1);
    } finally {
      await rt.stop();
    }
  });

  test('thread hooks take scheduler numbers 1..N and refuse others with invalid_thread', async () => {
    const { rt } = await startRuntime({ workers: 1, faults: true });
    try {
      assert.throws(() => rt.faults.crashWorker(0), { code: 'invalid_thread' });
      assert.throws(() => rt.faults.hangWorker(2), { code: 'invalid_thread' });
      await assert.rejects(rt.faults.killWorker(1.5), { code: 'invalid_thread' });
      assert.throws(() => rt.faults.linkFaults({ drop: 2 }), { code: 'invalid_fault' });
      assert.throws(() => rt.faults.linkFaults({ delayMs: -1 }), { code: 'invalid_fault' });
    } finally {
      await rt.stop();
    }
  });

  test('dropped and duplicated batches are lost or doubled, and counted', async () => {
    const { rt } = await startRuntime({ workers: 1, faults: true });
    try {
      const log = idOn(rt, 'log:faults', 1);
      await rt.ref(log).call('get'); // activated before the faults start
      // A stats round trip travels the control channel behind the fault
      // settings: once it is back, every worker applies them.
      const settle = async (): Promise<unknown> => rt.stats();
      rt.faults.linkFaults({ drop: 1 });
      await settle();
      for (let i = 0; i < 10; i++) rt.ref(log).send(i);
      await assert.rejects(rt.ref(log).call('get', { timeout: 100 }), { code: 'timeout' });
      rt.faults.linkFaults({ duplicate: 1 });
      await settle();
      rt.ref(log).send('twice');
      // The call goes out twice, and its answers come back twice: one answers, the rest are late.
      assert.equal(await rt.ref(log).call('thread'), 1);
      await sleep(20);
      rt.faults.linkFaults(null);
      await settle();
      const got = await rt.ref(log).call<unknown[]>('get');
      assert.deepEqual(got, ['twice', 'twice'], 'dropped batches never arrive; a duplicated one arrives twice');
      const st = await rt.stats();
      const w = st.threads.find((t) => t.thread === 1) as { linkFaults: { duplicated: number } };
      assert.ok(w.linkFaults.duplicated >= 1, 'the worker counted its duplicates');
      assert.ok(rt.host.getStats().lateReplies >= 1, 'the extra answers were dropped as late');
    } finally {
      await rt.stop();
    }
  });
});
