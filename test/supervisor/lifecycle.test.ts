/**
 * A supervisor's life: ordered start and rollback, reverse-order stop with a
 * per-child timeout then kill, brutal_kill, and the requests
 * (start_child, terminate_child, restart_child, delete_child).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Host } from '../../src/actors/host.js';
import { supervisor, Supervisor } from '../../src/supervisor/supervisor.js';
import type { ChildSpec } from '../../src/supervisor/spec.js';
import type { ActorRef } from '../../src/actors/ref.js';
import type { ActorContext } from '../../src/actors/behaviour.js';
import type { ParleyError } from '../../src/actors/errors.js';
import { Log, child, watchExit, isAlive, worker } from '../fixtures/sup-children.js';
import { spawnProbe, tick } from '../fixtures/probes.js';

function newHost(): Host {
  return new Host({ node: 'n', sweepMs: 0 });
}

/** Sends `exit(sup, reason)` from an actor that is neither its parent nor its child. */
async function exitFromOutside(host: Host, sup: ActorRef, reason: 'shutdown' | 'kill' | 'normal'): Promise<void> {
  const { ref } = await spawnProbe(host);
  await ref.call({ exit: sup as never, reason });
}

async function supAlive(sup: ActorRef): Promise<boolean> {
  return Supervisor.countChildren(sup, 500).then(
    () => true,
    () => false,
  );
}

describe('start', () => {
  test('children start in order, each init finishing before the next starts', async () => {
    const host = newHost();
    const log = new Log();
    const slow: ChildSpec = {
      id: 'slow',
      start: () => ({
        async init() {
          await new Promise((r) => setTimeout(r, 20));
          log.push('start:slow');
        },
        handle: () => undefined,
      }),
    };
    await host.spawn(supervisor({ children: [child(log, 'a'), slow, child(log, 'b')] }));
    assert.deepEqual(log.lines, ['start:a', 'start:slow', 'start:b']);
    await host.shutdown(500);
  });

  test('a start failure stops the siblings already started, in reverse order, and fails with start_failed', async () => {
    const host = newHost();
    const log = new Log();
    const spec = {
      children: [child(log, 'a'), child(log, 'b'), child(log, 'c', 'permanent', undefined, { failInit: () => true }), child(log, 'd')],
    };
    await assert.rejects(host.spawn(supervisor(spec)), (e: ParleyError) => {
      assert.equal(e.code, 'start_failed');
      assert.match(e.message, /child c failed to start: c cannot start/);
      return true;
    });
    assert.deepEqual(log.lines, ['start:a', 'start:b', 'failed:c', 'stop:b:shutdown', 'stop:a:shutdown']);
    assert.equal(log.startsOf('d'), 0, 'd never started');
    await tick();
    assert.equal(host.actorCount, 0, 'nothing left running');
    await host.shutdown(500);
  });

  test('a start failure of a linked supervisor reaches its spawner as a rejected spawn, not as an exit signal', async () => {
    const host = newHost();
    const log = new Log();
    const outcome = await host.spawn({
      async handle(_m: unknown, ctx: ActorContext) {
        return ctx
          .spawn(supervisor({ children: [child(log, 'x', 'permanent', undefined, { failInit: () => true })] }), { link: true })
          .then(
            () => 'started',
            (e: ParleyError) => e.code,
          );
      },
    });
    assert.equal(await outcome.call('go'), 'start_failed');
    assert.equal(await outcome.call('go').then(() => true), true, 'the spawner is alive');
    await host.shutdown(500);
  });
});

describe('stop', () => {
  test('stopping a supervisor stops its children in reverse start order with shutdown', async () => {
    const host = newHost();
    const log = new Log();
    const sup = await host.spawn(supervisor({ children: [child(log, 'a'), child(log, 'b'), child(log, 'c')] }));
    const supExit = await watchExit(host, sup);
    const mark = log.lines.length;
    await exitFromOutside(host, sup, 'shutdown');
    assert.equal(await supExit.wait(), 'shutdown');
    assert.deepEqual(log.since(mark), ['stop:c:shutdown', 'stop:b:shutdown', 'stop:a:shutdown']);
    await host.shutdown(500);
  });

  test('an exit signal from its parent stops the supervisor, whatever the reason', async () => {
    const host = newHost();
    const log = new Log();
    let supRef: ActorRef | null = null;
    const parent = await host.spawn<string>(
      {
        async handle(m, ctx: ActorContext) {
          if (m === 'start') supRef = await ctx.spawn(supervisor({ children: [child(log, 'a')] }), { link: true });
          else ctx.exit(supRef!, 'normal');
        },
      },
      { trapExits: true },
    );
    await parent.call('start');
    const supExit = await watchExit(host, supRef!);
    await parent.call('stop-it');
    assert.equal(await supExit.wait(), 'normal');
    assert.ok(log.lines.includes('stop:a:shutdown'));
    await host.shutdown(500);
  });

  test('a normal exit signal from a stranger is ignored; a kill is not', async () => {
    const host = newHost();
    const log = new Log();
    const sup = await host.spawn(supervisor({ children: [child(log, 'a')] }));
    const supExit = await watchExit(host, sup);
    await exitFromOutside(host, sup, 'normal');
    await tick();
    assert.equal(await supAlive(sup), true);
    const a = (await Supervisor.whichChildren(sup))[0]!.ref!;
    const aExit = await watchExit(host, a);
    await exitFromOutside(host, sup, 'kill');
    assert.equal(await supExit.wait(), 'killed');
    assert.equal(await aExit.wait(), 'killed', 'its linked children die with it');
    await host.shutdown(500);
  });

  test('a child whose terminate does not finish within its shutdown time is killed', async () => {
    const host = newHost();
    const log = new Log();
    const sup = await host.spawn(
      supervisor({ children: [child(log, 'stuck', 'permanent', 60, { stuck: true }), child(log, 'fine', 'permanent', 1000)] }),
    );
    const [stuck, fine] = (await Supervisor.whichChildren(sup)).map((c) => c.ref!);
    const stuckExit = await watchExit(host, stuck!);
    const fineExit = await watchExit(host, fine!);
    const supExit = await watchExit(host, sup);
    const t0 = Date.now();
    await exitFromOutside(host, sup, 'shutdown');
    assert.equal(await supExit.wait(), 'shutdown');
    const took = Date.now() - t0;
    assert.equal(fineExit.reason(), 'shutdown');
    assert.equal(stuckExit.reason(), 'killed');
    assert.deepEqual(log.since(2), ['stop:fine:shutdown', 'stop:stuck:shutdown'], 'terminate was asked, in reverse order');
    assert.ok(took >= 55 && took < 1000, `waited ${took} ms for a 60 ms shutdown`);
    await host.shutdown(500);
  });

  test('shutdown infinity waits for a slow terminate to finish', async () => {
    const host = newHost();
    const log = new Log();
    const sup = await host.spawn(supervisor({ children: [child(log, 'slow', 'permanent', 'infinity', { terminateMs: 80 })] }));
    const slowExit = await watchExit(host, (await Supervisor.whichChildren(sup))[0]!.ref!);
    const supExit = await watchExit(host, sup);
    await exitFromOutside(host, sup, 'shutdown');
    assert.equal(await supExit.wait(), 'shutdown');
    assert.equal(slowExit.reason(), 'shutdown', 'not killed');
    await host.shutdown(500);
  });

  test('brutal_kill kills the child at once: no terminate, reason killed', async () => {
    const host = newHost();
    const log = new Log();
    const sup = await host.spawn(supervisor({ children: [child(log, 'soft'), child(log, 'brutal', 'permanent', 'brutal_kill')] }));
    const [soft, brutal] = (await Supervisor.whichChildren(sup)).map((c) => c.ref!);
    const brutalExit = await watchExit(host, brutal!);
    const softExit = await watchExit(host, soft!);
    const supExit = await watchExit(host, sup);
    await exitFromOutside(host, sup, 'shutdown');
    assert.equal(await supExit.wait(), 'shutdown');
    assert.equal(brutalExit.reason(), 'killed');
    assert.equal(softExit.reason(), 'shutdown');
    assert.deepEqual(log.since(2), ['stop:soft:shutdown'], 'no terminate for the brutally killed child');
    await host.shutdown(500);
  });
});

describe('requests', () => {
  test('terminate_child stops a child and keeps its spec; restart_child starts it again; delete_child forgets it', async () => {
    const host = newHost();
    const log = new Log();
    const sup = await host.spawn(supervisor({ children: [child(log, 'a'), child(log, 'b')] }));
    const b1 = (await Supervisor.whichChildren(sup))[1]!.ref!;
    await assert.rejects(Supervisor.deleteChild(sup, 'b'), (e: { reason?: { code?: string } }) => e.reason?.code === 'running');
    assert.equal(await Supervisor.terminateChild(sup, 'b'), 'ok');
    assert.ok(log.lines.includes('stop:b:shutdown'));
    assert.equal(await isAlive(b1), false);
    assert.equal((await Supervisor.whichChildren(sup))[1]!.ref, null, 'terminated, not restarted');
    assert.deepEqual(await Supervisor.countChildren(sup), { specs: 2, active: 1, supervisors: 0, workers: 2 });
    const b2 = await Supervisor.restartChild(sup, 'b');
    assert.equal(await isAlive(b2), true);
    assert.equal(log.startsOf('b'), 2);
    await Supervisor.terminateChild(sup, 'b');
    assert.equal(await Supervisor.deleteChild(sup, 'b'), 'ok');
    assert.deepEqual((await Supervisor.whichChildren(sup)).map((c) => c.id), ['a']);
    await host.shutdown(500);
  });

  test('start_child adds a child at the end, started before the call returns', async () => {
    const host = newHost();
    const log = new Log();
    const sup = await host.spawn(supervisor({ strategy: 'rest_for_one', children: [child(log, 'a')] }));
    const b = await Supervisor.startChild(sup, child(log, 'b'));
    assert.deepEqual(log.lines, ['start:a', 'start:b']);
    assert.equal(await isAlive(b), true);
    assert.deepEqual((await Supervisor.whichChildren(sup)).map((c) => c.id), ['a', 'b']);
    await host.shutdown(500);
  });

  test('a failing start_child request is answered with the error, and the supervisor and its children live on', async () => {
    const host = newHost();
    const log = new Log();
    const sup = await host.spawn(supervisor({ children: [child(log, 'a')] }));
    const a = (await Supervisor.whichChildren(sup))[0]!.ref!;
    await assert.rejects(Supervisor.startChild(sup, child(log, 'a')), (e: { reason?: { code?: string } }) => e.reason?.code === 'duplicate_child_id');
    await assert.rejects(
      Supervisor.startChild(sup, child(log, 'bad', 'permanent', undefined, { failInit: () => true })),
      (e: { reason?: { message?: string } }) => /bad cannot start/.test(e.reason?.message ?? ''),
    );
    await assert.rejects(Supervisor.terminateChild(sup, 'nobody'), (e: { reason?: { code?: string } }) => e.reason?.code === 'not_found');
    assert.equal(await supAlive(sup), true);
    assert.equal(await isAlive(a), true);
    assert.deepEqual((await Supervisor.whichChildren(sup)).map((c) => [c.id, c.ref?.id]), [['a', a.id]]);
    await host.shutdown(500);
  });

  test('simple_one_for_one: startChild passes its arguments to the template; terminateChild removes the child', async () => {
    const host = newHost();
    const log = new Log();
    const tpl: ChildSpec = { id: 'conn', start: (name: string) => worker(log, `conn-${name}`) };
    const sup = await host.spawn(supervisor({ strategy: 'simple_one_for_one', children: [tpl] }));
    assert.deepEqual(await Supervisor.whichChildren(sup), [], 'no children until asked');
    const x = await Supervisor.startChild(sup, ['x']);
    const y = await Supervisor.startChild(sup, ['y']);
    assert.deepEqual(log.lines, ['start:conn-x', 'start:conn-y']);
    const kids = await Supervisor.whichChildren(sup);
    assert.deepEqual(
      kids.map((c) => c.ref?.id),
      [x.id, y.id],
    );
    assert.equal(await Supervisor.terminateChild(sup, x.id), 'ok');
    assert.ok(log.lines.includes('stop:conn-x:shutdown'));
    assert.equal(await isAlive(x), false);
    assert.deepEqual((await Supervisor.whichChildren(sup)).map((c) => c.ref?.id), [y.id]);
    assert.deepEqual(await Supervisor.countChildren(sup), { specs: 1, active: 1, supervisors: 0, workers: 1 });
    await host.shutdown(500);
  });

  test('simple_one_for_one stops its dynamic children in reverse order', async () => {
    const host = newHost();
    const log = new Log();
    const sup = await host.spawn(supervisor({ strategy: 'simple_one_for_one', children: [{ id: 'w', start: (n: string) => worker(log, n) }] }));
    for (const n of ['1', '2', '3']) await Supervisor.startChild(sup, [n]);
    const supExit = await watchExit(host, sup);
    await exitFromOutside(host, sup, 'shutdown');
    await supExit.wait();
    assert.deepEqual(log.since(3), ['stop:3:shutdown', 'stop:2:shutdown', 'stop:1:shutdown']);
    await host.shutdown(500);
  });
});
