/**
 * Calls on one thread: timeouts, late replies, calling_self, noproc, crashes
 * and the timeout validator (ref.ts, errors.ts).
 */
import { test, describe, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Host } from '../../src/actors/host.js';
import { CallError, ConfigError } from '../../src/actors/errors.js';
import { DEFAULT_CALL_TIMEOUT_MS } from '../../src/actors/ref.js';
import type { ActorContext, Behaviour } from '../../src/actors/behaviour.js';
import { sleep, tick } from '../fixtures/probes.js';

function newHost(kinds: ConstructorParameters<typeof Host>[0]['kinds'] = {}): Host {
  return new Host({ node: 'n', kinds, sweepMs: 0 });
}

/** An actor that takes every call's reply slot and never answers. */
const silent: Behaviour = {
  handle(_m, ctx) {
    ctx.deferReply();
    return undefined;
  },
};

describe('call timeouts', () => {
  test('a call without a timeout waits 5000 ms, then fails with timeout', async () => {
    assert.equal(DEFAULT_CALL_TIMEOUT_MS, 5000);
    const host = newHost();
    const ref = await host.spawn(silent);
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let outcome: unknown = 'pending';
      const p = ref.call('hello').then(
        (v) => (outcome = { ok: v }),
        (e: CallError) => (outcome = e.code),
      );
      await tick();
      mock.timers.tick(DEFAULT_CALL_TIMEOUT_MS - 1);
      await tick();
      assert.equal(outcome, 'pending', 'still waiting 1 ms before the default timeout');
      mock.timers.tick(1);
      await p;
      assert.equal(outcome, 'timeout');
    } finally {
      mock.timers.reset();
      await host.shutdown(100);
    }
  });

  test('a call with an explicit timeout fails with timeout after that many ms', async () => {
    const host = newHost();
    const ref = await host.spawn(silent);
    const t0 = Date.now();
    await assert.rejects(ref.call('x', { timeout: 40 }), (e: CallError) => e instanceof CallError && e.code === 'timeout');
    const took = Date.now() - t0;
    assert.ok(took >= 35 && took < 1000, `took ${took} ms`);
    assert.equal(host.getStats().pendingCalls, 0);
    await host.shutdown(100);
  });

  test('a late reply after a timeout is dropped, counted, and never answers the next call', async () => {
    const host = newHost();
    // Answers each call after m.ms milliseconds with m.value.
    const slow = await host.spawn<{ ms: number; value: string }>({
      async handle(m) {
        await sleep(m.ms);
        return m.value;
      },
    });
    await assert.rejects(slow.call({ ms: 80, value: 'late' }, { timeout: 20 }), { code: 'timeout' });
    // Asked before the late reply exists; handled after it was sent.
    const second = slow.call({ ms: 0, value: 'second' }, { timeout: 1000 });
    assert.equal(await second, 'second');
    assert.equal(host.getStats().lateReplies, 1);
    assert.equal(await slow.call({ ms: 0, value: 'third' }), 'third');
    assert.equal(host.getStats().lateReplies, 1);
    await host.shutdown(100);
  });

  test('an invalid timeout is a ConfigError invalid_timeout', async () => {
    const host = newHost();
    const ref = await host.spawn({ handle: (m: unknown) => m });
    // 2^31 ms is more than a timer can hold: Node would fire it after 1 ms.
    for (const timeout of [0, -5, Number.NaN, Infinity, 2 ** 31, '100' as unknown as number]) {
      await assert.rejects(
        async () => ref.call('x', { timeout }),
        (e: unknown) => e instanceof ConfigError && e.code === 'invalid_timeout',
        `timeout ${String(timeout)}`,
      );
    }
    // 1 ms is valid (the call may or may not make it in time).
    assert.ok(['ok', 'timeout'].includes((await ref.call('ok', { timeout: 1 }).catch((e: CallError) => e.code)) as string));
    assert.equal(await ref.call('longest', { timeout: 2 ** 31 - 1 }), 'longest');
    await host.shutdown(100);
  });
});

describe('calls that cannot be answered', () => {
  test('ctx.call to its own ref fails at once with calling_self', async () => {
    const host = newHost();
    const ref = await host.spawn({
      async handle(m: string, ctx: ActorContext) {
        if (m === 'self') return ctx.call(ctx.self, 'inner', { timeout: 2000 }).catch((e: CallError) => e.code);
        return 'inner-answer';
      },
    });
    const t0 = Date.now();
    assert.equal(await ref.call('self'), 'calling_self');
    assert.ok(Date.now() - t0 < 500);
    await host.shutdown(100);
  });

  test('ref.call on its own ref from inside the handler fails with calling_self', async () => {
    const host = newHost();
    const ref = await host.spawn({
      handle(m: string, ctx: ActorContext) {
        if (m !== 'self') return 'inner-answer';
        return ctx.self.call('inner', { timeout: 2000 }).catch((e: CallError) => e.code);
      },
    });
    assert.equal(await ref.call('self'), 'calling_self');
    await host.shutdown(100);
  });

  test('a virtual actor calling its own id fails with calling_self', async () => {
    const host = newHost({
      me: {
        create: () => ({
          handle(m: string, ctx: ActorContext) {
            if (m !== 'self') return 'inner-answer';
            return ctx.call(ctx.ref(ctx.id), 'inner', { timeout: 2000 }).catch((e: CallError) => e.code);
          },
        }),
      },
    });
    assert.equal(await host.ref('me:1').call('self'), 'calling_self');
    await host.shutdown(100);
  });

  test('a call to a stopped pinned actor fails with noproc', async () => {
    const host = newHost();
    const ref = await host.spawn({ handle: (_m: unknown, ctx: ActorContext) => ctx.stop('normal') });
    await ref.call('stop');
    await tick();
    await assert.rejects(ref.call('again', { timeout: 1000 }), { code: 'noproc' });
    assert.equal(host.getStats().deadLetters.noproc, 1);
    await host.shutdown(100);
  });

  test('a call to an id of no registered kind fails with noproc', async () => {
    const host = newHost({ known: { create: () => ({ handle: () => 'here' }) } });
    assert.equal(await host.ref('known:1').call('x'), 'here');
    await assert.rejects(host.ref('unknown:1').call('x', { timeout: 1000 }), { code: 'noproc' });
    await assert.rejects(host.ref('no-kind-at-all').call('x', { timeout: 1000 }), { code: 'noproc' });
    assert.equal(host.getStats().deadLetters.noproc, 2);
    await host.shutdown(100);
  });

  test('a handler that throws fails the call with crashed and the error as reason', async () => {
    const host = newHost();
    const ref = await host.spawn({
      handle() {
        const e = new TypeError('bad input') as TypeError & { code: string };
        e.code = 'bad_input';
        throw e;
      },
    });
    await assert.rejects(ref.call('x'), (e: CallError) => {
      assert.equal(e.code, 'crashed');
      const r = e.reason as { error: string; message: string; code: string };
      assert.equal(r.error, 'TypeError');
      assert.equal(r.message, 'bad input');
      assert.equal(r.code, 'bad_input');
      return true;
    });
    assert.equal(host.getStats().crashes, 1);
    await host.shutdown(100);
  });

  test('a handler that rejects after an await fails the call with crashed', async () => {
    const host = newHost();
    const ref = await host.spawn({
      async handle() {
        await sleep(1);
        throw new Error('later');
      },
    });
    await assert.rejects(ref.call('x'), (e: CallError) => e.code === 'crashed' && (e.reason as { message: string }).message === 'later');
    await host.shutdown(100);
  });

  test('a call queued behind a message that stops the actor fails with the exit reason', async () => {
    const host = newHost();
    const ref = await host.spawn({
      async handle(m: string, ctx: ActorContext) {
        if (m === 'stop') {
          await sleep(10);
          ctx.stop('shutdown');
        }
        return m;
      },
    });
    const first = ref.call('stop');
    const queued = ref.call('after');
    assert.equal(await first, 'stop');
    await assert.rejects(queued, { code: 'shutdown' });
    await host.shutdown(100);
  });

  test('a deferred reply answers the call later while the actor handles other messages', async () => {
    const host = newHost();
    let slot: { resolve(v: unknown): void } | null = null;
    const ref = await host.spawn({
      handle(m: string, ctx: ActorContext) {
        if (m === 'wait') {
          slot = ctx.deferReply();
          return undefined;
        }
        slot?.resolve('released');
        return 'done';
      },
    });
    const waiting = ref.call('wait');
    assert.equal(await ref.call('release'), 'done');
    assert.equal(await waiting, 'released');
    await host.shutdown(100);
  });

  test('calls and spawns fail with shutdown once the host is shutting down', async () => {
    const host = newHost();
    const ref = await host.spawn(silent);
    const pending = assert.rejects(ref.call('x', { timeout: 5000 }), { code: 'shutdown' });
    await host.shutdown(50);
    await pending;
    await assert.rejects(ref.call('y'), { code: 'shutdown' });
    await assert.rejects(host.spawn(silent), { code: 'shutdown' });
  });
});

describe('non-reentrant handlers', () => {
  test('a handler runs to completion, awaits included, before the next message starts', async () => {
    const host = newHost();
    const events: string[] = [];
    const ref = await host.spawn<string>({
      async handle(m) {
        events.push(`start ${m}`);
        await sleep(10);
        events.push(`end ${m}`);
        return m;
      },
    });
    await Promise.all([ref.call('a'), ref.call('b')]);
    assert.deepEqual(events, ['start a', 'end a', 'start b', 'end b']);
    await host.shutdown(100);
  });

  test('two actors that call each other wait until a call times out, then go on', async () => {
    const host = newHost();
    let bRef: { call(m: unknown, o?: { timeout: number }): Promise<unknown> } | null = null;
    const a = await host.spawn<string>({
      async handle(m, ctx) {
        if (m === 'ping-b') return ctx.call(bRef as never, 'call-a-back', { timeout: 1000 });
        return 'a answers';
      },
    });
    const b = await host.spawn<string>({
      // A is still busy with the call to us: this call cannot be answered.
      handle: (_m, ctx) => ctx.call(a, 'hello', { timeout: 50 }).catch((e: CallError) => `b gave up: ${e.code}`),
    });
    bRef = b;
    const t0 = Date.now();
    assert.equal(await a.call('ping-b'), 'b gave up: timeout');
    assert.ok(Date.now() - t0 < 900, 'the inner timeout ended the cycle');
    assert.equal(await a.call('hello'), 'a answers', 'A handles its queue again');
    assert.equal(host.getStats().lateReplies, 1, 'A answered the abandoned call later; it was dropped');
    await host.shutdown(100);
  });
});

describe('timers', () => {
  test('sendAfter delivers once after the delay; cancelTimer stops it; a delay a timer cannot hold is refused', async () => {
    const host = newHost();
    const got: string[] = [];
    const ref = await host.spawn({
      handle(m: string, ctx: ActorContext) {
        if (m === 'arm') {
          ctx.sendAfter(20, 'fired');
          const t = ctx.sendAfter(20, 'cancelled');
          return ctx.cancelTimer(t);
        }
        got.push(m);
        return undefined;
      },
    });
    assert.equal(await ref.call('arm'), true);
    await sleep(80);
    assert.deepEqual(got, ['fired']);
    const arm = await host.spawn({
      handle(ms: number, ctx: ActorContext) {
        try {
          return ctx.sendAfter(ms, 'x');
        } catch (e) {
          return (e as ConfigError).code;
        }
      },
    });
    for (const ms of [-1, Number.NaN, 2 ** 31]) assert.equal(await arm.call(ms), 'invalid_delay', String(ms));
    await host.shutdown(100);
  });
});
