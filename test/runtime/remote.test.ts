/**
 * Calls, links and monitors between threads: the same rules as on one
 * thread, plus `noconnection` when the other side's worker dies, and
 * incarnations that survive a worker restart.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { ActorRef } from '../../src/actors/ref.js';
import type { CallError } from '../../src/actors/errors.js';
import { idOn, restartOf, startRuntime } from '../fixtures/runtime.js';
import { spawnProbe, waitFor, type ProbeMsg } from '../fixtures/probes.js';

interface Seen {
  type: string;
  from: string;
  incarnation: number;
  reason: unknown;
}

let rt: Runtime;
before(async () => {
  ({ rt } = await startRuntime({ workers: 2, faults: true, hangTimeoutMs: 10_000 }));
});
after(async () => {
  await rt.stop();
});

describe('calls across threads', () => {
  test('a virtual actor is activated on the thread that owns its partition', async () => {
    for (const t of [1, 2]) assert.equal(await rt.ref(idOn(rt, 'log:where', t)).call('thread'), t);
  });

  test('a crash answers the call with crashed and the error, and the id is reactivated', async () => {
    const id = idOn(rt, 'crashy:', 2);
    await assert.rejects(rt.ref(id).call('boom'), (e: CallError) => e.code === 'crashed' && (e.reason as { message: string }).message === 'boom');
    assert.equal(await rt.ref(id).call('again'), 'again');
  });

  test('an id of no registered kind is noproc on its owner thread', async () => {
    await assert.rejects(rt.ref('nokind:x').call('hi', { timeout: 2000 }), { code: 'noproc' });
    const st = await rt.stats();
    const owner = rt.ownerOf(rt.ref('nokind:x').partition);
    assert.ok(st.threads.find((t) => t.thread === owner)!.deadLetters.noproc >= 1);
  });

  test('a late reply from another thread is dropped, counted, and never answers the next call', async () => {
    const id = idOn(rt, 'slow:late', 1);
    const before = rt.host.getStats().lateReplies;
    await assert.rejects(rt.ref(id).call({ ms: 150, value: 'late' }, { timeout: 30 }), { code: 'timeout' });
    assert.equal(await rt.ref(id).call({ ms: 0, value: 'second' }, { timeout: 2000 }), 'second');
    assert.equal(rt.host.getStats().lateReplies, before + 1);
  });

  test('an actor calls another on a different worker and gets its answer', async () => {
    const slow = idOn(rt, 'slow:x', 2);
    const caller = await rt.spawn<string>({ handle: (_m, ctx) => ctx.call(ctx.ref(slow), { ms: 1, value: 'from afar' }) });
    assert.equal(await caller.call('go'), 'from afar');
  });
});

describe('links and monitors across threads', () => {
  test('a crash on a worker reaches a linked trapping actor on the main thread, with the reason', async () => {
    const trapper = await spawnProbe(rt.host, true);
    const id = idOn(rt, 'crashy:link', 1);
    const target = rt.ref(id);
    await trapper.ref.call({ link: target as ActorRef<ProbeMsg> });
    await trapper.ref.call({ monitor: target as ActorRef<ProbeMsg> });
    await target.call('boom').catch(() => undefined);
    await waitFor(() => trapper.probe.seen.length === 2);
    assert.deepEqual(
      trapper.probe.seen.map((s) => [s.type, s.from, (s.reason as { message: string }).message]).sort(),
      [
        ['down', id, 'boom'],
        ['exit', id, 'boom'],
      ],
    );
  });

  test('a crash on the main thread reaches a linked trapping actor on a worker', async () => {
    const watcher = rt.ref(idOn(rt, 'watcher:m', 2));
    const victim = await spawnProbe(rt.host);
    await watcher.call({ link: victim.ref });
    await watcher.call({ monitor: victim.ref });
    await victim.ref.call({ throw: 'main boom' }).catch(() => undefined);
    let seen: Seen[] = [];
    await waitFor(async () => (seen = await watcher.call<Seen[]>('signals')).length === 2);
    assert.deepEqual(
      seen.map((s) => [s.type, s.from, (s.reason as { message: string }).message]).sort(),
      [
        ['down', victim.ref.id, 'main boom'],
        ['exit', victim.ref.id, 'main boom'],
      ],
    );
  });

  test('links, monitors and calls into a worker that dies fail with noconnection, on the main thread and on the other worker', async () => {
    const victim = rt.ref(idOn(rt, 'watcher:victim', 1));
    const slow = rt.ref(idOn(rt, 'slow:victim', 1));
    const remote = rt.ref(idOn(rt, 'watcher:survivor', 2));
    assert.equal(await victim.call('thread'), 1);
    const onMain = await spawnProbe(rt.host, true);
    await onMain.ref.call({ link: victim as ActorRef<ProbeMsg> });
    await onMain.ref.call({ monitor: victim as ActorRef<ProbeMsg> });
    await remote.call({ link: victim });
    await remote.call({ monitor: victim });
    await victim.call('get'); // both signals have reached it
    const inFlight = slow.call({ ms: 5000, value: 'never' }, { timeout: 8000 }).catch((e: CallError) => e.code);
    const restarted = restartOf(rt, 1);
    const t0 = Date.now();
    await rt.faults.killWorker(1);
    assert.equal(await inFlight, 'noconnection');
    assert.ok(Date.now() - t0 < 3000, 'failed at once, not at its timeout');
    await waitFor(() => onMain.probe.seen.length === 2);
    assert.deepEqual(
      onMain.probe.seen.map((s) => [s.type, s.from, s.reason]).sort(),
      [
        ['down', victim.id, 'noconnection'],
        ['exit', victim.id, 'noconnection'],
      ],
    );
    let seen: Seen[] = [];
    await waitFor(async () => (seen = await remote.call<Seen[]>('signals')).filter((s) => s.from === victim.id).length === 2);
    assert.deepEqual(
      seen.filter((s) => s.from === victim.id).map((s) => [s.type, s.reason]).sort(),
      [
        ['down', 'noconnection'],
        ['exit', 'noconnection'],
      ],
    );
    await restarted;
  });

  test('a signal meant for an incarnation from before a worker restart never reaches the new activation', async () => {
    const id = idOn(rt, 'watcher:inc', 2);
    const w = rt.ref(id);
    const old = await w.call<ActorRef>('self');
    assert.ok(old.incarnation !== 0);
    const restarted = restartOf(rt, 2);
    await rt.faults.killWorker(2);
    await restarted;
    w.send(5);
    const now = await w.call<ActorRef>('self');
    assert.notEqual(now.incarnation, old.incarnation);
    const sender = await spawnProbe(rt.host);
    await sender.ref.call({ exit: old as ActorRef<ProbeMsg>, reason: 'kill' });
    const trapper = await spawnProbe(rt.host, true);
    await trapper.ref.call({ link: old as ActorRef<ProbeMsg> });
    await waitFor(() => trapper.probe.seen.length === 1);
    assert.deepEqual(trapper.probe.seen, [{ type: 'exit', from: id, reason: 'noproc' }], 'the old incarnation is gone');
    assert.equal(await w.call('get'), 5, 'the new activation was not killed');
    await sender.ref.call({ exit: now as ActorRef<ProbeMsg>, reason: 'kill' });
    await waitFor(async () => (await w.call('get')) === 0, 2000, 'the current incarnation to be killed and reactivated');
  });
});
