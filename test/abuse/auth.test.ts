/**
 * Authentication abuse (PROTOCOL.md "Close codes", "Precise rules: Auth"):
 * frames before `auth`, no `auth` in time, bad tokens, and the same device
 * connecting twice. A refused connection registers nothing, and other users
 * are unaffected.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, UnsecuredJWT } from 'jose';
import { bystanders, connect, login, msgId, newUser, Peer, SECRET, signup, sleep, uniqueUser, unaffected, withNode, type Bystanders, type Peer as PeerT, type TestNode, startNode } from './helpers.js';

const AUTH_TIMEOUT = 500;

async function sign(claims: { sub?: string; dev?: string; exp?: number }, secret = SECRET): Promise<string> {
  const j = new SignJWT(claims.dev !== undefined ? { dev: claims.dev } : {}).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (claims.sub !== undefined) j.setSubject(claims.sub);
  if (claims.exp !== undefined) j.setExpirationTime(claims.exp);
  return j.sign(new TextEncoder().encode(secret));
}

const inAnHour = (): number => Math.floor(Date.now() / 1000) + 3600;

describe('authentication abuse', () => {
  let t: TestNode;
  let by: Bystanders;
  let victim: { name: string; peer: PeerT };
  let sender: { name: string; peer: PeerT };

  before(async () => {
    t = await startNode({ limits: { authTimeoutMs: AUTH_TIMEOUT } });
    by = await bystanders(t);
    victim = await newUser(t, 'victim');
    sender = await newUser(t, 'sender');
  });
  after(async () => {
    by?.close();
    victim?.peer.close();
    sender?.peer.close();
    await t?.stop();
  });

  /** The devices the node has registered for `user`, as the `payloads` conflict names them. */
  async function devicesOf(user: string): Promise<string[]> {
    const id = msgId();
    sender.peer.send({ t: 'send', id, to: `user:${user}`, payloads: {} });
    const e = await sender.peer.error(id);
    assert.equal(e.code, 'conflict', JSON.stringify(e));
    return (e.missing as string[]).filter((k) => k.startsWith(`${user}/`));
  }

  async function refused(p: PeerT, code: string, message: RegExp): Promise<void> {
    const e = await p.error();
    assert.equal(e.code, code, JSON.stringify(e));
    assert.match(String(e.message), message);
    assert.equal((await p.closedWith()).code, 4001);
  }

  test('frames before auth: unauthorized, then close 4001', async () => {
    await unaffected(t, by, async () => {
      for (const frame of [
        { t: 'ping', rid: 'p1' },
        { t: 'send', id: msgId(), to: `user:${victim.name}`, body: 'sneaky' },
        { t: 'history', rid: 'h1', conv: `dm:${by.a.name}:${by.b.name}` },
        { t: 'chats', rid: 'c1' },
      ]) {
        const p = await Peer.open(t);
        p.send(frame);
        const e = await p.error();
        assert.equal(e.code, 'unauthorized');
        assert.match(String(e.message), /auth must be the first frame/);
        if ('rid' in frame) assert.equal(e.rid, frame.rid);
        if ('id' in frame) assert.equal(e.id, frame.id);
        assert.equal((await p.closedWith()).code, 4001);
      }
      // A frame that is not even a frame, first: bad_request naming why, and the same close.
      for (const raw of ['{oops', '{"t":"nope"}', '{"t":"auth"}']) {
        const p = await Peer.open(t);
        p.raw(raw, false);
        assert.equal((await p.error()).code, 'bad_request');
        assert.equal((await p.closedWith()).code, 4001);
      }
    });
    await victim.peer.quiet((f) => f.t === 'msg', 100);
  });

  test('no auth in time: close 4002 after limits.authTimeoutMs', async () => {
    await unaffected(t, by, async () => {
      const started = Date.now();
      const silent = await Peer.open(t);
      const msgpack = await Peer.open(t, { protocol: 'msgpack' });
      assert.equal((await silent.closedWith(AUTH_TIMEOUT + 3000)).code, 4002);
      const waited = Date.now() - started;
      assert.ok(waited >= AUTH_TIMEOUT - 50, `closed after ${waited} ms, before the timeout`);
      assert.equal((await msgpack.closedWith(3000)).code, 4002);
      // An auth that comes once the time is up does not get in: the socket is gone.
      const late = await Peer.open(t);
      await sleep(AUTH_TIMEOUT + 200);
      assert.equal(late.closeCode, 4002);
    });
    // In time, the same user gets in.
    const p = await connect(t, victim.name, 'intime');
    await sleep(AUTH_TIMEOUT + 100);
    await p.alive();
    p.close();
  });

  test('bad, expired and wrongly signed tokens: unauthorized naming why, close 4001, nothing registered', async () => {
    const user = victim.name;
    const devicesBefore = await devicesOf(user);
    await unaffected(t, by, async () => {
      const cases: Array<[string, Promise<string> | string, RegExp]> = [
        ['garbage', 'not-a-jwt', /^token rejected/],
        ['three parts of garbage', 'aaa.bbb.ccc', /^token rejected/],
        ['expired', sign({ sub: user, dev: 'ghost1', exp: Math.floor(Date.now() / 1000) - 60 }), /^token expired$/],
        ['signed with another key', sign({ sub: user, dev: 'ghost2', exp: inAnHour() }, 'not-the-node-secret-0123456789abcdef'), /^token rejected \(ERR_JWS_SIGNATURE_VERIFICATION_FAILED\)/],
        ['unsigned (alg none)', new UnsecuredJWT({ dev: 'ghost3' }).setSubject(user).setExpirationTime(inAnHour()).encode(), /^token rejected/],
        ['without exp', sign({ sub: user, dev: 'ghost4' }), /^token rejected \(ERR_JWT_CLAIM_VALIDATION_FAILED\)/],
        ['without sub', sign({ dev: 'ghost5', exp: inAnHour() }), /^token rejected \(ERR_JWT_CLAIM_VALIDATION_FAILED\)/],
        ['sub breaking the user pattern', sign({ sub: 'Not A User', dev: 'ghost6', exp: inAnHour() }), /^token sub is not a valid user id$/],
        ['dev breaking the device pattern', sign({ sub: user, dev: 'bad device!', exp: inAnHour() }), /^token dev is not a valid device id$/],
        ['without dev', sign({ sub: user, exp: inAnHour() }), /^token dev is not a valid device id$/],
        ['a token cut short', login(t, user, 'ghost7').then((s) => s.slice(0, -3)), /^token rejected/],
      ];
      for (const [what, token, reason] of cases) {
        const p = await Peer.open(t);
        p.send({ t: 'auth', token: await token });
        await refused(p, 'unauthorized', reason).catch((e: Error) => {
          throw new Error(`${what}: ${e.message}`);
        });
      }
      // A refused auth followed by pipelined frames: none of them runs.
      const p = await Peer.open(t);
      const id = msgId();
      p.send({ t: 'auth', token: 'nope' });
      p.send({ t: 'send', id, to: `user:${sender.name}`, body: 'after a bad auth' });
      await refused(p, 'unauthorized', /^token rejected/);
    });
    assert.deepEqual(await devicesOf(user), devicesBefore, 'a refused token registered a device');
    await sender.peer.quiet((f) => f.t === 'msg', 100);
    await victim.peer.alive();
  });

  test('auth twice on one connection: bad_request, the connection stays open', async () => {
    const p = await connect(t, victim.name, 'twice');
    p.send({ t: 'auth', token: await login(t, sender.name, 'twice') });
    const e = await p.error();
    assert.equal(e.code, 'bad_request');
    assert.match(String(e.message), /^auth: already authenticated/);
    await p.alive();
    // Still the first user: a message to it arrives here.
    const id = msgId();
    sender.peer.send({ t: 'send', id, to: `user:${victim.name}`, body: 'to victim' });
    await p.next((f) => f.t === 'msg' && f.id === id);
    p.close();
  });

  test('the same device connecting twice: the older connection is closed with 4010', async () => {
    const u = await newUser(t, 'twin');
    const other = await connect(t, u.name, 'd2');
    await unaffected(t, by, async () => {
      const newer = await connect(t, u.name, 'd1');
      const closed = await u.peer.closedWith();
      assert.equal(closed.code, 4010);
      assert.match(closed.reason, /same device connected again/);
      // The newer connection and the user's other device work on.
      await newer.alive();
      await other.alive();
      const id = msgId();
      sender.peer.send({ t: 'send', id, to: `user:${u.name}`, body: 'to the newer one' });
      const m = await newer.next((f) => f.t === 'msg' && f.id === id);
      newer.send({ t: 'ack', inbox: m.inbox });
      await other.next((f) => f.t === 'msg' && f.id === id);
      // And again: the one in between is closed in turn.
      const newest = await connect(t, u.name, 'd1');
      assert.equal((await newer.closedWith()).code, 4010);
      await newest.alive();
      newest.close();
    });
    other.close();
  });
});

describe('the auth deadline', () => {
  test('is for the client’s frame: an auth that arrives in time is not cut off while it is checked', async () => {
    // Calls to the scheduler thread held back 600 ms: registering the device
    // ends well after the 300 ms deadline, the auth frame well before it.
    await withNode({ limits: { authTimeoutMs: 300 }, faults: true }, async (t) => {
      const user = uniqueUser('slowauth');
      await signup(t, user);
      const token = await login(t, user);
      t.node.runtime.faults.linkFaults({ delayMs: 600 });
      try {
        const p = await Peer.open(t);
        p.send({ t: 'auth', token });
        const ready = await p.next((f) => f.t === 'ready' || f.t === 'error', 5000, 'ready');
        assert.equal(ready.t, 'ready', JSON.stringify(ready));
        await p.alive();
        p.close();
      } finally {
        t.node.runtime.faults.linkFaults(null);
      }
    });
  });
});
