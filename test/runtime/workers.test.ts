/**
 * Scheduler workers are supervised children: killed, crashed, hung or over
 * their resource limits, a worker is restarted with the next generation; its
 * virtual actors come back on their next message, and actors on the other
 * workers keep their state and their traffic.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { idOn, lastExitCode, restartOf, startRuntime } from '../fixtures/runtime.js';
import { sleep, waitFor } from '../fixtures/probes.js';

interface Stamp {
  from: string;
  seq: number;
}

describe('a worker that dies is restarted', () => {
  test('a worker killed mid-traffic is restarted, and traffic between surviving workers is neither lost nor reordered', async () => {
    const { rt, logs } = await startRuntime({ workers: 3, faults: true, hangTimeoutMs: 10_000 });
    try {
      const r1 = idOn(rt, 'relay:a', 1);
      const r2 = idOn(rt, 'relay:a', 2);
      const l1 = idOn(rt, 'log:a', 1);
      const l2 = idOn(rt, 'log:a', 2);
      const l3 = idOn(rt, 'log:a', 3);
      const c1 = idOn(rt, 'counter:a', 1);
      const c3 = idOn(rt, 'counter:a', 3);
      rt.ref(c1).send(7);
      rt.ref(c3).send(5);
      assert.equal(await rt.ref(c3).call('get'), 5);
      const gen3 = rt.generation(3);
      const restarted = restartOf(rt, 3);

      const seq: Record<string, number> = { [r1]: 0, [r2]: 0, main: 0 };
      const want = new Map<string, Stamp[]>([
        [l1, []],
        [l2, []],
      ]);
      const to = (log: string, from: string): [string, number] => {
        const n = ++seq[from]!;
        want.get(log)!.push({ from, seq: n });
        return [log, n];
      };
      let kill: Promise<void> | null = null;
      for (let i = 0; i < 150; i++) {
        rt.ref(r1).send({ from: r1, sends: [to(l2, r1), to(l1, r1), to(l2, r1)] });
        rt.ref(r2).send({ from: r2, sends: [to(l1, r2), to(l2, r2)] });
        const [log, n] = to(i % 2 ? l1 : l2, 'main');
        rt.ref(log).send({ from: 'main', seq: n });
        rt.ref(l3).send({ from: 'main', seq: -1 }); // to the victim: may be lost
        if (i === 40) kill = rt.faults.killWorker(3);
        await sleep(i % 5 === 0 ? 2 : 0);
      }
      await kill;
      const restartMs = await restarted;
      assert.ok(rt.generation(3) > gen3, 'the worker came back with a new generation');
      assert.equal(lastExitCode(logs, 3), 'worker_exit');

      for (const [log, expected] of want) {
        let got: Stamp[] = [];
        await waitFor(async () => (got = await rt.ref(log).call<Stamp[]>('get')).length >= expected.length, 5000, `traffic at ${log}`);
        for (const from of [r1, r2, 'main']) {
          assert.deepEqual(
            got.filter((x) => x.from === from).map((x) => x.seq),
            expected.filter((x) => x.from === from).map((x) => x.seq),
            `${from} → ${log}`,
          );
        }
        assert.equal(got.length, expected.length);
      }
      assert.equal(await rt.ref(c1).call('get'), 7, 'an actor on a surviving worker kept its state');
      assert.equal(await rt.ref(c3).call('get'), 0, 'the dead worker’s actor came back, fresh, on its next message');
      assert.equal(await rt.ref(l3).call('thread'), 3, 'on its own partition’s worker');
      assert.ok(restartMs < 10_000);
    } finally {
      await rt.stop();
    }
  });

  test('a crashed worker (uncaught error) is restarted; the other worker keeps its actors', async () => {
    const { rt, logs } = await startRuntime({ workers: 2, faults: true, hangTimeoutMs: 10_000 });
    try {
      const c1 = idOn(rt, 'counter:b', 1);
      const c2 = idOn(rt, 'counter:b', 2);
      rt.ref(c1).send(3);
      rt.ref(c2).send(4);
      assert.equal(await rt.ref(c2).call('get'), 4);
      const gen = rt.generation(2);
      const restarted = restartOf(rt, 2);
      rt.faults.crashWorker(2);
      await restarted;
      assert.equal(rt.generation(2), gen + 1);
      assert.equal(lastExitCode(logs, 2), 'worker_exit');
      assert.equal(await rt.ref(c2).call('get'), 0, 'back, on its next message');
      assert.equal(await rt.ref(c1).call('get'), 3);
    } finally {
      await rt.stop();
    }
  });

  test('a hung worker is found by the heartbeat and restarted', async () => {
    const { rt, logs } = await startRuntime({ workers: 2, faults: true, heartbeatMs: 100, hangTimeoutMs: 600 });
    try {
      const c1 = idOn(rt, 'counter:c', 1);
      const c2 = idOn(rt, 'counter:c', 2);
      rt.ref(c1).send(2);
      rt.ref(c2).send(9);
      assert.equal(await rt.ref(c1).call('get'), 2);
      const gen = rt.generation(1);
      const restarted = restartOf(rt, 1);
      const t0 = Date.now();
      rt.faults.hangWorker(1);
      await sleep(300);
      assert.equal(rt.generation(1), gen, 'not before the hang timeout');
      await restarted;
      const took = Date.now() - t0;
      assert.equal(lastExitCode(logs, 1), 'worker_hung');
      assert.ok(took >= 600 && took < 6000, `found and restarted after ${took} ms`);
      assert.equal(await rt.ref(c1).call('get'), 0);
      assert.equal(await rt.ref(c2).call('get'), 9, 'the other worker was not touched');
      assert.equal(rt.generation(2), 1);
    } finally {
      await rt.stop();
    }
  });

  test('a stall of the main thread longer than the hang timeout does not restart healthy workers', async () => {
    const { rt, logs } = await startRuntime({ workers: 2, heartbeatMs: 100, hangTimeoutMs: 600 });
    try {
      const c1 = idOn(rt, 'counter:d', 1);
      rt.ref(c1).send(6);
      assert.equal(await rt.ref(c1).call('get'), 6);
      await sleep(150);
      const until = Date.now() + 1000;
      while (Date.now() < until) {
        // The main thread is busy (a long synchronous task, a GC pause): the
        // workers answer their pings meanwhile; the answers wait in its queue.
      }
      await sleep(800);
      assert.deepEqual([rt.generation(1), rt.generation(2)], [1, 1], 'no worker was restarted');
      assert.equal(lastExitCode(logs, 1), undefined);
      assert.equal(await rt.ref(c1).call('get'), 6);
    } finally {
      await rt.stop();
    }
  });

  test('a worker over its resourceLimits is restarted; the other worker keeps its actors', async () => {
    const { rt, logs } = await startRuntime({ workers: 2, faults: true, hangTimeoutMs: 10_000, resourceLimits: { maxOldGenerationSizeMb: 48 } });
    try {
      const hog = idOn(rt, 'hog:', 1);
      const c2 = idOn(rt, 'counter:e', 2);
      rt.ref(c2).send(11);
      assert.equal(await rt.ref(c2).call('get'), 11);
      const restarted = restartOf(rt, 1, 20_000);
      const eating = rt.ref(hog).call('eat', { timeout: 20_000 }).catch((e: { code: string }) => e.code);
      await restarted;
      assert.equal(await eating, 'noconnection', 'the call into the dead worker fails');
      assert.equal(lastExitCode(logs, 1), 'worker_exit');
      const exit = logs.find((l) => (l.fields as { child?: string } | undefined)?.child === 'scheduler-1' && (l.fields as { event?: string }).event === 'child_exited');
      assert.match(JSON.stringify(exit?.fields), /OUT_OF_MEMORY|out of memory/i);
      assert.equal(rt.generation(1), 2);
      assert.equal(await rt.ref(c2).call('get'), 11);
      assert.equal(await rt.ref(hog).call('still here?'), 'still here?', 'the hog is back on its next message');
    } finally {
      await rt.stop();
    }
  });

  test('a worker that keeps dying exhausts the intensities up the tree and the runtime reports down', async () => {
    const { rt } = await startRuntime({ workers: 1, faults: true, hangTimeoutMs: 10_000, schedulerRestarts: { intensity: 1, period: 10_000 } });
    try {
      let down = false;
      const downed = new Promise<void>((resolve) => rt.once('down', () => resolve()));
      void downed.then(() => (down = true));
      let kills = 0;
      while (!down && kills < 6) {
        // Kill the worker once it (or the supervisor above it) has been
        // restarted completely, as the 'restart' event says.
        const restarted = new Promise<void>((resolve) => rt.once('restart', () => resolve()));
        await rt.faults.killWorker(1);
        kills++;
        await Promise.race([restarted, downed]);
      }
      assert.equal(down, true);
      // schedulers: 1 restart, then it gives up; root restarts it once (root
      // intensity 1), the new schedulers restarts once more, then gives up,
      // and the root gives up: four deaths.
      assert.equal(kills, 4);
    } finally {
      await rt.stop();
    }
  });
});

describe('stopping the runtime', () => {
  test('stop() ends well within its timeout and leaves no worker behind', async () => {
    const { rt } = await startRuntime({ workers: 2, stopTimeoutMs: 10_000 });
    const saver = idOn(rt, 'saver:', 1);
    rt.ref(saver).send(5);
    assert.equal(await rt.ref(saver).call('get'), 5);
    const t0 = Date.now();
    await rt.stop();
    const took = Date.now() - t0;
    assert.ok(took < 3000, `stop took ${took} ms`);
    const st = await rt.stats();
    assert.equal(st.threads.length, 1, 'no worker left');
    await rt.stop(); // idempotent
  });

  test('stop() right after a worker died (while it restarts) still ends every worker', async () => {
    for (const delay of [0, 60]) {
      const { rt } = await startRuntime({ workers: 2, faults: true, hangTimeoutMs: 10_000 });
      await rt.faults.killWorker(1);
      await sleep(delay);
      const t0 = Date.now();
      await rt.stop();
      assert.ok(Date.now() - t0 < 5000, `stop took ${Date.now() - t0} ms`);
      await sleep(20);
      assert.equal(process.getActiveResourcesInfo().includes('MessagePort'), false, `no worker left (delay ${delay})`);
    }
  });
});
