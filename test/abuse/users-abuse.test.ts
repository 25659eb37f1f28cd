/**
 * Users and their resources used against the node (PROTOCOL.md "Precise
 * rules: Recipients", and the limits of docs/protocol.md): sending to users
 * that do not exist, registering devices without end, filling the disk
 * with one account's messages, and piling entries into someone's inbox.
 * Each test is named after the rule it enforces; every wait is bounded.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokens } from '../../src/server/auth/tokens.js';
import { SECRET, bystanders, connect, dm, login, msgId, newUser, signup, sleep, startNode, unaffected, uniqueUser, Peer, type Bystanders, type Frame, type TestNode, expectError } from './helpers.js';

type U = { name: string; peer: Peer };

const DAY = 24 * 3600 * 1000;

/** Sends and waits for `sent` or the error answering it. */
async function send(from: U, to: string, body: unknown, id = msgId()): Promise<Frame> {
  from.peer.send({ t: 'send', id, to, body });
  return from.peer.next((f) => f.id === id && (f.t === 'sent' || f.t === 'error'), 5000, `answer to ${id}`);
}

describe('recipients', () => {
  let t: TestNode;
  let by: Bystanders;
  let alice: U;
  before(async () => {
    t = await startNode();
    by = await bystanders(t);
    alice = await newUser(t, 'alice');
  });
  after(async () => {
    by?.close();
    alice?.peer.close();
    await t?.stop();
  });

  test('a send to a user that does not exist is not_found and stores nothing; declared, account-only and token-only users exist', async () => {
    await unaffected(t, by, async () => {
      const ghost = uniqueUser('ghost');
      const id = msgId();
      expectError(await send(alice, `user:${ghost}`, 'anyone?', id), 'not_found', `send.to: no user ${ghost}`);
      const chats = await alice.peer.request({ t: 'chats' });
      assert.equal((chats.chats as Array<{ conv: string }>).filter((c) => c.conv === dm(alice.name, ghost)).length, 0, 'no chat was made');
      const h = await alice.peer.request({ t: 'history', conv: dm(alice.name, ghost) });
      assert.deepEqual(h.messages, []);

      await t.node.declareUsers([ghost]);
      const again = await send(alice, `user:${ghost}`, 'anyone?', id);
      assert.equal(again.t, 'sent', JSON.stringify(again));
      assert.equal(again.seq, 1, 'the refused send stored nothing');

      const account = uniqueUser('acct');
      await signup(t, account);
      assert.equal((await send(alice, `user:${account}`, 'hi')).t, 'sent', 'an account that never logged in exists');

      const external = uniqueUser('ext');
      const tokens = await Tokens.create({ secret: SECRET, ttlS: 3600 });
      const p = await connect(t, external, 'd1', 'json', (await tokens.sign(external, 'd1')).token);
      p.close();
      assert.equal((await send(alice, `user:${external}`, 'hi')).t, 'sent', 'a user who authenticated once exists');
    });
  });

  test('keys_get of a user that does not exist is not_found; of a declared one, no devices', async () => {
    const ghost = uniqueUser('ghost');
    expectError(await alice.peer.request({ t: 'keys_get', user: ghost }), 'not_found', `no user ${ghost}`);
    await t.node.declareUsers([ghost]);
    const r = await alice.peer.request({ t: 'keys_get', user: ghost });
    assert.equal(r.t, 'keys', JSON.stringify(r));
    assert.deepEqual(r.devices, []);
  });

  test('declareUsers refuses an id that breaks the user rule, before declaring any', async () => {
    const fine = uniqueUser('fine');
    await assert.rejects(t.node.declareUsers([fine, 'Not A User']), /Not A User/);
    expectError(await send(alice, `user:${fine}`, 'hi'), 'not_found');
  });
});

describe('devices: limits.devicesPerUser', () => {
  let t: TestNode;
  before(async () => {
    t = await startNode({ limits: { devicesPerUser: 2 } });
  });
  after(async () => {
    await t?.stop();
  });

  /** Opens a socket for a device and sends `auth`; answers the first frame back. */
  async function tryConnect(user: string, device: string): Promise<{ peer: Peer; first: Frame }> {
    const token = await login(t, user, device);
    const peer = await Peer.open(t);
    peer.send({ t: 'auth', token });
    return { peer, first: await peer.next((f) => f.t === 'ready' || f.t === 'error', 5000, 'ready or error') };
  }

  test('devicesPerUser: a new device past the cap is forbidden naming the limit; known devices connect; device_remove frees a place', async () => {
    const u = await newUser(t, 'dev');
    const other = await newUser(t, 'oth');
    const peers: Peer[] = [u.peer, other.peer];
    try {
      const d2 = await connect(t, u.name, 'd2');
      peers.push(d2);
      const put = await d2.request({ t: 'keys_put', identityKey: 'ik', signedPreKey: { id: 1, key: 'spk', sig: 'sig' }, oneTimePreKeys: [] });
      assert.equal(put.t, 'ok', JSON.stringify(put));

      const third = await tryConnect(u.name, 'd3');
      peers.push(third.peer);
      expectError(third.first, 'forbidden', 'limits.devicesPerUser');
      assert.ok(String(third.first.message).includes('device_remove'), 'it says how to remove a device');
      await third.peer.closedWith();

      // A known device still connects (the older connection is replaced).
      const d1 = await connect(t, u.name, 'd1');
      peers.push(d1);
      const list = await d1.request({ t: 'devices' });
      assert.equal(list.t, 'devices', JSON.stringify(list));
      const devices = list.devices as Array<{ device: string; registeredAt: number; online: boolean }>;
      assert.deepEqual(devices.map((d) => [d.device, d.online]), [['d1', true], ['d2', true]]);
      assert.ok(devices.every((d) => Number.isInteger(d.registeredAt)));

      expectError(await d1.request({ t: 'device_remove', device: 'nope' }), 'not_found', 'nope');
      const removed = await d1.request({ t: 'device_remove', device: 'd2' });
      assert.equal(removed.t, 'ok', JSON.stringify(removed));
      assert.equal((await d2.closedWith()).code, 4001, 'the removed device is disconnected');
      const after1 = await d1.request({ t: 'devices' });
      assert.deepEqual((after1.devices as Array<{ device: string }>).map((d) => d.device), ['d1']);
      const keys = await other.peer.request({ t: 'keys_get', user: u.name });
      assert.deepEqual(keys.devices, [], 'its keys are gone');

      // The freed place takes a new device; an offline one can be removed too.
      const d3 = await connect(t, u.name, 'd3');
      d3.close();
      await sleep(100);
      assert.equal((await d1.request({ t: 'device_remove', device: 'd3' })).t, 'ok');
      const after2 = await d1.request({ t: 'devices' });
      assert.deepEqual((after2.devices as Array<{ device: string }>).map((d) => d.device), ['d1']);
      await d1.alive();
      // Messages still flow to what is left.
      const s = await send(other, `user:${u.name}`, 'still here?');
      assert.equal(s.t, 'sent', JSON.stringify(s));
      await d1.next((f) => f.t === 'msg' && f.id === s.id, 5000, 'd1 gets it');
    } finally {
      for (const p of peers) p.close();
    }
  });
});

describe('device removal revokes the device’s tokens', () => {
  let t: TestNode;
  before(async () => {
    t = await startNode();
  });
  after(async () => {
    await t?.stop();
  });

  test('a removed device’s token is refused (unauthorized, close 4001); a token issued after the removal registers it again', async () => {
    const u = await newUser(t, 'rv');
    const stolen = await login(t, u.name, 'lost');
    const lost = await connect(t, u.name, 'lost', 'json', stolen);
    // `iat` has whole seconds: the removal must fall in a later second than the token.
    await sleep(1100);
    assert.equal((await u.peer.request({ t: 'device_remove', device: 'lost' })).t, 'ok');
    assert.equal((await lost.closedWith()).code, 4001);
    const again = await Peer.open(t);
    again.send({ t: 'auth', token: stolen });
    expectError(await again.error(), 'unauthorized', 'was removed');
    assert.equal((await again.closedWith()).code, 4001);
    const list = await u.peer.request({ t: 'devices' });
    assert.deepEqual((list.devices as Array<{ device: string }>).map((d) => d.device), ['d1'], 'the refused token registered nothing');
    await sleep(1100);
    const fresh = await connect(t, u.name, 'lost', 'json', await login(t, u.name, 'lost'));
    await fresh.alive();
    fresh.close();
    u.peer.close();
  });
});

describe('stored bytes: limits.storedBytesPerUser', () => {
  let t: TestNode;
  before(async () => {
    t = await startNode({ faults: true, limits: { storedBytesPerUser: 3000 } });
  });
  after(async () => {
    await t?.stop();
  });

  test('storedBytesPerUser: past the bytes a sender may have stored, a send is rate_limited naming the limit; nothing stored is lost; bytes fall off with the retention', async () => {
    const alice = await newUser(t, 'sba');
    const bob = await newUser(t, 'sbb');
    try {
      const body = 'x'.repeat(998); // 1000 bytes as JSON
      const sent: Frame[] = [];
      for (let i = 0; i < 3; i++) {
        const s = await send(alice, `user:${bob.name}`, body);
        assert.equal(s.t, 'sent', JSON.stringify(s));
        sent.push(s);
      }
      const over = msgId();
      expectError(await send(alice, `user:${bob.name}`, body, over), 'rate_limited', 'limits.storedBytesPerUser');
      const repeat = await send(alice, `user:${bob.name}`, body, sent[0]!.id as string);
      assert.equal(repeat.seq, sent[0]!.seq, 'a repeated id is still answered');
      const h = await bob.peer.request({ t: 'history', conv: dm(alice.name, bob.name) });
      assert.deepEqual((h.messages as Frame[]).map((m) => m.seq), [1, 2, 3], 'nothing stored is lost, nothing more stored');
      assert.equal((await send(bob, `user:${alice.name}`, 'my own budget')).t, 'sent', 'the limit is per sender');

      // Past the retention the old bytes no longer count.
      await t.node.runtime.ref('admin:0').call({ t: 'advance_clock', ms: 31 * DAY }, { timeout: 5000 });
      const later = await send(alice, `user:${bob.name}`, body, over);
      assert.equal(later.t, 'sent', JSON.stringify(later));
    } finally {
      alice.peer.close();
      bob.peer.close();
    }
  });
});

describe('inbox cap: limits.inboxEntries', () => {
  let t: TestNode;
  before(async () => {
    t = await startNode({ limits: { inboxEntries: 5 } });
  });
  after(async () => {
    await t?.stop();
  });

  test('inboxEntries: a dm to a user with a full inbox is rate_limited and stores nothing; group messages still go; acks make room', async () => {
    const alice = await newUser(t, 'iba');
    const bob = await newUser(t, 'ibb');
    try {
      for (let i = 0; i < 5; i++) {
        const s = await send(alice, `user:${bob.name}`, `n${i}`);
        assert.equal(s.t, 'sent', JSON.stringify(s));
        await bob.peer.next((f) => f.t === 'msg' && f.id === s.id, 5000, `bob gets ${i}`); // and does not ack
      }
      await sleep(100); // bob's `accepted` reached the conversation
      const id = msgId();
      expectError(await send(alice, `user:${bob.name}`, 'one more', id), 'rate_limited', `send.to: ${bob.name}'s inbox is full (limits.inboxEntries); try later`);
      const h = await bob.peer.request({ t: 'history', conv: dm(alice.name, bob.name) });
      assert.equal((h.messages as Frame[]).length, 5, 'nothing stored');

      // One member who never reads must not silence a group.
      const g = await alice.peer.request({ t: 'group_create', name: 'g', members: [bob.name] });
      assert.equal(g.t, 'group', JSON.stringify(g));
      const gs = await send(alice, `group:${(g.group as { id: string }).id}`, 'to the group');
      assert.equal(gs.t, 'sent', JSON.stringify(gs));
      const gm = await bob.peer.next((f) => f.t === 'msg' && f.id === gs.id, 5000, 'bob gets the group message');

      bob.peer.send({ t: 'ack', inbox: gm.inbox });
      await sleep(100);
      const again = await send(alice, `user:${bob.name}`, 'one more', id);
      assert.equal(again.t, 'sent', JSON.stringify(again));
      assert.equal(again.seq, 6);
    } finally {
      alice.peer.close();
      bob.peer.close();
    }
  });
});
