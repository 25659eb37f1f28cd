/**
 * Links and monitors on one thread: the exit-signal table of exit-reason.ts,
 * and incarnations (a signal for an earlier activation never reaches a later one).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Host } from '../../src/actors/host.js';
import type { ActorRef } from '../../src/actors/ref.js';
import type { ActorContext, Behaviour } from '../../src/actors/behaviour.js';
import type { ExitReason } from '../../src/actors/exit-reason.js';
import { sleep, spawnProbe, tick, waitFor, type ProbeMsg } from '../fixtures/probes.js';

function newHost(kinds: ConstructorParameters<typeof Host>[0]['kinds'] = {}): Host {
  return new Host({ node: 'n', kinds, sweepMs: 0 });
}

/** Resolves with the reason `target` exits with, seen through a fresh monitor. */
async function exitOf(host: Host, target: ActorRef): Promise<() => ExitReason | null> {
  const { ref, probe } = await spawnProbe(host);
  await ref.call({ monitor: target });
  return () => probe.seen.find((s) => s.type === 'down' && s.from === target.id)?.reason ?? null;
}

async function alive(ref: ActorRef<ProbeMsg>): Promise<boolean> {
  return ref.call('ping', { timeout: 500 }).then(
    () => true,
    () => false,
  );
}

const boom = { error: 'Error', message: 'boom' };

describe('links', () => {
  test('a normal exit does not kill a linked actor that does not trap exits', async () => {
    const host = newHost();
    const a = await spawnProbe(host);
    const b = await spawnProbe(host);
    await a.ref.call({ link: b.ref });
    const bExit = await exitOf(host, b.ref);
    await b.ref.call({ stop: 'normal' });
    await waitFor(() => bExit() !== null);
    assert.equal(bExit(), 'normal');
    assert.equal(await alive(a.ref), true);
    await host.shutdown(100);
  });

  for (const reason of ['shutdown', 'noconnection', boom] as ExitReason[]) {
    const name = typeof reason === 'string' ? reason : 'a crash';
    test(`an exit with ${name} kills a linked non-trapping actor with the same reason`, async () => {
      const host = newHost();
      const a = await spawnProbe(host);
      const b = await spawnProbe(host);
      await a.ref.call({ link: b.ref });
      const aExit = await exitOf(host, a.ref);
      if (reason === boom) await b.ref.call({ throw: 'boom' }).catch(() => undefined);
      else await b.ref.call({ stop: reason });
      await waitFor(() => aExit() !== null);
      const got = aExit();
      if (typeof reason === 'string') assert.equal(got, reason);
      else assert.deepEqual({ error: (got as typeof boom).error, message: (got as typeof boom).message }, boom);
      assert.deepEqual(a.probe.terminated, got, 'terminate ran with the same reason');
      await host.shutdown(100);
    });
  }

  test('a trapping actor receives the exit as an info signal and keeps running', async () => {
    const host = newHost();
    const a = await spawnProbe(host, true);
    const b = await spawnProbe(host);
    const c = await spawnProbe(host);
    await a.ref.call({ link: b.ref });
    await a.ref.call({ link: c.ref });
    await b.ref.call({ throw: 'boom' }).catch(() => undefined);
    await c.ref.call({ stop: 'normal' });
    await waitFor(() => a.probe.seen.length === 2);
    assert.deepEqual(
      a.probe.seen.map((s) => [s.type, s.from, typeof s.reason === 'string' ? s.reason : s.reason.message]),
      [
        ['exit', b.ref.id, 'boom'],
        ['exit', c.ref.id, 'normal'],
      ],
    );
    assert.equal(await alive(a.ref), true);
    await host.shutdown(100);
  });

  test('links are two-way: the linked actor dying takes the linker with it', async () => {
    const host = newHost();
    const a = await spawnProbe(host);
    const b = await spawnProbe(host);
    await a.ref.call({ link: b.ref });
    const bExit = await exitOf(host, b.ref);
    await a.ref.call({ throw: 'boom' }).catch(() => undefined);
    await waitFor(() => bExit() !== null);
    assert.equal((bExit() as { message: string }).message, 'boom');
    await host.shutdown(100);
  });

  test('unlink stops the exit signal from travelling', async () => {
    const host = newHost();
    const a = await spawnProbe(host);
    const b = await spawnProbe(host);
    await a.ref.call({ link: b.ref });
    await a.ref.call({ unlink: b.ref });
    await b.ref.call({ throw: 'boom' }).catch(() => undefined);
    await tick();
    assert.equal(await alive(a.ref), true);
    await host.shutdown(100);
  });

  test('kill cannot be trapped, skips terminate, and linked actors see killed', async () => {
    const host = newHost();
    const victim = await spawnProbe(host, true);
    const trapper = await spawnProbe(host, true);
    const plain = await spawnProbe(host);
    const killer = await spawnProbe(host);
    await trapper.ref.call({ link: victim.ref });
    await plain.ref.call({ link: victim.ref });
    const victimExit = await exitOf(host, victim.ref);
    const plainExit = await exitOf(host, plain.ref);
    await killer.ref.call({ exit: victim.ref, reason: 'kill' });
    await waitFor(() => victimExit() !== null && plainExit() !== null);
    assert.equal(victimExit(), 'killed');
    assert.equal(victim.probe.terminated, null, 'no terminate after kill');
    assert.deepEqual(victim.probe.seen, [], 'the kill never reached info');
    assert.equal(plainExit(), 'killed');
    assert.deepEqual(trapper.probe.seen, [{ type: 'exit', from: victim.ref.id, reason: 'killed' }]);
    assert.equal(await alive(trapper.ref), true, 'killed is trappable');
    await host.shutdown(100);
  });

  test('an exit signal other than kill is trapped by a trapping actor, and kills a non-trapping one', async () => {
    const host = newHost();
    const trapper = await spawnProbe(host, true);
    const plain = await spawnProbe(host);
    const sender = await spawnProbe(host);
    const plainExit = await exitOf(host, plain.ref);
    await sender.ref.call({ exit: trapper.ref, reason: 'shutdown' });
    await sender.ref.call({ exit: plain.ref, reason: 'shutdown' });
    await waitFor(() => trapper.probe.seen.length === 1 && plainExit() !== null);
    assert.deepEqual(trapper.probe.seen, [{ type: 'exit', from: sender.ref.id, reason: 'shutdown' }]);
    assert.equal(plainExit(), 'shutdown');
    // `normal` from a non-linked sender is ignored by a non-trapping actor.
    const other = await spawnProbe(host);
    await sender.ref.call({ exit: other.ref, reason: 'normal' });
    await tick();
    assert.equal(await alive(other.ref), true);
    await host.shutdown(100);
  });

  test('linking to a pinned actor that no longer exists gives noproc', async () => {
    const host = newHost();
    const dead = await spawnProbe(host);
    await dead.ref.call({ stop: 'normal' });
    await tick();
    const trapper = await spawnProbe(host, true);
    await trapper.ref.call({ link: dead.ref });
    await waitFor(() => trapper.probe.seen.length === 1);
    assert.deepEqual(trapper.probe.seen, [{ type: 'exit', from: dead.ref.id, reason: 'noproc' }]);
    const plain = await spawnProbe(host);
    const plainExit = await exitOf(host, plain.ref);
    await plain.ref.call({ link: dead.ref });
    await waitFor(() => plainExit() !== null);
    assert.equal(plainExit(), 'noproc');
    await host.shutdown(100);
  });

  test('an actor spawned with link: true dies with its crashing parent', async () => {
    const host = newHost();
    let childRef: ActorRef | null = null;
    const parent = await host.spawn({
      async handle(m: string, ctx: ActorContext) {
        if (m === 'spawn') {
          childRef = await ctx.spawn({ handle: () => 'child' }, { link: true });
          return childRef;
        }
        throw new Error('parent crash');
      },
    });
    await parent.call('spawn');
    assert.ok(childRef !== null);
    const childExit = await exitOf(host, childRef);
    await parent.call('crash').catch(() => undefined);
    await waitFor(() => childExit() !== null);
    assert.equal((childExit() as { message: string }).message, 'parent crash');
    await host.shutdown(100);
  });
});

describe('monitors', () => {
  test('a monitor delivers exactly one down with the exit reason', async () => {
    const host = newHost();
    const watcher = await spawnProbe(host);
    const target = await spawnProbe(host);
    const mref = await watcher.ref.call({ monitor: target.ref });
    assert.equal(typeof mref, 'string');
    await target.ref.call({ throw: 'boom' }).catch(() => undefined);
    await waitFor(() => watcher.probe.seen.length > 0);
    await tick(5);
    assert.equal(watcher.probe.seen.length, 1);
    const s = watcher.probe.seen[0]!;
    assert.equal(s.type, 'down');
    assert.equal(s.from, target.ref.id);
    assert.equal((s.reason as { message: string }).message, 'boom');
    assert.equal(await alive(watcher.ref), true, 'a down never kills the watcher');
    await host.shutdown(100);
  });

  test('two monitors on one target give two downs', async () => {
    const host = newHost();
    const watcher = await spawnProbe(host);
    const target = await spawnProbe(host);
    const m1 = await watcher.ref.call({ monitor: target.ref });
    const m2 = await watcher.ref.call({ monitor: target.ref });
    assert.notEqual(m1, m2);
    await target.ref.call({ stop: 'normal' });
    await waitFor(() => watcher.probe.seen.length === 2);
    assert.deepEqual(watcher.probe.seen.map((s) => s.reason), ['normal', 'normal']);
    await host.shutdown(100);
  });

  test('demonitor stops the down from arriving', async () => {
    const host = newHost();
    const watcher = await spawnProbe(host);
    const control = await spawnProbe(host);
    const target = await spawnProbe(host);
    const mref = (await watcher.ref.call({ monitor: target.ref })) as string;
    await control.ref.call({ monitor: target.ref });
    await watcher.ref.call({ demonitor: mref });
    await target.ref.call({ stop: 'shutdown' });
    await waitFor(() => control.probe.seen.length === 1);
    await tick(5);
    assert.deepEqual(watcher.probe.seen, []);
    await host.shutdown(100);
  });

  test('monitoring a pinned actor that no longer exists gives down noproc', async () => {
    const host = newHost();
    const dead = await spawnProbe(host);
    await dead.ref.call({ stop: 'normal' });
    await tick();
    const watcher = await spawnProbe(host);
    await watcher.ref.call({ monitor: dead.ref });
    await waitFor(() => watcher.probe.seen.length === 1);
    assert.deepEqual(watcher.probe.seen, [{ type: 'down', from: dead.ref.id, reason: 'noproc' }]);
    await host.shutdown(100);
  });

  test('waitExit resolves with the reason while the waiting handler is still running', async () => {
    const host = newHost();
    const target = await spawnProbe(host);
    const waiter = await host.spawn<ActorRef>({
      async handle(t, ctx) {
        const r = ctx.waitExit(t, 2000);
        ctx.exit(t, 'shutdown');
        return r;
      },
    });
    assert.equal(await waiter.call(target.ref), 'shutdown');
    const never = await spawnProbe(host);
    const timing = await host.spawn<ActorRef>({ handle: (t, ctx) => ctx.waitExit(t, 30) });
    assert.equal(await timing.call(never.ref), 'timeout');
    // A timeout longer than a timer can hold means no timeout, not an immediate one.
    const results: unknown[] = [];
    const patient = await host.spawn<ActorRef>({ handle: (t, ctx) => void ctx.waitExit(t, 2 ** 31).then((r) => results.push(r)) });
    await patient.call(never.ref);
    await sleep(30);
    assert.deepEqual(results, []);
    await never.ref.call({ stop: 'shutdown' });
    await waitFor(() => results.length === 1);
    assert.deepEqual(results, ['shutdown']);
    await host.shutdown(100);
  });
});

describe('incarnations', () => {
  /** A virtual actor that counts, answers with its own (incarnation-bound) ref, and crashes on request. */
  const kinds = {
    acc: {
      idleMs: 0,
      create: (): Behaviour => {
        let n = 0;
        return {
          handle(m: string | number, ctx: ActorContext) {
            if (m === 'self') return ctx.self;
            if (m === 'get') return n;
            if (m === 'crash') throw new Error('crash');
            n += m as number;
            return undefined;
          },
        };
      },
    },
  };

  test('an exit signal bound to an earlier incarnation never reaches the new one', async () => {
    const host = newHost(kinds);
    const id = host.ref<string | number>('acc:x');
    const old = (await id.call('self')) as ActorRef;
    assert.ok(old.incarnation !== 0);
    await id.call('crash').catch(() => undefined);
    id.send(5);
    const now = (await id.call('self')) as ActorRef;
    assert.notEqual(now.incarnation, old.incarnation, 'a new activation has a new incarnation');
    const sender = await spawnProbe(host);
    await sender.ref.call({ exit: old as ActorRef<ProbeMsg>, reason: 'kill' });
    await sender.ref.call({ exit: old as ActorRef<ProbeMsg>, reason: 'shutdown' });
    await tick();
    assert.equal(await id.call('get'), 5, 'the new activation is untouched, with its state');
    // The same signal to the current incarnation does reach it.
    await sender.ref.call({ exit: now as ActorRef<ProbeMsg>, reason: 'kill' });
    await tick();
    assert.equal(await id.call('get'), 0, 'killed and activated afresh');
    await host.shutdown(100);
  });

  test('a link or monitor to an earlier incarnation gives noproc and does not touch the new one', async () => {
    const host = newHost(kinds);
    const id = host.ref<string | number>('acc:y');
    const old = (await id.call('self')) as ActorRef;
    await id.call('crash').catch(() => undefined);
    id.send(7);
    const trapper = await spawnProbe(host, true);
    await trapper.ref.call({ link: old as ActorRef<ProbeMsg> });
    await trapper.ref.call({ monitor: old as ActorRef<ProbeMsg> });
    await waitFor(() => trapper.probe.seen.length === 2);
    assert.deepEqual(
      trapper.probe.seen.map((s) => [s.type, s.reason]).sort(),
      [
        ['down', 'noproc'],
        ['exit', 'noproc'],
      ],
    );
    // Crashing the new activation must not reach the trapper: it never linked to it.
    await id.call('crash').catch(() => undefined);
    await tick();
    assert.equal(trapper.probe.seen.length, 2);
    await host.shutdown(100);
  });

  test('a message to an id reaches the current activation whatever ref it was sent with', async () => {
    const host = newHost(kinds);
    const id = host.ref<string | number>('acc:z');
    const old = (await id.call('self')) as ActorRef<string | number>;
    await id.call('crash').catch(() => undefined);
    old.send(3);
    assert.equal(await id.call('get'), 3);
    await host.shutdown(100);
  });
});
