// Conformance: PROTOCOL.md "WebSocket" — endpoint, subprotocols, auth, ready,
// ping, unknown frames, and the close codes 4001, 4002 and 4010.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { Peer, SECRET, TestUser, dm, mid, sleep, startNode, type TestNode } from '../fixtures/chat-node.js';
import { decodePlain } from '../fixtures/chat-msgpack.js';

const AUTH_TIMEOUT_MS = 400;

let n: TestNode;
before(async () => {
  n = await startNode({ limits: { authTimeoutMs: AUTH_TIMEOUT_MS } });
});
after(async () => {
  await n?.stop();
});

test('subprotocol parley.v1.json: the node picks it and speaks JSON in text frames', async () => {
  const u = await TestUser.create(n, 'json');
  const p = await u.connect('phone', { codec: 'json' });
  try {
    assert.equal(p.ws.protocol, 'parley.v1.json');
    assert.ok(p.raw.length > 0);
    for (const r of p.raw) {
      assert.equal(r.binary, false, 'text frame');
      assert.equal(typeof JSON.parse(r.data.toString('utf8')).t, 'string');
    }
  } finally {
    await p.close();
  }
});

test('subprotocol parley.v1.msgpack: binary frames of plain MessagePack that a plain decoder reads', async () => {
  const [a, b] = await Promise.all([TestUser.create(n, 'mpa'), TestUser.create(n, 'mpb')]);
  const pa = await a.connect('phone', { codec: 'msgpack' });
  const pb = await b.connect('phone', { codec: 'msgpack' });
  try {
    assert.equal(pa.ws.protocol, 'parley.v1.msgpack');
    const body = { text: 'héllo', n: 42, big: 2 ** 40, neg: -7, f: 1.5, list: [1, 'two', null, true], nested: { x: {} } };
    const sent = await pa.sendMsg(`user:${b.user}`, body);
    assert.equal(sent.t, 'sent');
    const msg = await pb.next((f) => f.t === 'msg');
    assert.deepEqual(msg.body, body);
    // Every frame either peer got was binary and decodes with the strict decoder (no extension types).
    for (const r of [...pa.raw, ...pb.raw]) {
      assert.equal(r.binary, true, 'binary frame');
      assert.doesNotThrow(() => decodePlain(new Uint8Array(r.data)));
    }
    assert.ok(pb.frames.some((f) => f.t === 'ready'));
  } finally {
    await pa.close();
    await pb.close();
  }
});

test('no subprotocol means JSON', async () => {
  const u = await TestUser.create(n, 'noproto');
  const p = await u.connect('phone', { codec: 'none' });
  try {
    assert.equal(p.ws.protocol, '');
    assert.equal(p.ready?.t, 'ready');
    assert.equal(p.raw[0]?.binary, false);
  } finally {
    await p.close();
  }
});

test('auth: ready {user, device, inbox, now}; inbox is 0 for a new device, now is the node time in ms', async () => {
  const u = await TestUser.create(n, 'ready');
  const t0 = Date.now();
  const p = await u.connect('tablet-7');
  try {
    const r = p.ready!;
    assert.equal(r.t, 'ready');
    assert.equal(r.user, u.user);
    assert.equal(r.device, 'tablet-7');
    assert.equal(r.inbox, 0);
    assert.ok(Number.isInteger(r.now) && r.now >= t0 - 1000 && r.now <= Date.now() + 1000, `now ${r.now} is ms since the epoch`);
  } finally {
    await p.close();
  }
});

test('ready.inbox is the last inbox number this device acknowledged', async () => {
  const [a, b] = await Promise.all([TestUser.create(n, 'rdia'), TestUser.create(n, 'rdib')]);
  const pa = await a.connect();
  const pb = await b.connect();
  try {
    for (let i = 0; i < 3; i++) await pa.sendMsg(`user:${b.user}`, i);
    const msgs = await pb.take(3, (f) => f.t === 'msg');
    pb.ack(msgs[1]!.inbox);
    await pb.sync();
    await pb.close();
    const again = await b.connect();
    assert.equal(again.ready!.inbox, msgs[1]!.inbox);
    await again.close();
  } finally {
    await pa.close();
  }
});

test('auth must be the first frame: anything else gets error unauthorized and close 4001', async () => {
  const p = await Peer.open(n.ws);
  p.send({ t: 'ping', rid: 'early' });
  const e = await p.next((f) => f.t === 'error');
  assert.equal(e.code, 'unauthorized');
  assert.equal((await p.closed).code, 4001);
});

test('a send before auth is refused the same way (unauthorized, 4001)', async () => {
  const p = await Peer.open(n.ws);
  p.send({ t: 'send', id: mid(), to: 'user:someone', body: 'x' });
  assert.equal((await p.next((f) => f.t === 'error')).code, 'unauthorized');
  assert.equal((await p.closed).code, 4001);
});

test('auth with a bad token: error unauthorized and close 4001', async () => {
  const p = await Peer.open(n.ws);
  p.send({ t: 'auth', token: 'not.a.token' });
  assert.equal((await p.next((f) => f.t === 'error')).code, 'unauthorized');
  assert.equal((await p.closed).code, 4001);
});

test('auth with an expired token (JWT exp in seconds, in the past): unauthorized and close 4001', async () => {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ dev: 'phone' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('expired-user')
    .setIssuedAt(now - 3600)
    .setExpirationTime(now - 60)
    .sign(new TextEncoder().encode(SECRET));
  const p = await Peer.open(n.ws);
  p.send({ t: 'auth', token });
  assert.equal((await p.next((f) => f.t === 'error')).code, 'unauthorized');
  assert.equal((await p.closed).code, 4001);
});

test('a token whose exp is in seconds and in the future is accepted', async () => {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ dev: 'phone' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('seconds-user')
    .setExpirationTime(now + 120)
    .sign(new TextEncoder().encode(SECRET));
  const p = await Peer.connect(n.ws, token);
  assert.equal(p.ready!.user, 'seconds-user');
  await p.close();
});

test('no auth in time (limits.authTimeoutMs) → close 4002', async () => {
  const p = await Peer.open(n.ws);
  const t0 = Date.now();
  const c = await Promise.race([p.closed, sleep(AUTH_TIMEOUT_MS + 5000).then(() => null)]);
  assert.ok(c !== null, 'closed in time');
  assert.equal(c.code, 4002);
  assert.ok(Date.now() - t0 >= AUTH_TIMEOUT_MS - 50, 'not before the timeout');
});

test('frames pipelined right behind auth are handled after it, in order', async () => {
  const u = await TestUser.create(n, 'pipe');
  const p = await Peer.open(n.ws);
  try {
    p.send({ t: 'auth', token: await u.token('phone') });
    p.send({ t: 'ping', rid: 'p1' });
    p.send({ t: 'ping', rid: 'p2' });
    const ready = await p.next((f) => f.t === 'ready');
    const p1 = await p.next((f) => f.rid === 'p1');
    const p2 = await p.next((f) => f.rid === 'p2');
    const i = (f: object): number => p.frames.indexOf(f);
    assert.ok(i(ready) < i(p1) && i(p1) < i(p2));
  } finally {
    await p.close();
  }
});

test('ping {rid} → pong {rid}; ping without rid → pong', async () => {
  const u = await TestUser.create(n, 'ping');
  const p = await u.connect();
  try {
    p.send({ t: 'ping', rid: 'x-1' });
    assert.deepEqual(await p.next((f) => f.t === 'pong'), { t: 'pong', rid: 'x-1' });
    p.send({ t: 'ping' });
    const pong = await p.next((f) => f.t === 'pong');
    assert.equal(pong.rid, undefined);
  } finally {
    await p.close();
  }
});

test('an unknown t is bad_request (rid echoed) and the connection stays open', async () => {
  const u = await TestUser.create(n, 'unknown');
  const p = await u.connect();
  try {
    p.send({ t: 'no_such_frame', rid: 'u-1' });
    const e = await p.next((f) => f.t === 'error');
    assert.equal(e.code, 'bad_request');
    assert.equal(e.rid, 'u-1');
    assert.equal(typeof e.message, 'string');
    await p.sync();
    assert.equal(p.closeCode, null);
  } finally {
    await p.close();
  }
});

test('sending to oneself is bad_request (id echoed), and nothing is stored', async () => {
  const u = await TestUser.create(n, 'self');
  const p = await u.connect();
  try {
    const id = mid();
    const r = await p.sendMsg(`user:${u.user}`, 'me');
    assert.equal(r.t, 'error');
    assert.equal(r.code, 'bad_request');
    p.send({ t: 'send', id, to: `user:${u.user}`, body: 'me' });
    assert.equal((await p.next((f) => f.id === id)).code, 'bad_request');
    const chats = await p.request({ t: 'chats' });
    assert.deepEqual(chats.chats, []);
    await p.sync();
    assert.equal(p.closeCode, null);
  } finally {
    await p.close();
  }
});

test('a dm conversation with oneself is not a conversation: history of dm:<u>:<u> is bad_request', async () => {
  const u = await TestUser.create(n, 'selfdm');
  const p = await u.connect();
  try {
    const r = await p.request({ t: 'history', conv: `dm:${u.user}:${u.user}` });
    assert.equal(r.t, 'error');
    assert.equal(r.code, 'bad_request');
  } finally {
    await p.close();
  }
});

test('the same device connecting twice: the older connection is closed with 4010, the newer one works', async () => {
  const [a, b] = await Promise.all([TestUser.create(n, 'twice'), TestUser.create(n, 'twiceb')]);
  const first = await a.connect('phone');
  const second = await a.connect('phone');
  const pb = await b.connect('phone');
  try {
    const c = await Promise.race([first.closed, sleep(5000).then(() => null)]);
    assert.ok(c !== null, 'the first connection was closed');
    assert.equal(c.code, 4010);
    const sent = await pb.sendMsg(`user:${a.user}`, 'to the new one');
    assert.equal(sent.t, 'sent');
    const m = await second.next((f) => f.t === 'msg');
    assert.equal(m.conv, dm(a.user, b.user));
    assert.equal(second.closeCode, null);
  } finally {
    await second.close();
    await pb.close();
  }
});

test('another device of the same user connecting does not close the first', async () => {
  const a = await TestUser.create(n, 'twodev');
  const phone = await a.connect('phone');
  const laptop = await a.connect('laptop');
  try {
    await phone.sync();
    await sleep(100);
    assert.equal(phone.closeCode, null);
    assert.equal(laptop.closeCode, null);
  } finally {
    await phone.close();
    await laptop.close();
  }
});

test('the endpoint is /v1/ws: another path is refused', async () => {
  await assert.rejects(Peer.open(n.url.replace(/^http/, 'ws') + '/v2/ws'));
});
