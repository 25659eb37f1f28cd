/**
 * Groups used against their members (PROTOCOL.md "Precise rules: Groups,
 * Recipients"): reading a group's past by being added to it, adding users
 * who refuse it or do not exist, and making a group so large that telling
 * its members at once would stall a scheduler thread. Each test is named
 * after the rule it enforces; every wait is bounded.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bystanders, exchange, msgId, newUser, sleep, startNode, unaffected, uniqueUser, type Bystanders, type Frame, type Peer, type TestNode, expectError } from './helpers.js';

type U = { name: string; peer: Peer };

const isEvent = (event: string, group: string) => (f: Frame) => f.t === 'group_event' && f.event === event && f.group === group;

async function createGroup(by: U, members: string[], timeoutMs = 5000): Promise<string> {
  const r = await by.peer.request({ t: 'group_create', name: 'the club', members }, timeoutMs);
  assert.equal(r.t, 'group', JSON.stringify(r).slice(0, 400));
  return (r.group as { id: string }).id;
}

/** `from` posts to the group and gets `sent`. */
async function post(from: U, group: string, body: unknown): Promise<Frame> {
  const id = msgId();
  from.peer.send({ t: 'send', id, to: `group:${group}`, body });
  const sent = await from.peer.next((f) => f.id === id && (f.t === 'sent' || f.t === 'error'), 5000, `sent ${id}`);
  assert.equal(sent.t, 'sent', JSON.stringify(sent));
  return sent;
}

describe('groups against their members', () => {
  let t: TestNode;
  let by: Bystanders;
  let alice: U, bob: U, carol: U;

  before(async () => {
    t = await startNode();
    by = await bystanders(t);
    alice = await newUser(t, 'alice');
    bob = await newUser(t, 'bob');
    carol = await newUser(t, 'carol');
  });
  after(async () => {
    by?.close();
    for (const u of [alice, bob, carol]) u?.peer.close();
    await t?.stop();
  });

  test('join floor: a member added after 5 messages sees none of them, neither live nor through history', async () => {
    await unaffected(t, by, async () => {
      const g = await createGroup(alice, [bob.name]);
      const before: Frame[] = [];
      for (let i = 1; i <= 5; i++) before.push(await post(alice, g, `before ${i}`));
      const add = await alice.peer.request({ t: 'group_add', group: g, users: [carol.name] });
      assert.equal(add.t, 'group', JSON.stringify(add));
      const ev = await carol.peer.next(isEvent('added', g), 5000, 'carol hears she was added');
      carol.peer.send({ t: 'ack', inbox: ev.inbox });

      const h = await carol.peer.request({ t: 'history', conv: `g:${g}`, limit: 100 });
      assert.equal(h.t, 'history', JSON.stringify(h));
      assert.deepEqual(h.messages, [], 'history starts after the join');
      assert.equal(h.more, false);
      const older = await carol.peer.request({ t: 'history', conv: `g:${g}`, before: 6, limit: 100 });
      assert.deepEqual(older.messages, [], 'nor with before');

      const after1 = await post(alice, g, 'after');
      const m = await carol.peer.next((f) => f.t === 'msg' && f.id === after1.id, 5000, 'carol gets what is sent after her join');
      assert.equal(m.seq, 6);
      carol.peer.send({ t: 'ack', inbox: m.inbox });
      const h2 = await carol.peer.request({ t: 'history', conv: `g:${g}`, limit: 100 });
      assert.deepEqual((h2.messages as Frame[]).map((x) => x.seq), [6]);
      await sleep(200);
      const early = carol.peer.frames.filter((f) => f.t === 'msg' && before.some((s) => s.id === f.id));
      assert.deepEqual(early, [], 'no msg from before the join');
      // A member from the start still reads everything.
      const hb = await bob.peer.request({ t: 'history', conv: `g:${g}`, limit: 100 });
      assert.deepEqual((hb.messages as Frame[]).map((x) => x.seq), [1, 2, 3, 4, 5, 6]);
      // A member removed and added again does not regain what was said meanwhile.
      await alice.peer.request({ t: 'group_remove', group: g, users: [carol.name] });
      await post(alice, g, 'while carol is away');
      await alice.peer.request({ t: 'group_add', group: g, users: [carol.name] });
      const h3 = await carol.peer.request({ t: 'history', conv: `g:${g}`, limit: 100 });
      assert.deepEqual(h3.messages, [], 'history starts after the latest join');
    });
  });

  test('settings.groupAdd nobody: others cannot put the user in a group (forbidden, nothing written); the user still can', async () => {
    const dave = await newUser(t, 'dave');
    try {
      const neither = await dave.peer.request({ t: 'settings' });
      expectError(neither, 'bad_request', 'settings');
      const s = await dave.peer.request({ t: 'settings', groupAdd: 'nobody' });
      assert.equal(s.t, 'ok', JSON.stringify(s));

      const c = await alice.peer.request({ t: 'group_create', name: 'no', members: [bob.name, dave.name] });
      expectError(c, 'forbidden', `group_create.members: ${dave.name} does not accept being added to groups (settings.groupAdd)`);
      await bob.peer.quiet((f) => f.t === 'group_event' && f.event === 'created' && (f.users as string[]).includes(dave.name), 300);

      const g = await createGroup(alice, [bob.name]);
      const a = await alice.peer.request({ t: 'group_add', group: g, users: [dave.name] });
      expectError(a, 'forbidden', `group_add.users: ${dave.name} does not accept being added to groups (settings.groupAdd)`);
      const info = await alice.peer.request({ t: 'group_info', group: g });
      assert.deepEqual([...(info.group as { members: string[] }).members].sort(), [alice.name, bob.name].sort(), 'nobody was added');
      await dave.peer.quiet((f) => f.t === 'group_event', 200);

      // Changing lastSeen alone keeps groupAdd.
      assert.equal((await dave.peer.request({ t: 'settings', lastSeen: 'nobody' })).t, 'ok');
      expectError(await alice.peer.request({ t: 'group_add', group: g, users: [dave.name] }), 'forbidden', 'settings.groupAdd');

      const own = await dave.peer.request({ t: 'group_create', name: 'mine', members: [alice.name] });
      assert.equal(own.t, 'group', 'one may still create a group oneself');

      assert.equal((await dave.peer.request({ t: 'settings', groupAdd: 'everyone' })).t, 'ok');
      const again = await alice.peer.request({ t: 'group_add', group: g, users: [dave.name] });
      assert.equal(again.t, 'group', JSON.stringify(again));
    } finally {
      dave.peer.close();
    }
  });

  test('unknown users named in group_create or group_add are not_found, naming the first few; nothing is written', async () => {
    const ghost = uniqueUser('ghost');
    const c = await alice.peer.request({ t: 'group_create', name: 'ghosts', members: [bob.name, ghost] });
    expectError(c, 'not_found', `group_create.members: no user ${ghost}`);
    await bob.peer.quiet((f) => f.t === 'group_event' && f.event === 'created' && (f.users as string[]).includes(ghost), 300);

    const g = await createGroup(alice, [bob.name]);
    const ghosts = Array.from({ length: 9 }, () => uniqueUser('ghost'));
    const a = await alice.peer.request({ t: 'group_add', group: g, users: [carol.name, ...ghosts] });
    expectError(a, 'not_found', `no user ${ghosts.slice(0, 5).join(', ')} and 4 more`);
    const info = await alice.peer.request({ t: 'group_info', group: g });
    assert.equal((info.group as { members: string[] }).members.length, 2, 'carol was not added either');

    await t.node.declareUsers([ghost]);
    const ok = await alice.peer.request({ t: 'group_add', group: g, users: [ghost] });
    assert.equal(ok.t, 'group', 'a declared user can be added');
  });

  test('bounded slices: group_create of 1024 members answers in time while others keep talking, and no connection closes', async () => {
    const members = Array.from({ length: 1022 }, (_, i) => `big${process.pid.toString(36)}n${i}`);
    await t.node.declareUsers(members);
    const p = await newUser(t, 'pa');
    const q = await newUser(t, 'pq');
    try {
      await unaffected(t, by, async () => {
        let creating = true;
        let exchanged = 0;
        const talk = (async () => {
          while (creating) {
            await exchange(p, q, { n: exchanged });
            exchanged++;
          }
        })();
        const started = Date.now();
        const r = await alice.peer.request({ t: 'group_create', name: 'everyone', members: [bob.name, ...members] }, 10_000);
        const took = Date.now() - started;
        creating = false;
        await talk;
        assert.equal(r.t, 'group', JSON.stringify(r).slice(0, 400));
        const g = r.group as { id: string; members: string[] };
        assert.equal(g.members.length, 1024);
        assert.ok(exchanged >= 1, `the pair exchanged ${exchanged} messages during the ${took} ms it took`);
        const ev = await bob.peer.next(isEvent('created', g.id), 10_000, 'bob hears of the group');
        bob.peer.send({ t: 'ack', inbox: ev.inbox });
        const sent = await post(alice, g.id, 'hello, everyone');
        const m = await bob.peer.next((f) => f.t === 'msg' && f.id === sent.id, 10_000, 'bob gets the first message');
        bob.peer.send({ t: 'ack', inbox: m.inbox });
      });
      for (const u of [alice, bob, carol, p, q, by.a, by.b]) assert.equal(u.peer.closeCode, null, `${u.name}'s connection closed`);
    } finally {
      p.peer.close();
      q.peer.close();
    }
  });
});
