/**
 * Limits belong to the device, the user and the client address, not to the
 * connection (src/server/gateway/admission.ts): reconnecting resets none of
 * them, and opening more connections multiplies none of them. Each test
 * runs a node with small limits so that a few frames cross them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bystanders, connect, dm, exchange, login, msgId, newUser, Peer, signup, sleep, uniqueUser, unaffected, startNode, type Bystanders, type Frame, type TestNode } from './helpers.js';

const LIMITS = {
  sendRate: 1,
  sendBurst: 10,
  frameRate: 1,
  frameBurst: 60,
  keysPairBurst: 2,
  keysPairPerHour: 1,
  historyInFlight: 2,
  historyBytesRate: 1000,
  historyBytesBurst: 1000,
  userSendsInFlight: 1,
  connectionsPerUser: 3,
  connectionsPerAddress: 40,
  groupsPerHour: 2,
  rateAbuseMs: 60_000,
};

/** Sends `n` frames made by `frame(i)` and collects, per rid or id, the answer or error. */
async function answers(p: Peer, n: number, frame: (i: number) => Record<string, unknown>, key: (i: number) => string): Promise<Frame[]> {
  for (let i = 0; i < n; i++) p.send(frame(i));
  const out: Frame[] = [];
  for (let i = 0; i < n; i++) out.push(await p.next((f) => f.rid === key(i) || f.id === key(i), 10_000, `answer ${key(i)}`));
  return out;
}

describe('limits that outlive a connection', () => {
  let t: TestNode;
  let by: Bystanders;

  before(async () => {
    t = await startNode({ limits: LIMITS });
    by = await bystanders(t);
  });
  after(async () => {
    by?.close();
    await t?.stop();
  });

  test('the send bucket is the device’s: closing and reconnecting does not refill it', async () => {
    const a = await newUser(t, 'sb');
    const b = await newUser(t, 'sbr');
    // One at a time (userSendsInFlight is 1 here): the whole burst is taken.
    for (let i = 0; i < LIMITS.sendBurst; i++) {
      const id = msgId();
      a.peer.send({ t: 'send', id, to: `user:${b.name}`, body: 'x' });
      assert.equal((await a.peer.next((f) => f.id === id)).t, 'sent');
    }
    a.peer.close();
    const again = await connect(t, a.name, 'd1');
    const got: Frame[] = [];
    for (let i = 0; i < 5; i++) {
      const id = msgId();
      again.send({ t: 'send', id, to: `user:${b.name}`, body: 'y' });
      got.push(await again.next((f) => f.id === id));
    }
    const refused = got.filter((f) => f.t === 'error' && f.code === 'rate_limited');
    // Over ~1 s of reconnecting at 1/s at most two tokens came back; a fresh bucket would take all five.
    assert.ok(refused.length >= 3, JSON.stringify(got));
    assert.match(String(refused[0]!.message), /^send: over 1 sends\/s/);
    again.close();
    b.peer.close();
  });

  test('every frame counts against the device’s frame bucket, pings and invalid frames included', async () => {
    const a = await newUser(t, 'fb');
    for (let i = 0; i < LIMITS.frameBurst + 20; i++) a.peer.raw(i % 2 === 0 ? `{"t":"ping","rid":"p${i}"}` : 'not json');
    const limited = await a.peer.next((f) => f.t === 'error' && f.code === 'rate_limited', 5000, 'rate_limited');
    assert.match(String(limited.message), /^frames: over 1 frames\/s per device/);
    // The same device on a new connection finds the bucket as it left it.
    a.peer.close();
    const p = await connect(t, a.name, 'd1');
    p.send({ t: 'ping', rid: 'after' });
    const e = await p.next((f) => f.rid === 'after' || (f.t === 'error' && f.code === 'rate_limited'), 5000);
    assert.equal(e.code, 'rate_limited', JSON.stringify(e));
    p.close();
  });

  test('keys_get of one target per requesting user: more connections and devices hand out no more prekeys', async () => {
    const victim = await newUser(t, 'kv');
    const otks = Array.from({ length: 50 }, (_, i) => ({ id: i + 1, key: `otk${i + 1}` }));
    assert.equal((await victim.peer.request({ t: 'keys_put', identityKey: 'ik', signedPreKey: { id: 1, key: 'k', sig: 's' }, oneTimePreKeys: otks })).t, 'ok');
    const thief = uniqueUser('kt');
    await signup(t, thief);
    const peers = await Promise.all(['d1', 'd2', 'd3'].map((d) => connect(t, thief, d)));
    let handed = 0;
    let refused = 0;
    for (const p of peers) {
      for (let i = 0; i < 4; i++) {
        const r = await p.request({ t: 'keys_get', user: victim.name });
        if (r.t === 'keys') handed += (r.devices as Array<{ oneTimePreKey: unknown }>).filter((d) => d.oneTimePreKey !== null).length;
        else {
          assert.equal(r.code, 'rate_limited');
          assert.match(String(r.message), /fetches per hour of one user’s keys|fetches per hour of one user's keys/);
          refused++;
        }
      }
    }
    assert.equal(handed, LIMITS.keysPairBurst);
    assert.equal(refused, 12 - LIMITS.keysPairBurst);
    // Another requester has a bucket of its own for the same target.
    const other = await newUser(t, 'ko');
    assert.equal((await other.peer.request({ t: 'keys_get', user: victim.name })).t, 'keys');
    for (const p of peers) p.close();
    victim.peer.close();
    other.peer.close();
  });

  test('connections per user: past connectionsPerUser, rate_limited naming the limit and close 4029', async () => {
    const name = uniqueUser('cu');
    await signup(t, name);
    const open = [];
    for (let i = 0; i < LIMITS.connectionsPerUser; i++) open.push(await connect(t, name, `d${i}`));
    const token = await login(t, name, 'dx');
    const extra = await Peer.open(t);
    extra.send({ t: 'auth', token });
    const e = await extra.error();
    assert.equal(e.code, 'rate_limited');
    assert.match(String(e.message), /at most 3 open connections per user \(limits\.connectionsPerUser\)/);
    assert.equal((await extra.closedWith()).code, 4029);
    // Closing one frees its place.
    open.pop()!.close();
    await sleep(200);
    open.push(await connect(t, name, 'dx'));
    for (const p of open) p.close();
  });

  test('connections per address: past connectionsPerAddress the upgrade is refused with 429, and a closed one frees its place', async () => {
    await unaffected(t, by, async () => {
      const held: Peer[] = [];
      // The bystanders and the other tests' sockets count too: fill what is left.
      for (;;) {
        try {
          held.push(await Peer.open(t));
        } catch (e) {
          assert.match((e as Error).message, /upgrade refused: 429/);
          break;
        }
        assert.ok(held.length <= LIMITS.connectionsPerAddress, 'never refused');
      }
      held.pop()!.close();
      await sleep(200);
      held.push(await Peer.open(t));
      for (const p of held) p.close();
      await sleep(200);
    });
  });

  test('a user’s share of the node’s sends in flight: past userSendsInFlight, unavailable at once; other users still send', async () => {
    const a = await newUser(t, 'sf');
    const b = await newUser(t, 'sfr');
    const ids = Array.from({ length: 8 }, () => msgId());
    const got = await answers(a.peer, ids.length, (i) => ({ t: 'send', id: ids[i], to: `user:${b.name}`, body: i }), (i) => ids[i]!);
    const shed = got.filter((f) => f.t === 'error' && f.code === 'unavailable');
    assert.ok(shed.length >= 1, JSON.stringify(got));
    assert.match(String(shed[0]!.message), /limits\.userSendsInFlight/);
    assert.ok(got.some((f) => f.t === 'sent'));
    await by.talk();
    a.peer.close();
    b.peer.close();
  });

  test('history: at most historyInFlight per user, and its bytes per second; the answer is charged after it comes', async () => {
    const a = await newUser(t, 'ha');
    const b = await newUser(t, 'hb');
    await exchange(a, b, 'x'.repeat(800));
    await exchange(b, a, 'y'.repeat(800));
    const conv = dm(a.name, b.name);
    // The first answer (~2 KB) empties the 1000-byte bucket into debt.
    const first = await a.peer.request({ t: 'history', conv });
    assert.equal(first.t, 'history');
    const second = await a.peer.request({ t: 'history', conv });
    assert.equal(second.code, 'rate_limited', JSON.stringify(second));
    assert.match(String(second.message), /bytes\/s of history per user/);
    // b's own bucket is untouched; pipelined requests past historyInFlight are refused at once.
    const got = await answers(b.peer, 4, (i) => ({ t: 'history', conv, rid: `h${i}` }), (i) => `h${i}`);
    assert.ok(got.some((f) => f.code === 'rate_limited' && /history requests in flight/.test(String(f.message))), JSON.stringify(got).slice(0, 400));
    a.peer.close();
    b.peer.close();
  });

  test('group_create past groupsPerHour per user: rate_limited naming the limit, also from another connection', async () => {
    const a = await newUser(t, 'gc');
    for (let i = 0; i < LIMITS.groupsPerHour; i++) assert.equal((await a.peer.request({ t: 'group_create', name: `g${i}`, members: [] })).t, 'group');
    a.peer.close();
    const again = await connect(t, a.name, 'd2');
    const r = await again.request({ t: 'group_create', name: 'one more', members: [] });
    assert.equal(r.code, 'rate_limited');
    assert.match(String(r.message), /at most 2 groups per user per hour \(limits\.groupsPerHour\)/);
    again.close();
  });
});
