/**
 * Reaching into what is not one's own (PROTOCOL.md "Precise rules: Groups,
 * Acks"): reading a conversation one is not in, posting to a group one is
 * not in or was removed from, acking beyond what was sent, and admin actions
 * by non-admins. Each gets its error naming the rule, and nothing the
 * members have stored changes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bystanders, connect, delivered, dm, exchange, msgId, newUser, snapshot, startNode, unaffected, type Bystanders, type Frame, type Peer, type TestNode } from './helpers.js';

type U = { name: string; peer: Peer };

describe('access to what is not one’s own', () => {
  let t: TestNode;
  let by: Bystanders;
  let alice: U, bob: U, carol: U, mallory: U;
  let group: string;

  before(async () => {
    t = await startNode({ limits: { groupMembers: 6 } });
    by = await bystanders(t);
    alice = await newUser(t, 'alice');
    bob = await newUser(t, 'bob');
    carol = await newUser(t, 'carol');
    mallory = await newUser(t, 'mallory');
    await exchange(alice, bob, 'a private word');
    await exchange(bob, alice, 'and a reply');
    const g = await alice.peer.request({ t: 'group_create', name: 'the club', members: [bob.name, carol.name] });
    assert.equal(g.t, 'group', JSON.stringify(g));
    group = (g.group as { id: string }).id;
    await groupEvent('created', carol.name, [alice, bob, carol]);
    await post(alice, 'welcome', [bob, carol]);
  });
  after(async () => {
    by?.close();
    for (const u of [alice, bob, carol, mallory]) u?.peer.close();
    await t?.stop();
  });

  /** `from` posts to the group; every one of `to` receives it (and acknowledges). */
  async function post(from: U, body: unknown, to: U[]): Promise<Frame> {
    const id = msgId();
    from.peer.send({ t: 'send', id, to: `group:${group}`, body });
    const sent = await from.peer.next((f) => f.id === id && (f.t === 'sent' || f.t === 'error'));
    assert.equal(sent.t, 'sent', JSON.stringify(sent));
    for (const u of to) {
      const m = await u.peer.next((f) => f.t === 'msg' && f.id === id, 5000, `${u.name} gets ${id}`);
      u.peer.send({ t: 'ack', inbox: m.inbox });
    }
    for (const u of to) await delivered(from.peer, u.name, sent);
    return sent;
  }

  /** Waits until each of `to` got the group_event `event` about `user`. */
  async function groupEvent(event: string, user: string, to: U[]): Promise<void> {
    for (const u of to) {
      const e = await u.peer.next((f) => f.t === 'group_event' && f.event === event && (f.users as string[]).includes(user), 5000, `${u.name} hears ${user} ${event}`);
      u.peer.send({ t: 'ack', inbox: e.inbox });
    }
  }

  /** The group's members' stores and the group itself are the same after `abuse`. */
  async function membersUnchanged(abuse: () => Promise<void>): Promise<void> {
    const snap = async (): Promise<unknown> => ({
      alice: await snapshot(alice.peer),
      bob: await snapshot(bob.peer),
      carol: await snapshot(carol.peer),
      group: (await alice.peer.request({ t: 'group_info', group })).group,
    });
    const before = await snap();
    for (const u of [alice, bob, carol]) u.peer.frames.length = 0;
    await unaffected(t, by, abuse);
    assert.deepEqual(await snap(), before, 'the members’ chats, history or the group changed');
    for (const u of [alice, bob, carol]) await u.peer.quiet((f) => f.t === 'msg' || f.t === 'group_event' || f.t === 'typing' || f.t === 'receipt', 50);
  }

  test('reading the history of a conversation one is not in: forbidden, nothing revealed', async () => {
    await membersUnchanged(async () => {
      for (const conv of [dm(alice.name, bob.name), `g:${group}`]) {
        const e = await mallory.peer.request({ t: 'history', conv });
        assert.equal(e.t, 'error');
        assert.equal(e.code, 'forbidden');
        assert.equal(e.message, `${mallory.name} is not a member of ${conv}`);
        assert.equal(e.messages, undefined);
      }
      const info = await mallory.peer.request({ t: 'group_info', group });
      assert.equal(info.code, 'forbidden');
      assert.equal(info.message, `${mallory.name} is not a member of group ${group}`);
      // An unknown group is not_found, for members and others alike.
      const unknown = await mallory.peer.request({ t: 'history', conv: 'g:no-such-group' });
      assert.equal(unknown.code, 'not_found');
      assert.equal(unknown.message, 'no group no-such-group');
      // Marking someone else's conversation read is bad_request and reaches no one; nor does typing in it.
      for (const conv of [dm(alice.name, bob.name), `g:${group}`]) {
        mallory.peer.send({ t: 'read', conv, seq: 2 });
        const r = await mallory.peer.error();
        assert.equal(r.code, 'bad_request');
        assert.equal(r.message, `read: ${mallory.name} has no messages in ${conv}`);
      }
      // A read of one's own (empty) conversation with anyone: nothing to read, nothing kept.
      mallory.peer.send({ t: 'read', conv: dm(mallory.name, 'zz-nobody-at-all'), seq: 9 });
      mallory.peer.send({ t: 'typing', conv: dm(alice.name, bob.name), on: true });
      mallory.peer.send({ t: 'typing', conv: `g:${group}`, on: true });
      await mallory.peer.alive();
    });
    // Nor does it show up in one's own chats.
    const mine = (await mallory.peer.request({ t: 'chats' })).chats as Array<{ conv: string }>;
    assert.deepEqual(
      mine.map((c) => c.conv),
      [],
    );
  });

  test('posting to a group one is not in, or was removed from: forbidden, members get nothing', async () => {
    await membersUnchanged(async () => {
      const id = msgId();
      mallory.peer.send({ t: 'send', id, to: `group:${group}`, body: 'let me in' });
      const e = await mallory.peer.error(id);
      assert.equal(e.code, 'forbidden');
      assert.equal(e.message, `${mallory.name} is not a member of g:${group}`);
      const nid = msgId();
      mallory.peer.send({ t: 'send', id: nid, to: 'group:no-such-group', body: 'hello?' });
      const ne = await mallory.peer.error(nid);
      assert.equal(ne.code, 'not_found');
      // Payloads do not get around it either.
      const pid = msgId();
      mallory.peer.send({ t: 'send', id: pid, to: `group:${group}`, payloads: { [`${alice.name}/d1`]: 'x' } });
      assert.equal((await mallory.peer.error(pid)).code, 'forbidden');
    });

    // Added, then removed: a post after the removal is refused and reaches no one.
    const dave = await newUser(t, 'dave');
    try {
      const added = await alice.peer.request({ t: 'group_add', group, users: [dave.name] });
      assert.equal(added.t, 'group', JSON.stringify(added));
      await groupEvent('added', dave.name, [alice, bob, carol, dave]);
      await post(dave, 'hi all', [alice, bob, carol]);
      const removed = await alice.peer.request({ t: 'group_remove', group, users: [dave.name] });
      assert.equal(removed.t, 'group');
      await groupEvent('removed', dave.name, [alice, bob, carol]);
      await post(alice, 'dave is gone', [bob, carol]);
      await dave.peer.quiet((f) => f.t === 'msg' && f.body === 'dave is gone', 200);
      await membersUnchanged(async () => {
        const id = msgId();
        dave.peer.send({ t: 'send', id, to: `group:${group}`, body: 'still here?' });
        const e = await dave.peer.error(id);
        assert.equal(e.code, 'forbidden');
        assert.equal(e.message, `${dave.name} is not a member of g:${group}`);
        // The same id again later: still refused (a refused send is not remembered as sent).
        dave.peer.send({ t: 'send', id, to: `group:${group}`, body: 'still here?' });
        assert.equal((await dave.peer.error(id)).code, 'forbidden');
        const h = await dave.peer.request({ t: 'history', conv: `g:${group}` });
        assert.equal(h.code, 'forbidden');
      });
    } finally {
      dave.peer.close();
    }

    // One who left is refused the same way.
    const erin = await newUser(t, 'erin');
    try {
      assert.equal((await alice.peer.request({ t: 'group_add', group, users: [erin.name] })).t, 'group');
      await groupEvent('added', erin.name, [alice, bob, carol, erin]);
      assert.equal((await erin.peer.request({ t: 'group_leave', group })).t, 'ok');
      await groupEvent('left', erin.name, [alice, bob, carol]);
      await membersUnchanged(async () => {
        const id = msgId();
        erin.peer.send({ t: 'send', id, to: `group:${group}`, body: 'one more thing' });
        assert.equal((await erin.peer.error(id)).code, 'forbidden');
        assert.equal((await erin.peer.request({ t: 'group_leave', group })).code, 'forbidden');
      });
    } finally {
      erin.peer.close();
    }
  });

  test('acking beyond what was sent: bad_request, the cursor does not move', async () => {
    const sender = await newUser(t, 'acksender');
    const reader = await newUser(t, 'ackreader');
    try {
      // Nothing sent yet: any number above 0 is beyond.
      reader.peer.send({ t: 'ack', inbox: 1 });
      const e0 = await reader.peer.error();
      assert.equal(e0.code, 'bad_request');
      assert.equal(e0.message, 'ack: inbox 1 was never sent to this device (last sent 0)');
      await reader.peer.alive();

      const id = msgId();
      sender.peer.send({ t: 'send', id, to: `user:${reader.name}`, body: 'keep this' });
      await sender.peer.next((f) => f.t === 'sent' && f.id === id);
      const m = await reader.peer.next((f) => f.t === 'msg' && f.id === id);
      const n = m.inbox as number;
      await unaffected(t, by, async () => {
        for (const beyond of [n + 1, n + 1000, Number.MAX_SAFE_INTEGER]) {
          reader.peer.send({ t: 'ack', inbox: beyond });
          const e = await reader.peer.error();
          assert.equal(e.code, 'bad_request');
          assert.equal(e.message, `ack: inbox ${beyond} was never sent to this device (last sent ${n})`);
        }
        await reader.peer.alive();
      });
      // Nothing was acknowledged: no delivered receipt, and a reconnect gets the message again.
      await sender.peer.quiet((f) => f.t === 'receipt', 200);
      reader.peer.close();
      await reader.peer.closed;
      const again = await connect(t, reader.name);
      try {
        const m2 = await again.next((f) => f.t === 'msg' && f.id === id);
        assert.equal(m2.inbox, n);
        // Acking what was sent works, and the sender hears of it.
        again.send({ t: 'ack', inbox: n });
        const r = await sender.peer.next((f) => f.t === 'receipt');
        assert.equal(r.status, 'delivered');
        assert.deepEqual(r.seqs, [m.seq]);
      } finally {
        again.close();
      }
    } finally {
      sender.peer.close();
      reader.peer.close();
    }
  });

  test('admin actions by non-admins: forbidden naming the rule, the group unchanged', async () => {
    await membersUnchanged(async () => {
      const notAdmin = `only admins of group ${group} may do this`;
      for (const frame of [
        { t: 'group_add', group, users: [mallory.name] },
        { t: 'group_remove', group, users: [carol.name] },
        { t: 'group_remove', group, users: [alice.name] },
        { t: 'group_update', group, name: 'bob’s club now' },
      ]) {
        const e = await bob.peer.request(frame);
        assert.equal(e.code, 'forbidden', JSON.stringify(e));
        assert.equal(e.message, notAdmin);
      }
      const notMember = `${mallory.name} is not a member of group ${group}`;
      for (const frame of [
        { t: 'group_add', group, users: [mallory.name] },
        { t: 'group_remove', group, users: [bob.name] },
        { t: 'group_update', group, name: 'mine' },
        { t: 'group_leave', group },
      ]) {
        const e = await mallory.peer.request(frame);
        assert.equal(e.code, 'forbidden', JSON.stringify(e));
        assert.equal(e.message, notMember);
      }
      for (const frame of [
        { t: 'group_add', group: 'no-such-group', users: [mallory.name] },
        { t: 'group_update', group: 'no-such-group', name: 'x' },
      ]) {
        const e = await mallory.peer.request(frame);
        assert.equal(e.code, 'not_found');
      }
      // Over the member limit (6 here): conflict, and no one is added.
      const many = ['aa1', 'aa2', 'aa3', 'aa4'];
      const e = await alice.peer.request({ t: 'group_add', group, users: many });
      assert.equal(e.code, 'conflict');
      assert.match(String(e.message), /^group_add\.users: a group has at most 6 members/);
      const c = await mallory.peer.request({ t: 'group_create', name: 'too big', members: ['bb1', 'bb2', 'bb3', 'bb4', 'bb5', 'bb6'] });
      assert.equal(c.code, 'conflict');
    });
  });
});
