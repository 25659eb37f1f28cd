// Conformance: PROTOCOL.md "Limits", "Sizes", "Rate limit", the close codes
// 1009 and 4008, operator tokens, and the defaults of "Starting a node".
// The node runs with small limits so each edge is cheap to reach; the
// defaults themselves are checked against the resolved configuration.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { DEFAULT_LIMITS, resolveConfig } from '../../src/server/config.js';
import { Peer, TestUser, mid, sleep, startNode, type TestNode } from '../fixtures/chat-node.js';

const FRAME = 4096;
const BODY = 1000;
const BURST = 5;
const ABUSE_MS = 300;

const operator = generateKeyPairSync('ec', { namedCurve: 'P-256' });

let n: TestNode;
before(async () => {
  n = await startNode({
    workers: 1,
    limits: { frameBytes: FRAME, bodyBytes: BODY, sendBurst: BURST, sendRate: 1, rateAbuseMs: ABUSE_MS },
    operator: { publicKey: operator.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
  });
});
after(async () => {
  await n?.stop();
});

/** A JSON string value whose encoding is exactly `bytes` long (two bytes are the quotes). */
const bodyOf = (bytes: number): string => 'x'.repeat(bytes - 2);

test('the defaults: frame 128 KiB, body 64 KiB, 50 sends/s with bursts of 200, groups of 1024, history 100 (50 by default), window 256, 30 days, auth within 10 s', () => {
  assert.equal(DEFAULT_LIMITS.frameBytes, 128 * 1024);
  assert.equal(DEFAULT_LIMITS.bodyBytes, 64 * 1024);
  assert.equal(DEFAULT_LIMITS.sendRate, 50);
  assert.equal(DEFAULT_LIMITS.sendBurst, 200);
  assert.equal(DEFAULT_LIMITS.rateAbuseMs, 10_000);
  assert.equal(DEFAULT_LIMITS.groupMembers, 1024);
  assert.equal(DEFAULT_LIMITS.historyLimit, 100);
  assert.equal(DEFAULT_LIMITS.historyDefault, 50);
  assert.equal(DEFAULT_LIMITS.window, 256);
  assert.equal(DEFAULT_LIMITS.retentionMs, 30 * 24 * 3600 * 1000);
  assert.equal(DEFAULT_LIMITS.authTimeoutMs, 10_000);
  assert.equal(DEFAULT_LIMITS.mediaBytes, 64 * 1024 * 1024);
});

test('Starting a node: host 127.0.0.1, port 8080 and data ./data by default', () => {
  const c = resolveConfig({});
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 8080);
  assert.equal(c.data, './data');
});

test('Sizes: a body is measured encoded — exactly limits.bodyBytes is accepted, one byte more is too_large and nothing is sent', async () => {
  const [a, b] = await Promise.all([TestUser.create(n, 'sza'), TestUser.create(n, 'szb')]);
  try {
    const pa = await a.connect();
    const pb = await b.connect();
    const ok = await pa.sendMsg(`user:${b.user}`, bodyOf(BODY));
    assert.equal(ok.t, 'sent', JSON.stringify(ok).slice(0, 200));
    const id = mid();
    const big = await pa.sendMsg(`user:${b.user}`, bodyOf(BODY + 1), id);
    assert.equal(big.t, 'error');
    assert.equal(big.code, 'too_large');
    assert.equal(big.id, id);
    assert.match(big.message, /body/);
    // Multi-byte characters count as their encoded bytes.
    const wide = await pa.sendMsg(`user:${b.user}`, '\u00e9'.repeat(BODY / 2)); // 2 bytes each, plus the quotes
    assert.equal(wide.code, 'too_large');
    await pb.next((f) => f.t === 'msg' && f.id === ok.id);
    await pb.sync();
    assert.equal(pb.all((f) => f.t === 'msg').length, 1, 'only the one that fit');
    assert.equal(pa.closeCode, null, 'the connection stays open');
  } finally {
    await Promise.all([a.closeAll(), b.closeAll()]);
  }
});

test('Sizes: on parley.v1.msgpack the body is measured as MessagePack', async () => {
  const [a, b] = await Promise.all([TestUser.create(n, 'mza'), TestUser.create(n, 'mzb')]);
  try {
    await n.node.declareUsers([b.user]); // a recipient must exist (PROTOCOL.md "Recipients")
    const pa = await a.connect('phone', { codec: 'msgpack' });
    // A string of 256 to 65535 bytes is encoded with a 3-byte header (str 16).
    const fits = await pa.sendMsg(`user:${b.user}`, 'x'.repeat(BODY - 3));
    assert.equal(fits.t, 'sent');
    const over = await pa.sendMsg(`user:${b.user}`, 'x'.repeat(BODY - 2));
    assert.equal(over.code, 'too_large');
  } finally {
    await Promise.all([a.closeAll(), b.closeAll()]);
  }
});

test('a frame over limits.frameBytes closes the connection with 1009; the node stays up', async () => {
  const [a, b] = await Promise.all([TestUser.create(n, 'fra'), TestUser.create(n, 'frb')]);
  try {
    const pa = await a.connect();
    pa.send({ t: 'send', id: mid(), to: `user:${b.user}`, body: bodyOf(FRAME + 10) });
    const c = await Promise.race([pa.closed, sleep(5000).then(() => null)]);
    assert.ok(c !== null, 'closed');
    assert.equal(c.code, 1009);
    const again = await a.connect('phone');
    await again.sync();
  } finally {
    await Promise.all([a.closeAll(), b.closeAll()]);
  }
});

test('Rate limit: past the bucket a send is rate_limited (with its id); the refused id sent again later is accepted once', async () => {
  const [a, b] = await Promise.all([TestUser.create(n, 'rla'), TestUser.create(n, 'rlb')]);
  try {
    const pa = await a.connect();
    const pb = await b.connect('phone', { autoAck: true });
    const ids = Array.from({ length: BURST + 3 }, () => mid());
    for (const id of ids) pa.send({ t: 'send', id, to: `user:${b.user}`, body: id });
    const answers = await Promise.all(ids.map((id) => pa.next((f) => f.id === id && (f.t === 'sent' || f.t === 'error'))));
    const refused = answers.filter((x) => x.t === 'error');
    assert.ok(refused.length >= 2, `refused ${refused.length}`);
    for (const e of refused) assert.equal(e.code, 'rate_limited');
    assert.equal(answers.slice(0, BURST).every((x) => x.t === 'sent'), true, 'the burst goes through');
    await sleep(1100); // one token back
    const retry = refused[0]!.id as string;
    const s = await pa.sendMsg(`user:${b.user}`, retry, retry);
    assert.equal(s.t, 'sent');
    await pb.next((f) => f.t === 'msg' && f.id === retry);
    await sleep(100);
    assert.equal(pb.all((f) => f.t === 'msg' && f.id === retry).length, 1, 'accepted once');
    assert.equal(pa.closeCode, null);
  } finally {
    await Promise.all([a.closeAll(), b.closeAll()]);
  }
});

test('close 4008 only after limits.rateAbuseMs of sends refused without pause', async () => {
  const [a, b] = await Promise.all([TestUser.create(n, 'aba'), TestUser.create(n, 'abb')]);
  try {
    const pa = await a.connect();
    let firstRefusal = 0;
    const stop = Date.now() + 5000;
    while (pa.closeCode === null && Date.now() < stop) {
      pa.send({ t: 'send', id: mid(), to: `user:${b.user}`, body: 'flood' });
      if (firstRefusal === 0 && pa.all((f) => f.code === 'rate_limited').length > 0) firstRefusal = Date.now();
      await sleep(10);
    }
    const c = await Promise.race([pa.closed, sleep(1000).then(() => null)]);
    assert.ok(c !== null, 'closed');
    assert.equal(c.code, 4008);
    assert.ok(firstRefusal > 0);
    const closedAfter = Date.now() - firstRefusal;
    assert.ok(closedAfter >= ABUSE_MS - 50, `not before rateAbuseMs (${closedAfter} ms after the first refusal)`);
  } finally {
    await Promise.all([a.closeAll(), b.closeAll()]);
  }
});

test('tokens signed by the operator\u2019s key are accepted; tokens signed by another key are not', async () => {
  const now = Math.floor(Date.now() / 1000);
  const sign = (key: Parameters<SignJWT['sign']>[0]) =>
    new SignJWT({ dev: 'web' }).setProtectedHeader({ alg: 'ES256' }).setSubject('operator-user').setIssuedAt(now).setExpirationTime(now + 300).sign(key);
  const p = await Peer.connect(n.ws, await sign(operator.privateKey));
  try {
    assert.equal(p.ready!.user, 'operator-user');
    assert.equal(p.ready!.device, 'web');
  } finally {
    await p.close();
  }
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const q = await Peer.open(n.ws);
  q.send({ t: 'auth', token: await sign(stranger.privateKey) });
  assert.equal((await q.next((f) => f.t === 'error')).code, 'unauthorized');
  assert.equal((await q.closed).code, 4001);
});
