/**
 * Virtual actors, mailboxes and dead letters on one thread: activation,
 * passivation with the save hook, nothing lost while passivating, bounded
 * mailboxes with each overflow policy, fairness, and dead letters by reason.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Host } from '../../src/actors/host.js';
import type { ActorContext, Behaviour, KindSpec, OverflowPolicy } from '../../src/actors/behaviour.js';
import type { DeadLetter } from '../../src/actors/dead-letters.js';
import { gate, sleep, spawnProbe, tick, waitFor } from '../fixtures/probes.js';

describe('activation and passivation', () => {
  test('a virtual actor is activated by its first message, once', async () => {
    let created = 0;
    const host = new Host({
      node: 'n',
      sweepMs: 0,
      kinds: { c: { create: () => (created++, { handle: (m: unknown) => m }) } },
    });
    assert.equal(host.isActive('c:1'), false);
    assert.equal(host.getStats().activations, 0);
    const ref = host.ref('c:1');
    ref.send('a');
    ref.send('b');
    assert.equal(await ref.call('c'), 'c');
    assert.equal(host.isActive('c:1'), true);
    assert.equal(created, 1);
    assert.equal(host.getStats().activations, 1);
    await host.shutdown(100);
  });

  test('an idle virtual actor is passivated after idleMs: save hook first, then terminate', async () => {
    const events: string[] = [];
    const saved = new Map<string, number>();
    const spec: KindSpec = {
      idleMs: 40,
      create: (id) => {
        let n = saved.get(id) ?? 0;
        events.push(`activate ${n}`);
        return {
          handle(m: number | 'get') {
            if (m === 'get') return n;
            n += m;
            return undefined;
          },
          async passivate() {
            await sleep(5);
            saved.set(id, n);
            events.push(`save ${n}`);
          },
          terminate(reason) {
            events.push(`terminate ${String(reason)}`);
          },
        };
      },
    };
    const host = new Host({ node: 'n', sweepMs: 10, kinds: { acc: spec } });
    const ref = host.ref<number | 'get'>('acc:a');
    ref.send(2);
    ref.send(3);
    assert.equal(await ref.call('get'), 5);
    await waitFor(() => !host.isActive('acc:a'), 2000, 'passivation');
    assert.deepEqual(events, ['activate 0', 'save 5', 'terminate normal']);
    assert.equal(host.getStats().passivations, 1);
    assert.equal(await ref.call('get'), 5, 'the next activation starts from what was saved');
    assert.equal(host.getStats().activations, 2);
    await host.shutdown(100);
  });

  test('an actor is passivated only once it has been idle for idleMs', async () => {
    const host = new Host({ node: 'n', sweepMs: 0, kinds: { k: { idleMs: 1000, create: () => ({ handle: () => 1 }) } } });
    await host.ref('k:1').call('x');
    const t = Date.now();
    assert.equal(host.sweep(t + 900), 0);
    assert.equal(host.isActive('k:1'), true);
    assert.equal(host.sweep(t + 1100), 1);
    await tick();
    assert.equal(host.isActive('k:1'), false);
    await host.shutdown(100);
  });

  test('idleMs 0 never passivates', async () => {
    const host = new Host({ node: 'n', sweepMs: 5, kinds: { k: { idleMs: 0, create: () => ({ handle: () => 1 }) } } });
    await host.ref('k:1').call('x');
    await sleep(40);
    assert.equal(host.isActive('k:1'), true);
    assert.equal(host.getStats().passivations, 0);
    await host.shutdown(100);
  });

  test('a virtual actor that owes a deferred reply or has a timer pending is not passivated', async () => {
    let slot: { resolve(v: unknown): void } | null = null;
    const host = new Host({
      node: 'n',
      sweepMs: 5,
      kinds: {
        d: {
          idleMs: 20,
          create: () => ({
            handle(m: string, ctx: ActorContext) {
              if (m === 'wait') slot = ctx.deferReply();
              else if (m === 'timer') ctx.sendAfter(150, 'ring');
              return undefined;
            },
          }),
        },
      },
    });
    const answer = host.ref<string>('d:1').call('wait', { timeout: 2000 });
    await host.ref<string>('d:2').call('timer');
    await sleep(100);
    assert.equal(host.isActive('d:1'), true, 'still owes its reply');
    assert.equal(host.isActive('d:2'), true, 'still has a timer');
    slot!.resolve('answer');
    assert.equal(await answer, 'answer');
    await waitFor(() => !host.isActive('d:1'), 2000, 'passivation once the reply is given');
    await host.shutdown(100);
  });

  test('messages that arrive while the save hook runs are handed, in order, to the next activation', async () => {
    const hold = gate();
    const seen: string[][] = [];
    const host = new Host({
      node: 'n',
      sweepMs: 0,
      kinds: {
        s: {
          idleMs: 10,
          create: () => {
            const mine: string[] = [];
            seen.push(mine);
            return {
              handle(m: string) {
                mine.push(m);
                return mine.length;
              },
              passivate: () => hold.promise,
            };
          },
        },
      },
    });
    const ref = host.ref<string>('s:1');
    await ref.call('first');
    assert.equal(host.sweep(Date.now() + 1000), 1, 'passivation started');
    assert.equal(host.isActive('s:1'), true, 'still there while its save hook runs');
    ref.send('during-1');
    const answer = ref.call('during-2');
    ref.send('during-3');
    await tick();
    assert.equal(seen.length, 1, 'no second activation while the first is saving');
    hold.open();
    assert.equal(await answer, 2, 'the call was answered by the next activation');
    await tick();
    assert.deepEqual(seen, [['first'], ['during-1', 'during-2', 'during-3']]);
    assert.equal(host.getStats().deadLetters.stopped, 0);
    await host.shutdown(100);
  });

  test('passivation under load loses nothing and keeps order (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 6 })), { minLength: 20, maxLength: 120 }),
        fc.integer({ min: 1, max: 4 }),
        async (plan, saveMs) => {
          // `saver:*` keeps the list of what it received in `store` (a map
          // standing in for a table); it loads in init and saves in passivate.
          const store = new Map<string, number[]>();
          const spec: KindSpec = {
            idleMs: 2,
            create: (id) => {
              let items: number[] = [];
              return {
                async init() {
                  await sleep(1);
                  items = [...(store.get(id) ?? [])];
                },
                handle(m: number | 'get') {
                  if (m === 'get') return items;
                  items.push(m);
                  return undefined;
                },
                async passivate() {
                  await sleep(saveMs);
                  store.set(id, items);
                },
              };
            },
          };
          const host = new Host({ node: 'n', sweepMs: 1, kinds: { saver: spec } });
          const sent: number[][] = [[], [], []];
          for (let i = 0; i < plan.length; i++) {
            const [target, pause] = plan[i]!;
            host.ref<number>(`saver:${target}`).send(i);
            sent[target]!.push(i);
            if (pause > 0) await sleep(pause);
          }
          // A call queues behind every earlier cast from the same sender, so
          // its answer holds everything sent, across all activations.
          for (let t = 0; t < 3; t++) assert.deepEqual(await host.ref<number | 'get'>(`saver:${t}`).call('get'), sent[t], `saver:${t}`);
          const st = host.getStats();
          assert.equal(st.deadLetters.stopped + st.deadLetters.activation_failed + st.deadLetters.noproc, 0);
          await host.shutdown(2000);
        },
      ),
      { numRuns: 25 },
    );
  });

  test('passivation under load happens while messages keep coming (the property is not vacuous)', async () => {
    const store = new Map<string, number>();
    const host = new Host({
      node: 'n',
      sweepMs: 1,
      kinds: {
        saver: {
          idleMs: 2,
          create: (id) => {
            let n = store.get(id) ?? 0;
            return {
              handle(m: number | 'get') {
                if (m === 'get') return n;
                n += m;
                return undefined;
              },
              async passivate() {
                await sleep(2);
                store.set(id, n);
              },
            };
          },
        },
      },
    });
    let total = 0;
    for (let i = 1; i <= 300; i++) {
      host.ref<number | 'get'>(`saver:${i % 4}`).send(i);
      total += i;
      if (i % 10 === 0) await sleep(3);
    }
    let sum = 0;
    for (let k = 0; k < 4; k++) sum += (await host.ref<number | 'get'>(`saver:${k}`).call('get')) as number;
    assert.equal(sum, total);
    assert.ok(host.getStats().passivations > 10, `passivations ${host.getStats().passivations}`);
    assert.equal(host.getStats().deadLetters.stopped, 0);
    await host.shutdown(2000);
  });

  test('a crash hands the rest of the mailbox to a fresh activation: only the crashing message is lost', async () => {
    const got: string[][] = [];
    const host = new Host({
      node: 'n',
      sweepMs: 0,
      kinds: {
        p: {
          create: () => {
            const mine: string[] = [];
            got.push(mine);
            return {
              handle(m: string) {
                if (m === 'poison') throw new Error('poison');
                mine.push(m);
              },
            };
          },
        },
      },
    });
    const ref = host.ref<string>('p:1');
    for (const m of ['a', 'poison', 'b', 'c']) ref.send(m);
    await waitFor(() => got.length === 2 && got[1]!.length === 2);
    assert.deepEqual(got, [['a'], ['b', 'c']]);
    assert.equal(host.getStats().crashes, 1);
    await host.shutdown(100);
  });

  test('the save hook runs for active virtual actors at shutdown', async () => {
    const saved: string[] = [];
    const host = new Host({
      node: 'n',
      sweepMs: 0,
      kinds: { v: { create: (id) => ({ handle: () => undefined, passivate: () => void saved.push(id) }) } },
    });
    host.ref('v:1').send(1);
    host.ref('v:2').send(1);
    await tick();
    await host.shutdown(500);
    assert.deepEqual(saved.sort(), ['v:1', 'v:2']);
    assert.equal(host.actorCount, 0);
  });
});

describe('shutdown', () => {
  test('messages already queued when the host shuts down are handled before the save hook runs', async () => {
    const handled: number[] = [];
    let savedWith = -1;
    const host = new Host({
      node: 'n',
      sweepMs: 0,
      kinds: {
        slowpoke: {
          create: () => ({
            async handle(m: number) {
              await sleep(2);
              handled.push(m);
            },
            passivate() {
              savedWith = handled.length;
            },
          }),
        },
      },
    });
    const ref = host.ref('slowpoke:a');
    for (let i = 0; i < 50; i++) ref.send(i);
    await host.shutdown(5000);
    assert.deepEqual(handled, Array.from({ length: 50 }, (_, i) => i));
    assert.equal(savedWith, 50, 'the save hook ran after the last queued message');
    assert.equal(host.deadLetters.total, 0);
  });
});

describe('bounded mailboxes', () => {
  /**
   * Spawns an actor with a mailbox of 3 that holds its first message until
   * the gate opens, then sends 1..6: 1 is being handled, 2..4 fill the
   * mailbox, 5 and 6 overflow.
   */
  async function overflowRun(overflow: OverflowPolicy) {
    const host = new Host({ node: 'n', sweepMs: 0 });
    const hold = gate();
    const handled: number[] = [];
    const ref = await host.spawn<number>(
      {
        async handle(m) {
          handled.push(m);
          if (m === 1) await hold.promise;
        },
      },
      { maxMailbox: 3, overflow },
    );
    const { ref: watcher, probe } = await spawnProbe(host);
    await watcher.call({ monitor: ref });
    ref.send(1);
    await tick();
    for (let m = 2; m <= 6; m++) ref.send(m);
    hold.open();
    await sleep(10);
    return { host, handled, probe, ref, stats: host.getStats() };
  }

  test('drop_newest keeps the queue and drops what arrives when it is full, counted', async () => {
    const { host, handled, probe, stats } = await overflowRun('drop_newest');
    assert.deepEqual(handled, [1, 2, 3, 4]);
    assert.equal(stats.mailboxDropped, 2);
    assert.equal(stats.deadLetters.mailbox_full, 2);
    assert.deepEqual(probe.seen, [], 'the actor lives on');
    await host.shutdown(100);
  });

  test('drop_oldest drops the oldest queued message to make room, counted', async () => {
    const { host, handled, probe, stats } = await overflowRun('drop_oldest');
    assert.deepEqual(handled, [1, 4, 5, 6]);
    assert.equal(stats.mailboxDropped, 2);
    assert.equal(stats.deadLetters.mailbox_full, 2);
    assert.deepEqual(probe.seen, []);
    await host.shutdown(100);
  });

  test('exit stops the actor with mailbox_overflow, counted', async () => {
    const { host, handled, probe, stats } = await overflowRun('exit');
    assert.deepEqual(handled, [1]);
    assert.equal(stats.mailboxDropped, 2, 'both overflowing messages are counted');
    assert.equal(stats.deadLetters.mailbox_full, 2);
    assert.equal(stats.deadLetters.stopped, 3, 'what was queued when it stopped');
    assert.equal(probe.seen.length, 1);
    assert.equal((probe.seen[0]!.reason as { code: string }).code, 'mailbox_overflow');
    await host.shutdown(100);
  });

  test('a call refused by a full mailbox fails with mailbox_full; drop_oldest fails the dropped call', async () => {
    const host = new Host({ node: 'n', sweepMs: 0 });
    for (const overflow of ['drop_newest', 'drop_oldest'] as const) {
      const hold = gate();
      const ref = await host.spawn<string>({ handle: async (m) => (m === 'hold' ? hold.promise.then(() => m) : m) }, { maxMailbox: 1, overflow });
      const first = ref.call('hold');
      await tick();
      const queued = ref.call('queued').catch((e: { code: string }) => e.code);
      const extra = ref.call('extra').catch((e: { code: string }) => e.code);
      hold.open();
      assert.equal(await first, 'hold');
      if (overflow === 'drop_newest') assert.deepEqual([await queued, await extra], ['queued', 'mailbox_full']);
      else assert.deepEqual([await queued, await extra], ['mailbox_full', 'extra']);
    }
    await host.shutdown(100);
  });

  test('invalid mailbox options reject the spawn with a ConfigError naming the option', async () => {
    const host = new Host({ node: 'n', sweepMs: 0 });
    const beh: Behaviour = { handle: () => undefined };
    await assert.rejects(host.spawn(beh, { maxMailbox: 0 }), { code: 'invalid_max_mailbox' });
    await assert.rejects(host.spawn(beh, { overflow: 'block' as OverflowPolicy }), { code: 'invalid_overflow' });
    await assert.rejects(host.spawn(beh, { throughput: 0 }), { code: 'invalid_throughput' });
    assert.equal(host.actorCount, 0);
    await host.shutdown(100);
  });
});

describe('fairness', () => {
  test('a flooded actor does not starve another: the other is handled before the flood ends', async () => {
    const host = new Host({ node: 'n', sweepMs: 0 });
    const FLOOD = 200_000;
    let flooded = 0;
    let seenAt = -1;
    const busy = await host.spawn<number>({ handle: () => void flooded++ });
    const other = await host.spawn<string>({ handle: () => void (seenAt = flooded) });
    for (let i = 0; i < FLOOD; i++) busy.send(i);
    other.send('hello');
    let timerAt = -1;
    setTimeout(() => (timerAt = flooded), 0);
    await waitFor(() => flooded === FLOOD, 10_000);
    assert.ok(seenAt >= 0 && seenAt <= 300, `the other actor ran after ${seenAt} flood messages (throughput 300)`);
    assert.ok(timerAt >= 0 && timerAt < FLOOD, `a timer ran after ${timerAt} of ${FLOOD}: the host yields to the event loop`);
    await host.shutdown(100);
  });

  test('a smaller throughput budget yields sooner', async () => {
    const host = new Host({ node: 'n', sweepMs: 0 });
    let flooded = 0;
    let seenAt = -1;
    const busy = await host.spawn<number>({ handle: () => void flooded++ }, { throughput: 10 });
    const other = await host.spawn<string>({ handle: () => void (seenAt = flooded) });
    for (let i = 0; i < 1000; i++) busy.send(i);
    other.send('hello');
    await waitFor(() => flooded === 1000);
    assert.equal(seenAt, 10);
    await host.shutdown(100);
  });

  test('system signals are handled before queued user messages', async () => {
    const host = new Host({ node: 'n', sweepMs: 0 });
    const order: string[] = [];
    const hold = gate();
    const target = await spawnProbe(host);
    const trapper = await host.spawn<string>(
      {
        async handle(m) {
          if (m === 'hold') await hold.promise;
          order.push(m);
        },
        info: (sig) => void order.push(`${sig.type}:${String(sig.reason)}`),
      },
      { trapExits: true },
    );
    trapper.send('hold');
    await tick();
    trapper.send('m1');
    trapper.send('m2');
    // An exit signal to the trapper while it is busy with 'hold'.
    await target.ref.call({ exit: trapper as never, reason: 'shutdown' });
    hold.open();
    await waitFor(() => order.length === 4);
    assert.deepEqual(order, ['hold', 'exit:shutdown', 'm1', 'm2']);
    await host.shutdown(100);
  });
});

describe('dead letters', () => {
  test('dead letters are counted by reason and observable', async () => {
    const host = new Host({
      node: 'n',
      sweepMs: 0,
      kinds: {
        broken: {
          create: () => ({
            init() {
              throw new Error('cannot start');
            },
            handle: () => undefined,
          }),
        },
      },
    });
    const seen: DeadLetter[] = [];
    const unsubscribe = host.deadLetters.subscribe((d) => seen.push(d));

    // noproc: an unknown kind, and a stopped pinned actor.
    host.ref('nokind:1').send('x');
    const gone = await host.spawn({ handle: (_m: unknown, ctx: ActorContext) => ctx.stop() });
    await gone.call('stop');
    await tick();
    gone.send('x');

    // stopped: queued when a pinned actor stopped.
    const hold = gate();
    const stopping = await host.spawn<string>({
      async handle(m, ctx) {
        await hold.promise;
        if (m === 'stop') ctx.stop('normal');
      },
    });
    stopping.send('stop');
    stopping.send('q1');
    stopping.send('q2');
    hold.open();
    await sleep(5);

    // mailbox_full
    const never = gate();
    const full = await host.spawn<string>({ handle: () => never.promise }, { maxMailbox: 1 });
    full.send('a');
    await tick();
    full.send('b');
    full.send('c');

    // activation_failed: the message that activated a kind whose init throws.
    host.ref('broken:1').send('x');
    await sleep(5);

    // no_route: a pinned ref on a thread this host cannot reach.
    host.decodeRef('n', 'pid$9.1.1', -1, 9, 1).send('x');

    const counts = host.getStats().deadLetters;
    assert.deepEqual(counts, { noproc: 2, stopped: 2, mailbox_full: 1, no_route: 1, activation_failed: 1, unencodable: 0 });
    assert.equal(host.deadLetters.total, 7);
    assert.equal(seen.length, 7);
    assert.deepEqual(
      seen.map((d) => d.reason),
      ['noproc', 'noproc', 'stopped', 'stopped', 'mailbox_full', 'activation_failed', 'no_route'],
    );
    assert.equal(seen[0]!.to, 'nokind:1');
    assert.deepEqual(host.deadLetters.recent().map((d) => d.reason), seen.map((d) => d.reason));
    unsubscribe();
    host.ref('nokind:2').send('x');
    assert.equal(seen.length, 7, 'unsubscribed');
    assert.equal(host.deadLetters.total, 8);
    await host.shutdown(100);
  });

  test('dead letters keep only the last 64, never the message body', async () => {
    const host = new Host({ node: 'n', sweepMs: 0 });
    for (let i = 0; i < 100; i++) host.ref(`nokind:${i}`).send({ secret: i });
    assert.equal(host.deadLetters.counts.noproc, 100);
    const recent = host.deadLetters.recent();
    assert.equal(recent.length, 64);
    assert.equal(recent[0]!.to, 'nokind:36');
    assert.equal(recent[63]!.to, 'nokind:99');
    assert.ok(!JSON.stringify(recent).includes('secret'));
    await host.shutdown(100);
  });
});
