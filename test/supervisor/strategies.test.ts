/**
 * The supervisor's restart table: every strategy × restart type × exit
 * reason, then intensity (escalation, bounded restart loops).
 *
 * Each case starts children a, b, c (b with the restart type under test, its
 * siblings permanent), makes b exit, and checks which children were
 * restarted, in what order, and what `which_children` says afterwards.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Host } from '../../src/actors/host.js';
import { supervisor, Supervisor, type ChildInfo, type SupervisorEvent } from '../../src/supervisor/supervisor.js';
import type { RestartType, Strategy, ChildSpec } from '../../src/supervisor/spec.js';
import type { ActorRef } from '../../src/actors/ref.js';
import { Log, child, watchExit, isAlive, worker, type WorkerMsg } from '../fixtures/sup-children.js';
import { spawnProbe, sleep, tick } from '../fixtures/probes.js';

type Why = 'normal' | 'shutdown' | 'crash' | 'killed';

const RESTARTS: RestartType[] = ['permanent', 'transient', 'temporary'];
const WHYS: Why[] = ['normal', 'shutdown', 'crash', 'killed'];

/** OTP's rule: permanent always, transient after an abnormal exit, temporary never. */
function restarted(r: RestartType, why: Why): boolean {
  return r === 'permanent' || (r === 'transient' && (why === 'crash' || why === 'killed'));
}

/** Makes the child `ref` exit for the given reason, from inside (stop, throw) or outside (kill). */
async function makeExit(host: Host, ref: ActorRef, why: Why): Promise<void> {
  const r = ref as ActorRef<WorkerMsg>;
  if (why === 'crash') await r.call('crash').catch(() => undefined);
  else if (why === 'killed') {
    const { ref: killer } = await spawnProbe(host);
    await killer.call({ exit: ref as never, reason: 'kill' });
  } else await r.call({ stop: why });
}

/** A supervisor answers its own requests (a `ping` would be a bad request). */
async function supAlive(sup: ActorRef): Promise<boolean> {
  return Supervisor.countChildren(sup, 500).then(
    () => true,
    () => false,
  );
}

function refOf(children: ChildInfo[], id: string): ActorRef | null | undefined {
  return children.find((c) => c.id === id)?.ref;
}

describe('restart table: strategy × restart type × exit reason', () => {
  for (const strategy of ['one_for_one', 'one_for_all', 'rest_for_one'] as Strategy[]) {
    for (const restart of RESTARTS) {
      for (const why of WHYS) {
        const again = restarted(restart, why);
        const name =
          `${strategy}: a ${restart} child that exits with ${why === 'crash' ? 'a crash' : why} is ` +
          (again
            ? { one_for_one: 'restarted alone', one_for_all: 'restarted with all its siblings', rest_for_one: 'restarted with the siblings started after it' }[strategy as 'one_for_one']
            : restart === 'temporary'
              ? 'forgotten, its siblings untouched'
              : 'not restarted, its siblings untouched');
        test(name, async () => {
          const host = new Host({ node: 'n', sweepMs: 0 });
          const log = new Log();
          const sup = await host.spawn(
            supervisor({ strategy, intensity: 10, period: 5000, children: [child(log, 'a'), child(log, 'b', restart), child(log, 'c')] }),
          );
          assert.deepEqual(log.lines, ['start:a', 'start:b', 'start:c'], 'started in order');
          const before = await Supervisor.whichChildren(sup);
          const mark = log.lines.length;
          await makeExit(host, refOf(before, 'b')!, why);
          const after = await Supervisor.whichChildren(sup);

          const reason = why === 'crash' ? 'Error: b crashed' : why;
          const own = why === 'killed' ? [] : [`stop:b:${reason}`]; // kill skips terminate
          let expected: string[];
          if (!again) expected = own;
          else if (strategy === 'one_for_one') expected = [...own, 'start:b'];
          else if (strategy === 'rest_for_one') expected = [...own, 'stop:c:shutdown', 'start:b', 'start:c'];
          else expected = [...own, 'stop:c:shutdown', 'stop:a:shutdown', 'start:a', 'start:b', 'start:c'];
          assert.deepEqual(log.since(mark), expected);

          assert.deepEqual(
            after.map((c) => c.id),
            restart === 'temporary' ? ['a', 'c'] : ['a', 'b', 'c'],
          );
          const changed = (id: string): boolean => refOf(after, id)?.id !== refOf(before, id)?.id;
          const bRef = refOf(after, 'b');
          if (again) {
            assert.ok(bRef !== null && bRef !== undefined && changed('b'), 'b has a new ref');
            assert.equal(await isAlive(bRef), true);
          } else if (restart !== 'temporary') assert.equal(bRef, null, 'b is kept, not running');
          assert.equal(changed('a'), again && strategy === 'one_for_all', 'a restarted?');
          assert.equal(changed('c'), again && strategy !== 'one_for_one', 'c restarted?');
          // Replaced refs are dead; kept ones answer.
          for (const id of ['a', 'c']) {
            const old = refOf(before, id)!;
            assert.equal(await isAlive(old), !changed(id), `old ref of ${id}`);
            assert.equal(await isAlive(refOf(after, id)!), true, `current ref of ${id}`);
          }
          assert.equal(await supAlive(sup), true, 'the supervisor lives on');
          await host.shutdown(500);
        });
      }
    }
  }

  for (const restart of RESTARTS) {
    for (const why of WHYS) {
      const again = restarted(restart, why);
      test(`simple_one_for_one: a ${restart} dynamic child that exits with ${why === 'crash' ? 'a crash' : why} is ${again ? 'restarted with the same arguments' : 'removed'}`, async () => {
        const host = new Host({ node: 'n', sweepMs: 0 });
        const log = new Log();
        const tpl: ChildSpec = { id: 'w', restart, start: (name: string) => worker(log, name) };
        const sup = await host.spawn(supervisor({ strategy: 'simple_one_for_one', intensity: 10, children: [tpl] }));
        const x = await Supervisor.startChild(sup, ['x']);
        const y = await Supervisor.startChild(sup, ['y']);
        const mark = log.lines.length;
        await makeExit(host, x, why);
        const after = await Supervisor.whichChildren(sup);
        const reason = why === 'crash' ? 'Error: x crashed' : why;
        const own = why === 'killed' ? [] : [`stop:x:${reason}`];
        assert.deepEqual(log.since(mark), again ? [...own, 'start:x'] : own);
        assert.equal(after.length, again ? 2 : 1);
        assert.ok(after.some((c) => c.ref?.id === y.id), 'the sibling is untouched');
        if (again) assert.ok(after.some((c) => c.ref !== null && c.ref.id !== x.id && c.ref.id !== y.id));
        await host.shutdown(500);
      });
    }
  }
});

describe('restart intensity', () => {
  test('one restart more than the intensity within the period: the supervisor stops its children and exits with shutdown', async () => {
    const host = new Host({ node: 'n', sweepMs: 0 });
    const log = new Log();
    const events: SupervisorEvent[] = [];
    const sup = await host.spawn(
      supervisor({ strategy: 'one_for_one', intensity: 2, period: 5000, children: [child(log, 'a'), child(log, 'b')] }, { report: (e) => events.push(e) }),
    );
    const supExit = await watchExit(host, sup);
    for (let k = 0; k < 2; k++) {
      await makeExit(host, refOf(await Supervisor.whichChildren(sup), 'b')!, 'crash');
    }
    assert.equal(log.startsOf('b'), 3, 'two restarts allowed');
    assert.equal(await supAlive(sup), true);
    const mark = log.lines.length;
    await makeExit(host, refOf(await Supervisor.whichChildren(sup), 'b')!, 'crash');
    assert.equal(await supExit.wait(), 'shutdown');
    assert.deepEqual(log.since(mark), ['stop:b:Error: b crashed', 'stop:a:shutdown']);
    assert.equal(log.startsOf('b'), 3, 'no third restart');
    assert.ok(events.some((e) => e.event === 'shutdown' && e.reason === 'reached_max_restart_intensity'));
    await host.shutdown(500);
  });

  test('restarts older than the period no longer count', async () => {
    let now = 0;
    const host = new Host({ node: 'n', sweepMs: 0 });
    const log = new Log();
    const sup = await host.spawn(supervisor({ intensity: 1, period: 1000, children: [child(log, 'a')] }, { clock: () => now }));
    const supExit = await watchExit(host, sup);
    for (let k = 0; k < 5; k++) {
      await makeExit(host, refOf(await Supervisor.whichChildren(sup), 'a')!, 'crash');
      now += 1001;
    }
    assert.equal(log.startsOf('a'), 6);
    assert.equal(await supAlive(sup), true);
    await makeExit(host, refOf(await Supervisor.whichChildren(sup), 'a')!, 'crash');
    await makeExit(host, refOf(await Supervisor.whichChildren(sup), 'a')!, 'crash');
    assert.equal(await supExit.wait(), 'shutdown', 'two within one period is one too many');
    await host.shutdown(500);
  });

  test('intensity 0: the first restart is one too many', async () => {
    const host = new Host({ node: 'n', sweepMs: 0 });
    const log = new Log();
    const sup = await host.spawn(supervisor({ intensity: 0, children: [child(log, 'a'), child(log, 'b', 'transient')] }));
    const supExit = await watchExit(host, sup);
    // A transient child exiting normally is no restart, so it does not count.
    await makeExit(host, refOf(await Supervisor.whichChildren(sup), 'b')!, 'normal');
    assert.equal(await supAlive(sup), true);
    await makeExit(host, refOf(await Supervisor.whichChildren(sup), 'a')!, 'crash');
    assert.equal(await supExit.wait(), 'shutdown');
    assert.equal(log.startsOf('a'), 1);
    await host.shutdown(500);
  });

  test('escalation: a supervisor that gives up is restarted by its parent, with fresh children', async () => {
    const host = new Host({ node: 'n', sweepMs: 0 });
    const log = new Log();
    const events: SupervisorEvent[] = [];
    const report = (e: SupervisorEvent): void => void events.push(e);
    const middle: ChildSpec = {
      id: 'middle',
      type: 'supervisor',
      start: () => supervisor({ intensity: 1, period: 5000, children: [child(log, 'w')] }, { report }),
    };
    const top = await host.spawn(supervisor({ intensity: 3, period: 5000, children: [middle, child(log, 'sibling')] }, { report }));
    const mid1 = refOf(await Supervisor.whichChildren(top), 'middle')!;
    const sibling = refOf(await Supervisor.whichChildren(top), 'sibling')!;
    const midExit = await watchExit(host, mid1);
    await makeExit(host, refOf(await Supervisor.whichChildren(mid1), 'w')!, 'crash');
    assert.equal(log.startsOf('w'), 2, 'the first crash is restarted by middle');
    await makeExit(host, refOf(await Supervisor.whichChildren(mid1), 'w')!, 'crash');
    assert.equal(await midExit.wait(), 'shutdown', 'middle gave up');
    const now = await Supervisor.whichChildren(top);
    const mid2 = refOf(now, 'middle')!;
    assert.ok(mid2 !== null && mid2.id !== mid1.id, 'top restarted middle');
    assert.equal(log.startsOf('w'), 3, 'the new middle started a fresh w');
    assert.equal(await isAlive(refOf(await Supervisor.whichChildren(mid2), 'w')!), true);
    assert.equal(refOf(now, 'sibling')!.id, sibling.id, 'one_for_one at the top: the sibling is untouched');
    assert.deepEqual(
      events.filter((e) => e.event === 'shutdown').map((e) => e.supervisor),
      [mid1.id],
    );
    assert.ok(events.some((e) => e.event === 'child_restarted' && e.child === 'middle' && e.supervisor === top.id));
    await host.shutdown(500);
  });

  test('escalation goes up the tree until a supervisor gives up at the top', async () => {
    const host = new Host({ node: 'n', sweepMs: 0 });
    const log = new Log();
    const middle: ChildSpec = { id: 'middle', type: 'supervisor', start: () => supervisor({ intensity: 0, children: [child(log, 'w')] }) };
    const top = await host.spawn(supervisor({ intensity: 0, children: [middle, child(log, 'other')] }));
    const topExit = await watchExit(host, top);
    const mid = refOf(await Supervisor.whichChildren(top), 'middle')!;
    await makeExit(host, refOf(await Supervisor.whichChildren(mid), 'w')!, 'crash');
    assert.equal(await topExit.wait(), 'shutdown');
    assert.ok(log.lines.includes('stop:other:shutdown'), 'the top stopped its other children');
    assert.equal(log.startsOf('w'), 1);
    await host.shutdown(500);
  });

  test('a restart loop is bounded: a child whose init fails on every restart costs intensity + 1 starts', async () => {
    for (const intensity of [1, 3]) {
      const host = new Host({ node: 'n', sweepMs: 0 });
      const log = new Log();
      const events: SupervisorEvent[] = [];
      const sup = await host.spawn(
        supervisor(
          { intensity, period: 5000, children: [child(log, 'ok'), child(log, 'flaky', 'permanent', undefined, { failInit: (n) => n > 1 })] },
          { report: (e) => events.push(e) },
        ),
      );
      const supExit = await watchExit(host, sup);
      await makeExit(host, refOf(await Supervisor.whichChildren(sup), 'flaky')!, 'crash');
      assert.equal(await supExit.wait(), 'shutdown');
      assert.equal(log.startsOf('flaky'), intensity + 1, `intensity ${intensity}`);
      assert.equal(events.filter((e) => e.event === 'start_error').length, intensity);
      await sleep(30);
      assert.equal(log.startsOf('flaky'), intensity + 1, 'and no more later');
      assert.ok(log.lines.includes('stop:ok:shutdown'));
      await host.shutdown(500);
    }
  });

  test('a restart that fails once and then succeeds keeps the supervisor up', async () => {
    const host = new Host({ node: 'n', sweepMs: 0 });
    const log = new Log();
    const sup = await host.spawn(
      supervisor({ intensity: 5, children: [child(log, 'flaky', 'permanent', undefined, { failInit: (n) => n === 2 })] }),
    );
    await makeExit(host, refOf(await Supervisor.whichChildren(sup), 'flaky')!, 'crash');
    await tick(5);
    const now = await Supervisor.whichChildren(sup);
    assert.ok(refOf(now, 'flaky') !== null);
    assert.equal(log.startsOf('flaky'), 3);
    assert.equal(await isAlive(refOf(now, 'flaky')!), true);
    await host.shutdown(500);
  });
});
