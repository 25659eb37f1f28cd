import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ParleyClient, ParleyClientError, type ParleyClientOptions, type MsgFrame, type CloseInfo } from '../../src/client/index.js';
import { checkFrame } from '../../src/protocol/client-frames.js';
import { FakeServer, msgFrame, rejectsWith, sleep, until, type FakeConn, type Frame } from './fake-server.js';

const T = { timeout: 5_000 };

/** A fake server and a client on it; both closed when the test ends. */
async function setup(t: TestContext, options: Partial<ParleyClientOptions> = {}) {
  const server = await FakeServer.start();
  const client = new ParleyClient({ url: server.url, token: 'tok', reconnect: { minMs: 10, maxMs: 40 }, ...options });
  t.after(async () => {
    await client.close();
    await server.close();
  });
  return { server, client };
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

// ---------------------------------------------------------------------------
// Connect and auth

test('connect sends auth as the first frame and resolves with ready', T, async (t) => {
  const { server, client } = await setup(t);
  server.acked = 41;
  const ready = await client.connect();
  assert.deepEqual(server.frames[0], { t: 'auth', token: 'tok' });
  assert.equal(ready.user, 'alice');
  assert.equal(ready.inbox, 41);
  assert.equal(client.state, 'open');
  assert.equal(client.session, ready);
  assert.equal(server.conns[0]?.protocol, 'parley.v1.json');
});

test('a token function is called before every connect', T, async (t) => {
  let calls = 0;
  const { server, client } = await setup(t, { token: async () => `tok${++calls}` });
  await client.connect();
  server.conns[0]?.close(1011, 'restart');
  await server.waitFor((f) => f.t === 'auth' && f.token === 'tok2');
  assert.equal(calls, 2);
});

test('a refused token rejects connect with unauthorized, ends the client with close 4001, and never reconnects', T, async (t) => {
  const { server, client } = await setup(t, { token: 'bad' });
  const closes: CloseInfo[] = [];
  client.on('close', (c) => void closes.push(c));
  const pending = rejectsWith(client.send('user:bob', 'hi'), 'unauthorized');
  await rejectsWith(client.connect(), 'unauthorized');
  await pending;
  assert.equal(client.state, 'closed');
  assert.equal(closes[0]?.code, 4001);
  await sleep(100);
  assert.equal(server.conns.length, 1, 'no second connection');
});

test('close 4010 (the same device connected elsewhere) ends the client without reconnecting', T, async (t) => {
  const { server, client } = await setup(t);
  server.handle('send', () => {}); // never answered
  await client.connect();
  const closed = new Promise<CloseInfo>((r) => client.on('close', r));
  const pending = rejectsWith(client.send('user:bob', 'hi'), 'closed');
  await server.waitForType('send');
  server.conns[0]?.close(4010, 'replaced');
  assert.equal((await closed).code, 4010);
  const err = await pending;
  assert.equal(err.closeCode, 4010);
  await sleep(100);
  assert.equal(server.conns.length, 1, 'no second connection');
});

test('a first connect that cannot reach the node rejects with connect_failed and leaves the client idle', T, async (t) => {
  const server = await FakeServer.start();
  const url = server.url;
  await server.close();
  const client = new ParleyClient({ url, token: 'tok' });
  t.after(() => client.close());
  await rejectsWith(client.connect(), 'connect_failed');
  assert.equal(client.state, 'idle');
});

test('connect rejects with timeout when no ready comes within requestTimeoutMs', T, async (t) => {
  const { server, client } = await setup(t, { requestTimeoutMs: 100 });
  server.handle('auth', () => {});
  await rejectsWith(client.connect(), 'timeout');
});

test('options are checked in the constructor, each failure naming its option', () => {
  const bad: Array<[Partial<ParleyClientOptions>, RegExp]> = [
    [{ url: 'http://x/v1/ws' }, /option url/],
    [{ token: '' }, /option token/],
    [{ codec: 'xml' as 'json' }, /option codec/],
    [{ reconnect: { minMs: 0 } }, /option reconnect.minMs/],
    [{ reconnect: { minMs: 100, maxMs: 10 } }, /option reconnect/],
    [{ requestTimeoutMs: -1 }, /option requestTimeoutMs/],
    [{ autoAck: 'yes' as unknown as boolean }, /option autoAck/],
  ];
  for (const [opts, message] of bad) {
    assert.throws(() => new ParleyClient({ url: 'ws://127.0.0.1:1/v1/ws', token: 't', ...opts }),
      (e: unknown) => e instanceof ParleyClientError && e.code === 'invalid_option' && message.test(e.message));
  }
});

// ---------------------------------------------------------------------------
// Sends

test('send resolves with sent; the default id is a nanoid that fits the protocol pattern', T, async (t) => {
  const { server, client } = await setup(t);
  await client.connect();
  const r = await client.send('user:bob', { text: 'hi' }, { type: 'text' });
  const frame = server.framesOf('send')[0];
  assert.deepEqual(frame, { t: 'send', id: r.id, to: 'user:bob', body: { text: 'hi' }, type: 'text' });
  assert.match(r.id, /^[A-Za-z0-9_-]{8,64}$/);
  assert.deepEqual(r, { id: r.id, conv: 'dm:alice:bob', seq: 1, ts: 1_700_000_000_001 });
  assert.equal(client.pendingSends, 0);
});

test('pipelined sends are written in call order and each is resolved by its own id', T, async (t) => {
  const { server, client } = await setup(t);
  const held: Array<{ id: string; conn: FakeConn }> = [];
  server.handle('send', (f, conn) => void held.push({ id: f.id, conn }));
  await client.connect();
  const ids = ['m-000001', 'm-000002', 'm-000003', 'm-000004'];
  const results = ids.map((id) => client.send('user:bob', id, { id }));
  await until(() => held.length === 4);
  assert.deepEqual(held.map((h) => h.id), ids);
  for (const [i, h] of [...held].reverse().entries()) h.conn.send({ t: 'sent', id: h.id, conv: 'dm:alice:bob', seq: 4 - i, ts: 1 });
  assert.deepEqual((await Promise.all(results)).map((r) => [r.id, r.seq]), ids.map((id, i) => [id, i + 1]));
});

test('a send with the id of a pending send returns the same promise and writes nothing more', T, async (t) => {
  const { server, client } = await setup(t);
  await client.connect();
  const a = client.send('user:bob', 'x', { id: 'same-id-1' });
  const b = client.send('user:bob', 'x', { id: 'same-id-1' });
  assert.equal(a, b);
  await a;
  assert.equal(server.framesOf('send').length, 1);
});

test('a send id or target that breaks the protocol rules is refused with invalid_argument', T, async (t) => {
  const { server, client } = await setup(t);
  await client.connect();
  await rejectsWith(client.send('user:bob', 'x', { id: 'short' }), 'invalid_argument');
  await rejectsWith(client.send('user:bob', 'x', { id: 'has space 123' }), 'invalid_argument');
  await rejectsWith(client.send('bob' as 'user:bob', 'x'), 'invalid_argument');
  assert.equal(server.framesOf('send').length, 0);
});

test('sendPayloads sends one entry per device, and a conflict rejects with missing and extra', T, async (t) => {
  const { server, client } = await setup(t);
  server.handle('send', (f, conn) => conn.send({ t: 'error', code: 'conflict', message: 'devices differ', id: f.id, missing: ['bob/d2'], extra: ['bob/old'] }));
  await client.connect();
  const err = await rejectsWith(client.sendPayloads('user:bob', { 'bob/d1': 'c1', 'bob/old': 'c2' }, { id: 'e2e-00001' }), 'conflict');
  assert.deepEqual(server.framesOf('send')[0]?.payloads, { 'bob/d1': 'c1', 'bob/old': 'c2' });
  assert.equal(server.framesOf('send')[0]?.body, undefined);
  assert.equal(err.id, 'e2e-00001');
  assert.deepEqual(err.frame?.missing, ['bob/d2']);
  assert.deepEqual(err.frame?.extra, ['bob/old']);
});

test('sends unanswered when the server drops the connection are written again after reconnect: same ids, same order, resolved once', T, async (t) => {
  const { server, client } = await setup(t);
  let dropped = false;
  server.handle('send', (f, conn) => {
    if (conn.index > 0) return server.defaultHandle(f, conn);
    if (server.framesOf('send').length === 3 && !dropped) {
      dropped = true;
      conn.ws.terminate();
    }
  });
  const reconnects: number[] = [];
  client.on('reconnect', (r) => void reconnects.push(r.attempt));
  await client.connect();
  const ids = ['resend-01', 'resend-02', 'resend-03'];
  const results = Promise.all(ids.map((id) => client.send('user:bob', id, { id })));
  const later = client.send('user:bob', 'while offline', { id: 'resend-04' });
  const conn2 = await server.connection(1);
  const all = await results;
  await later;
  assert.deepEqual(conn2.frames.map((f) => f.t), ['auth', 'send', 'send', 'send', 'send']);
  assert.deepEqual(conn2.frames.filter((f) => f.t === 'send').map((f) => f.id), [...ids, 'resend-04']);
  assert.deepEqual(all.map((r) => r.seq), [1, 2, 3]);
  assert.deepEqual(reconnects, [1]);
  assert.equal(client.pendingSends, 0);
});

test('a send refused with rate_limited is written again later with the same id, before sends made meanwhile', T, async (t) => {
  const { server, client } = await setup(t, { rateLimitRetry: { minMs: 200, maxMs: 200 } });
  let refused = 0;
  server.handle('send', (f, conn) => {
    if (f.id === 'limited-1' && refused++ === 0) conn.send({ t: 'error', code: 'rate_limited', message: 'slow down', id: f.id });
    else server.defaultHandle(f, conn);
  });
  await client.connect();
  const started = Date.now();
  const first = client.send('user:bob', 'a', { id: 'limited-1' });
  await until(() => refused === 1);
  await sleep(40); // the refusal has reached the client; the retry waits 100-200 ms
  const second = client.send('user:bob', 'b', { id: 'limited-2' });
  assert.equal((await first).id, 'limited-1');
  await second;
  assert.ok(Date.now() - started >= 100, 'retried after a backoff');
  assert.deepEqual(server.framesOf('send').map((f) => f.id), ['limited-1', 'limited-1', 'limited-2']);
});

test('a send over maxFrameBytes is refused locally with too_large (the server would close 1009)', T, async (t) => {
  const { server, client } = await setup(t, { maxFrameBytes: 1_000 });
  await client.connect();
  await rejectsWith(client.send('user:bob', 'é'.repeat(600)), 'too_large');
  await client.send('user:bob', 'é'.repeat(300));
  assert.equal(server.framesOf('send').length, 1);
});

// ---------------------------------------------------------------------------
// Inbox: delivery at most once, acks after the handler

test('an inbox frame is acknowledged only after its async handler has resolved', T, async (t) => {
  const { server, client } = await setup(t);
  const gate = deferred();
  let finished = false;
  client.on('msg', async () => {
    await gate.promise;
    finished = true;
  });
  await client.connect();
  server.conns[0]?.send(msgFrame(1));
  await sleep(60);
  assert.equal(server.framesOf('ack').length, 0, 'no ack while the handler runs');
  const ack = server.waitForType('ack');
  gate.resolve();
  assert.deepEqual((await ack).frame, { t: 'ack', inbox: 1 });
  assert.ok(finished);
});

test('a burst of inbox frames is acknowledged once, cumulatively', T, async (t) => {
  const { server, client } = await setup(t);
  const seen: number[] = [];
  client.on('msg', (m) => void seen.push(m.inbox));
  client.on('receipt', (r) => void seen.push(r.inbox));
  await client.connect();
  const burst = [...Array.from({ length: 19 }, (_, i) => msgFrame(i + 1)),
    { t: 'receipt', inbox: 20, conv: 'dm:alice:bob', by: 'bob', status: 'read', upTo: 3 }];
  server.conns[0]?.sendBurst(burst);
  await until(() => server.acked === 20);
  await sleep(30);
  assert.deepEqual(server.framesOf('ack'), [{ t: 'ack', inbox: 20 }]);
  assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i + 1));
});

test('inbox frames reach handlers one at a time, in inbox order, even with async handlers', T, async (t) => {
  const { server, client } = await setup(t);
  const log: string[] = [];
  client.on('msg', async (m) => {
    log.push(`start ${m.inbox}`);
    await sleep(m.inbox === 1 ? 30 : 1);
    log.push(`end ${m.inbox}`);
  });
  client.on('read_sync', (r) => void log.push(`read_sync ${r.inbox}`));
  await client.connect();
  server.conns[0]?.sendBurst([msgFrame(1), msgFrame(2), { t: 'read_sync', inbox: 3, conv: 'dm:alice:bob', upTo: 2 }]);
  await until(() => server.acked === 3);
  assert.deepEqual(log, ['start 1', 'end 1', 'start 2', 'end 2', 'read_sync 3']);
});

test('a frame whose inbox was already seen is not delivered again', T, async (t) => {
  const { server, client } = await setup(t);
  const seen: number[] = [];
  client.on('msg', (m) => void seen.push(m.inbox));
  await client.connect();
  server.conns[0]?.sendBurst([msgFrame(1), msgFrame(2), msgFrame(2), msgFrame(1), msgFrame(3)]);
  await until(() => server.acked === 3);
  assert.deepEqual(seen, [1, 2, 3]);
});

test('inbox frames at or below ready.inbox are dropped as already acknowledged', T, async (t) => {
  const { server, client } = await setup(t);
  server.acked = 5;
  const seen: number[] = [];
  client.on('msg', (m) => void seen.push(m.inbox));
  await client.connect();
  server.conns[0]?.sendBurst([msgFrame(5), msgFrame(6)]);
  await until(() => server.acked === 6);
  assert.deepEqual(seen, [6]);
});

test('with autoAck false nothing is acknowledged until ack(n)', T, async (t) => {
  const { server, client } = await setup(t, { autoAck: false });
  const seen: MsgFrame[] = [];
  client.on('msg', (m) => void seen.push(m));
  await client.connect();
  server.conns[0]?.sendBurst([msgFrame(1), msgFrame(2)]);
  await until(() => seen.length === 2);
  await sleep(30);
  assert.equal(server.framesOf('ack').length, 0);
  client.ack(9); // more than the server sent: held back to 2
  assert.deepEqual((await server.waitForType('ack')).frame, { t: 'ack', inbox: 2 });
});

test('a handler that throws is reported as handler_failed and its entry is still acknowledged', T, async (t) => {
  const { server, client } = await setup(t);
  const errors: ParleyClientError[] = [];
  client.on('error', (e) => void errors.push(e));
  client.on('msg', () => {
    throw new Error('boom');
  });
  await client.connect();
  server.conns[0]?.send(msgFrame(1));
  await until(() => server.acked === 1);
  assert.equal(errors[0]?.code, 'handler_failed');
  assert.equal((errors[0]?.cause as Error).message, 'boom');
});

test('after a reconnect, entries the server resends are acknowledged without being delivered again', T, async (t) => {
  const { server, client } = await setup(t);
  const gate = deferred();
  const seen: number[] = [];
  client.on('msg', async (m) => {
    seen.push(m.inbox);
    if (m.inbox === 1) await gate.promise;
  });
  await client.connect();
  server.conns[0]?.send(msgFrame(1));
  await until(() => seen.length === 1);
  server.conns[0]?.ws.terminate(); // the ack of 1 never left
  const conn2 = await server.connection(1);
  await server.waitFor((f, c) => f.t === 'auth' && c === conn2);
  await sleep(20); // ready (inbox 0) has reached the client
  conn2.sendBurst([msgFrame(1), msgFrame(2)]); // the resume: everything after the last ack
  gate.resolve();
  await until(() => server.acked === 2);
  assert.deepEqual(seen, [1, 2]);
  assert.deepEqual(conn2.frames.filter((f) => f.t === 'ack'), [{ t: 'ack', inbox: 2 }]);
});

test('presence and typing events reach their handlers', T, async (t) => {
  const { server, client } = await setup(t);
  const got: string[] = [];
  client.on('presence', (p) => void got.push(`${p.user} ${p.online} ${p.lastSeen}`));
  client.on('typing', (e) => void got.push(`${e.user} typing ${e.on}`));
  await client.connect();
  server.conns[0]?.sendBurst([{ t: 'presence', user: 'bob', online: false, lastSeen: null }, { t: 'typing', conv: 'dm:alice:bob', user: 'bob', on: true }]);
  await until(() => got.length === 2);
  assert.deepEqual(got, ['bob false null', 'bob typing true']);
  assert.equal(server.framesOf('ack').length, 0, 'frames without inbox are not acknowledged');
});

// ---------------------------------------------------------------------------
// Requests with rid

test('a request resolves with the answer that carries its rid', T, async (t) => {
  const { server, client } = await setup(t);
  const group = { id: 'g1', name: 'team', members: ['alice', 'bob'], admins: ['alice'], createdAt: 1 };
  server.handle('group_create', (f, conn) => conn.send({ t: 'group', rid: f.rid, group: { ...group, name: f.name } }));
  server.handle('chats', (f, conn) => conn.send({ t: 'chats', rid: f.rid, chats: [{ conv: 'g:g1', lastSeq: 3, lastTs: 9, unread: 1 }] }));
  server.handle('history', (f, conn) => conn.send({ t: 'history', rid: f.rid, conv: f.conv, messages: [], more: false }));
  await client.connect();
  const [created, chats, history, rtt] = await Promise.all([
    client.groupCreate('team', ['bob']),
    client.chats(),
    client.history('g:g1', { before: 10, limit: 20 }),
    client.ping(),
  ]);
  assert.deepEqual(created, group);
  assert.deepEqual(chats, [{ conv: 'g:g1', lastSeq: 3, lastTs: 9, unread: 1 }]);
  assert.equal(history.more, false);
  assert.ok(rtt >= 0);
  const rids = server.frames.filter((f) => 'rid' in f).map((f) => f.rid as string);
  assert.equal(new Set(rids).size, 4, 'every request has its own rid');
  assert.ok(rids.every((r) => r.length <= 64));
  assert.deepEqual(server.framesOf('history')[0], { t: 'history', conv: 'g:g1', before: 10, limit: 20, rid: server.framesOf('history')[0]?.rid });
});

test('an error with a request\'s rid rejects that request with the error\'s code', T, async (t) => {
  const { server, client } = await setup(t);
  server.handle('group_add', (f, conn) => conn.send({ t: 'error', code: 'forbidden', message: 'admins only', rid: f.rid }));
  server.handle('keys_get', (f, conn) => conn.send({ t: 'error', code: 'not_found', message: 'no such user', rid: f.rid }));
  await client.connect();
  const e1 = await rejectsWith(client.groupAdd('g1', ['carol']), 'forbidden');
  assert.equal(e1.message, 'admins only');
  assert.equal(e1.frame?.rid, server.framesOf('group_add')[0]?.rid);
  await rejectsWith(client.keysGet('nobody'), 'not_found');
});

test('a request without an answer rejects with timeout after requestTimeoutMs, and a late answer is ignored', T, async (t) => {
  const { server, client } = await setup(t, { requestTimeoutMs: 80 });
  let late: FakeConn | undefined;
  server.handle('group_info', (_f, conn) => void (late = conn));
  await client.connect();
  const started = Date.now();
  await rejectsWith(client.groupInfo('g1'), 'timeout');
  assert.ok(Date.now() - started >= 70);
  late?.send({ t: 'group', rid: server.framesOf('group_info')[0]?.rid, group: {} });
  assert.ok((await client.ping()) >= 0, 'the client carries on');
});

test('an answer of the wrong type for a rid rejects with bad_frame', T, async (t) => {
  const { server, client } = await setup(t);
  server.handle('group_info', (f, conn) => conn.send({ t: 'ok', rid: f.rid }));
  await client.connect();
  await rejectsWith(client.groupInfo('g1'), 'bad_frame');
});

test('a request in flight when the connection drops rejects with disconnected and is not repeated', T, async (t) => {
  const { server, client } = await setup(t);
  server.handle('keys_get', (_f, conn) => conn.ws.terminate());
  await client.connect();
  await rejectsWith(client.keysGet('bob'), 'disconnected');
  await server.connection(1);
  await client.ping();
  assert.equal(server.framesOf('keys_get').length, 1);
});

test('requests and reads made while reconnecting are written after the next ready', T, async (t) => {
  const { server, client } = await setup(t, { reconnect: { minMs: 80, maxMs: 80 } });
  server.handle('chats', (f, conn) => conn.send({ t: 'chats', rid: f.rid, chats: [] }));
  await client.connect();
  const dropped = new Promise((r) => client.on('reconnect', r));
  server.conns[0]?.ws.terminate();
  await dropped;
  client.read('dm:alice:bob', 3);
  client.read('dm:alice:bob', 5);
  client.typing('dm:alice:bob', true); // ephemeral: dropped
  assert.deepEqual(await client.chats(), []);
  const conn2 = await server.connection(1);
  assert.deepEqual(conn2.frames.map((f) => f.t), ['auth', 'read', 'chats']);
  assert.deepEqual(conn2.frames[1], { t: 'read', conv: 'dm:alice:bob', seq: 5 });
});

test('presence subscriptions are renewed after a reconnect', T, async (t) => {
  const { server, client } = await setup(t);
  server.handle('presence_sub', (f, conn) => conn.send({ t: 'ok', rid: f.rid }));
  await client.connect();
  await client.presenceSub(['bob', 'carol']);
  await client.presenceSub(['dave']);
  server.conns[0]?.ws.terminate();
  const { frame } = await server.waitFor((f, c) => f.t === 'presence_sub' && c.index === 1);
  assert.deepEqual(frame.users, ['bob', 'carol', 'dave']);
});

test('an error frame that answers nothing pending is emitted on error', T, async (t) => {
  const { server, client } = await setup(t);
  await client.connect();
  const got = new Promise<ParleyClientError>((r) => client.on('error', r));
  client.read('dm:alice:zed', 1);
  await server.waitForType('read');
  server.conns[0]?.send({ t: 'error', code: 'forbidden', message: 'not a member' });
  const e = await got;
  assert.equal(e.code, 'forbidden');
});

test('a frame that does not decode is reported as bad_frame and the connection stays open', T, async (t) => {
  const { server, client } = await setup(t);
  await client.connect();
  const got = new Promise<ParleyClientError>((r) => client.on('error', r));
  server.conns[0]?.ws.send('{not json');
  assert.equal((await got).code, 'bad_frame');
  assert.ok((await client.ping()) >= 0);
});

// ---------------------------------------------------------------------------
// Reconnect and close

test('the client gives up after reconnect.maxAttempts failed attempts and emits close', T, async (t) => {
  const { server, client } = await setup(t, { reconnect: { minMs: 10, maxMs: 20, maxAttempts: 2 } });
  server.handle('send', () => {});
  await client.connect();
  const pending = rejectsWith(client.send('user:bob', 'x'), 'closed');
  const attempts: number[] = [];
  client.on('reconnect', (r) => void attempts.push(r.attempt));
  const closed = new Promise<CloseInfo>((r) => client.on('close', r));
  await server.waitForType('send');
  await server.close(); // the node is gone: every attempt is refused
  await closed;
  assert.deepEqual(attempts, [1, 2]);
  await pending;
  assert.equal(client.state, 'closed');
});

test('a node that closes every connection right after ready does not reset the backoff: attempts keep counting', T, async (t) => {
  const { server, client } = await setup(t, { reconnect: { minMs: 5, maxMs: 20, maxAttempts: 3 } });
  server.handle('auth', (_f, conn) => {
    conn.send({ t: 'ready', user: 'alice', device: 'phone', inbox: 0, now: Date.now() });
    setTimeout(() => conn.close(1011, 'crash'), 5);
  });
  const attempts: number[] = [];
  client.on('reconnect', (r) => void attempts.push(r.attempt));
  const closed = new Promise<CloseInfo>((r) => client.on('close', r));
  await client.connect();
  assert.deepEqual(await closed, { code: 1011, reason: 'crash' });
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.equal(server.conns.length, 4);
});

test('a connection silent for heartbeatMs gets a ping, and one that does not answer is dropped and reconnected', T, async (t) => {
  const { server, client } = await setup(t, { heartbeatMs: 60, requestTimeoutMs: 150 });
  server.handle('ping', (f, conn) => {
    if (conn.index > 0) conn.send({ t: 'pong', rid: f.rid }); // the first connection is dead
  });
  const reconnects: string[] = [];
  client.on('reconnect', (r) => void reconnects.push(r.reason));
  await client.connect();
  await server.connection(1, 1_000);
  assert.deepEqual(reconnects, ['no pong in time']);
  await server.waitFor((f, c) => f.t === 'ping' && c.index === 1, 1_000); // answered: no further reconnect
  await sleep(150);
  assert.equal(server.conns.length, 2);
});

test('reconnect off: a drop ends the client', T, async (t) => {
  const { server, client } = await setup(t, { reconnect: false });
  await client.connect();
  const closed = new Promise<CloseInfo>((r) => client.on('close', r));
  server.conns[0]?.close(1001, 'going away');
  assert.deepEqual(await closed, { code: 1001, reason: 'going away' });
  await sleep(50);
  assert.equal(server.conns.length, 1);
});

test('close() rejects pending sends and requests with closed and does not reconnect', T, async (t) => {
  const { server, client } = await setup(t);
  server.handle('send', () => {});
  server.handle('chats', () => {});
  await client.connect();
  const s = rejectsWith(client.send('user:bob', 'x', { id: 'closing-1' }), 'closed');
  const r = rejectsWith(client.chats(), 'closed');
  await server.waitForType('chats');
  await client.close();
  assert.equal((await s).id, 'closing-1');
  await r;
  await rejectsWith(client.send('user:bob', 'y'), 'closed');
  await rejectsWith(client.connect(), 'closed');
  await until(() => server.conns[0]?.ws.readyState === 3, 1_000, 'the server side closed');
  await sleep(50);
  assert.equal(server.conns.length, 1);
});

// ---------------------------------------------------------------------------
// Settings and devices

/** Whether the server's own schema (src/protocol) accepts a frame as the client wrote it, unchanged. */
function acceptedAsWritten(frame: Frame): void {
  const copy = structuredClone(frame);
  const c = checkFrame(copy);
  assert.ok(c.ok, c.ok ? '' : c.message);
  assert.deepEqual(copy, frame, 'no field the protocol does not define');
}

test('settings sends only the settings given (lastSeen, groupAdd or both) and resolves on ok', T, async (t) => {
  const { server, client } = await setup(t);
  server.handle('settings', (f, conn) => conn.send({ t: 'ok', rid: f.rid }));
  await client.connect();
  await client.settings({ groupAdd: 'nobody' });
  await client.settings({ lastSeen: 'nobody' });
  await client.settings({ lastSeen: 'everyone', groupAdd: 'everyone' });
  const frames = server.framesOf('settings');
  assert.deepEqual(frames.map(({ rid: _rid, ...f }) => f), [
    { t: 'settings', groupAdd: 'nobody' },
    { t: 'settings', lastSeen: 'nobody' },
    { t: 'settings', lastSeen: 'everyone', groupAdd: 'everyone' },
  ]);
  for (const f of frames) acceptedAsWritten(f);
});

test('settings with neither lastSeen nor groupAdd is refused locally with invalid_argument', T, async (t) => {
  const { server, client } = await setup(t);
  await client.connect();
  await rejectsWith(client.settings({}), 'invalid_argument');
  await client.ping();
  assert.equal(server.framesOf('settings').length, 0);
});

test('settings refused by the server rejects with its code', T, async (t) => {
  const { server, client } = await setup(t);
  server.handle('settings', (f, conn) => conn.send({ t: 'error', code: 'bad_request', message: 'settings: give lastSeen, groupAdd or both', rid: f.rid }));
  await client.connect();
  await rejectsWith(client.settings({ groupAdd: 'nobody' }), 'bad_request');
});

test('devices resolves with the registered devices of the devices answer', T, async (t) => {
  const { server, client } = await setup(t);
  const list = [
    { device: 'laptop', registeredAt: 1_700_000_000_000, online: false },
    { device: 'phone', registeredAt: 1_700_000_000_500, online: true },
  ];
  server.handle('devices', (f, conn) => conn.send({ t: 'devices', rid: f.rid, devices: list }));
  await client.connect();
  assert.deepEqual(await client.devices(), list);
  const [frame] = server.framesOf('devices');
  assert.deepEqual(frame, { t: 'devices', rid: frame?.rid });
  acceptedAsWritten(frame!);
});

test('deviceRemove sends device_remove and resolves on ok; an unknown device rejects with not_found', T, async (t) => {
  const { server, client } = await setup(t);
  server.handle('device_remove', (f, conn) =>
    conn.send(f.device === 'laptop' ? { t: 'ok', rid: f.rid } : { t: 'error', code: 'not_found', message: `device_remove.device: alice has no device ${f.device}`, rid: f.rid }));
  await client.connect();
  await client.deviceRemove('laptop');
  const e = await rejectsWith(client.deviceRemove('tablet'), 'not_found');
  assert.match(e.message, /no device tablet/);
  const frames = server.framesOf('device_remove');
  assert.deepEqual(frames.map((f) => f.device), ['laptop', 'tablet']);
  for (const f of frames) acceptedAsWritten(f);
});

test('removing this client\'s own device ends the client with close 4001 and no reconnect', T, async (t) => {
  const { server, client } = await setup(t);
  // As the node does: the device's connection is closed before the answer.
  server.handle('device_remove', (_f, conn) => conn.close(4001, 'device removed'));
  await client.connect();
  const closed = new Promise<CloseInfo>((r) => client.on('close', r));
  // Its answer never comes: the connection went first.
  await rejectsWith(client.deviceRemove('phone'), 'disconnected');
  assert.equal((await closed).code, 4001);
  assert.equal(client.state, 'closed');
  await sleep(100);
  assert.equal(server.conns.length, 1, 'no second connection');
});

// ---------------------------------------------------------------------------
// MessagePack

test('msgpack: the client speaks parley.v1.msgpack in binary frames that msgpackr unpack with default options reads', T, async (t) => {
  const { server, client } = await setup(t, { codec: 'msgpack' });
  const got: MsgFrame[] = [];
  client.on('msg', (m) => void got.push(m));
  await client.connect();
  const conn = server.conns[0] as FakeConn;
  assert.equal(conn.protocol, 'parley.v1.msgpack');
  const r = await client.send('group:g1', { text: 'héllo', n: [1, 2.5, null], skip: undefined }, { id: 'mp-000001' });
  assert.equal(r.conv, 'g:g1');
  conn.send(msgFrame(1, { big: 2 ** 50, nested: { ok: true } }));
  await until(() => server.acked === 1);
  assert.deepEqual(got[0]?.body, { big: 2 ** 50, nested: { ok: true } });
  assert.ok(conn.binary.every(Boolean), 'every client frame is binary');
  assert.deepEqual(conn.frames.slice(0, 3), [
    { t: 'auth', token: 'tok' },
    { t: 'send', id: 'mp-000001', to: 'group:g1', body: { text: 'héllo', n: [1, 2.5, null] } },
    { t: 'ack', inbox: 1 },
  ]);
});
