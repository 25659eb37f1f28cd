/**
 * Identity abuse over HTTP (docs/security.md): claiming an operator
 * user through built-in accounts, which identity routes a node serves,
 * error messages, and where /metrics is answered (the rate limits are in
 * login-limits.test.ts). Every test runs a real node on 127.0.0.1 and
 * speaks to it over real sockets; every wait is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { scryptSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import type { UserMsg } from '../../src/chat/messages.js';
import { createNode } from '../../src/server/node.js';
import { connect, msgId, newUser, PASSWORD, uniqueUser, withNode, type Endpoint, type Frame, type Peer } from './helpers.js';
import { errorCode, post } from './identity-helpers.js';

const OPERATOR_SECRET = 'operator-secret-for-identity-tests-0123456789';
const OPERATOR = { secret: OPERATOR_SECRET };

/** A token as the operator's identity system signs it. */
function operatorToken(user: string, device: string): Promise<string> {
  return new SignJWT({ dev: device })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(OPERATOR_SECRET));
}

async function operatorUser(t: Endpoint, prefix: string): Promise<{ name: string; peer: Peer }> {
  const name = uniqueUser(prefix);
  return { name, peer: await connect(t, name, 'phone', 'json', await operatorToken(name, 'phone')) };
}

test('an operator-token user cannot be claimed through POST /v1/accounts', async () => {
  // Built-in accounts explicitly on beside the operator key: the case where a claim could reach the user actor.
  await withNode({ operator: OPERATOR, builtinAccounts: true }, async (t) => {
    const alice = await operatorUser(t, 'alice');
    const bob = await operatorUser(t, 'bob');
    alice.peer.close();
    await alice.peer.closedWith();
    // A message waits for alice while she is offline.
    const id = msgId();
    bob.peer.send({ t: 'send', id, to: `user:${alice.name}`, body: 'for alice only' });
    const sent = await bob.peer.next((f) => (f.t === 'sent' || f.t === 'error') && f.id === id, 10_000, 'sent');
    assert.equal(sent.t, 'sent', JSON.stringify(sent));

    const claim = await post(t, '/v1/accounts', { user: alice.name, password: 'anything8' });
    assert.equal(claim.status, 409, `the claim was answered ${claim.status} ${JSON.stringify(claim.body)}`);
    assert.equal(errorCode(claim), 'conflict');
    const login = await post(t, '/v1/sessions', { user: alice.name, password: 'anything8', device: 'thief' });
    assert.equal(login.status, 401, JSON.stringify(login.body));
    // Straight to her actor, past the route's own check: refused there too.
    const r = await t.node.runtime.host.ref<UserMsg>(`user:${alice.name}`).call<{ created: boolean }>({ t: 'account_create', hash: 'scrypt$16384$8$1$AAAA$AAAA' }, { timeout: 5000 });
    assert.deepEqual(r, { created: false });
    const again = await post(t, '/v1/sessions', { user: alice.name, password: 'anything8', device: 'thief' });
    assert.equal(again.status, 401);

    // Alice, with her operator token, still gets her message, and nobody else did.
    const back = await connect(t, alice.name, 'phone', 'json', await operatorToken(alice.name, 'phone'));
    const m = await back.next((f: Frame) => f.t === 'msg' && f.id === id, 10_000, 'the waiting message');
    assert.equal(m.body, 'for alice only');
    back.close();
    bob.peer.close();
  });
});

test('with an operator key, built-in accounts are off unless turned on: both routes answer 404 not_found', async () => {
  await withNode({ operator: OPERATOR }, async (t) => {
    assert.equal(t.node.config.builtinAccounts, false);
    for (const [path, body] of [
      ['/v1/accounts', { user: uniqueUser('off'), password: PASSWORD }],
      ['/v1/sessions', { user: uniqueUser('off'), password: PASSWORD, device: 'd1' }],
    ] as const) {
      const r = await post(t, path, body);
      assert.equal(r.status, 404, `${path}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(r.body, { error: { code: 'not_found', message: 'built-in accounts are off on this node (builtinAccounts)' } });
    }
    // Operator tokens work as before.
    const u = await operatorUser(t, 'opuser');
    await u.peer.alive();
    u.peer.close();
  });
});

test('without an operator key built-in accounts are on by default, and builtinAccounts: false turns them off', async () => {
  await withNode({}, async (t) => {
    assert.equal(t.node.config.builtinAccounts, true);
    const u = await newUser(t, 'builtin');
    await u.peer.alive();
    u.peer.close();
  });
  await withNode({ builtinAccounts: false }, async (t) => {
    const r = await post(t, '/v1/accounts', { user: uniqueUser('off'), password: PASSWORD });
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), 'not_found');
  });
});

test('password hashes stored before this version (scrypt$N$r$p$salt$key) still verify', async () => {
  await withNode({}, async (t) => {
    const user = uniqueUser('legacy');
    // Made the way the previous version made them (scrypt on libuv's pool, same format).
    const salt = randomBytes(16);
    const key = scryptSync(PASSWORD, salt, 32, { N: 16384, r: 8, p: 1 });
    const hash = `scrypt$16384$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
    const r = await t.node.runtime.host.ref<UserMsg>(`user:${user}`).call<{ created: boolean }>({ t: 'account_create', hash }, { timeout: 5000 });
    assert.deepEqual(r, { created: true });
    const ok = await post(t, '/v1/sessions', { user, password: PASSWORD, device: 'd1' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal((await post(t, '/v1/sessions', { user, password: 'not the password', device: 'd1' })).status, 401);
  });
});

test('HTTP error messages are written for clients: no parser or internal error text', async () => {
  await withNode({}, async (t) => {
    const raw = async (path: string, body: string, type = 'application/json'): Promise<{ status: number; body: { error: { code: string; message: string } } }> => {
      const r = await fetch(`${t.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body, signal: AbortSignal.timeout(5000) });
      return { status: r.status, body: (await r.json()) as { error: { code: string; message: string } } };
    };
    const cases: Array<[string, string, string | undefined, number, string]> = [
      ['/v1/accounts', '{"user": "broken', undefined, 400, 'body is not valid JSON'],
      ['/v1/sessions', '\u0000\u0001', undefined, 400, 'body is not valid JSON'],
      ['/v1/sessions', '[1,2]', undefined, 400, 'body must be a JSON object'],
      ['/v1/accounts', 'user=a', 'application/x-www-form-urlencoded', 415, 'content-type must be application/json'],
    ];
    for (const [path, body, type, status, message] of cases) {
      const r = await raw(path, body, type);
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(r.body.error.message, message);
      assert.doesNotMatch(r.body.error.message, /Unexpected|position|SyntaxError|at .+\(/);
    }
    const big = await raw('/v1/accounts', JSON.stringify({ user: 'x', password: 'p'.repeat(70 * 1024) }));
    assert.equal(big.status, 413);
    assert.equal(big.body.error.message, 'body larger than 65536 bytes');
  });
});

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const r = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  return { status: r.status, text: await r.text() };
}

test('with metrics.port, /metrics is served on the admin listener only, not on the public port; node.stop() closes it', async () => {
  let adminUrl = '';
  await withNode({ metrics: { port: 0 } }, async (t) => {
    adminUrl = t.node.metricsUrl;
    assert.match(adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    const admin = await get(`${adminUrl}/metrics`);
    assert.equal(admin.status, 200);
    assert.match(admin.text, /^# HELP /m);
    assert.equal((await get(`${t.url}/metrics`)).status, 404);
    // The admin listener serves nothing else.
    assert.equal((await get(`${adminUrl}/healthz`)).status, 404);
  });
  await assert.rejects(get(`${adminUrl}/metrics`), 'the admin listener still answers after stop');
});

test('with metrics.token, /metrics needs Authorization: Bearer <token> (401 otherwise), wherever it is served', async () => {
  const token = 'metrics-token-0123456789';
  await withNode({ metrics: { token } }, async (t) => {
    assert.equal((await get(`${t.url}/metrics`)).status, 401);
    assert.equal((await get(`${t.url}/metrics`, { authorization: 'Bearer wrong-token-0123456789' })).status, 401);
    assert.equal((await get(`${t.url}/metrics`, { authorization: token })).status, 401);
    assert.equal((await get(`${t.url}/metrics`, { authorization: `Bearer ${token}` })).status, 200);
  });
  await withNode({ metrics: { token, port: 0 } }, async (t) => {
    assert.equal((await get(`${t.node.metricsUrl}/metrics`)).status, 401);
    assert.equal((await get(`${t.node.metricsUrl}/metrics`, { authorization: `Bearer ${token}` })).status, 200);
  });
});

test('embedded in an operator’s server, /metrics is not answered there unless metrics.public is set', async () => {
  for (const metrics of [undefined, { public: true }]) {
    const server = http.createServer((_req, res) => {
      res.writeHead(418, { 'content-type': 'text/plain' }).end('the host application');
    });
    const dir = mkdtempSync(join(os.tmpdir(), 'parley-embed-'));
    const node = await createNode({ server, data: dir, workers: 1, partitions: 8, log: 'error', ...(metrics ? { metrics } : {}) });
    try {
      await node.start();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const r = await get(`${url}/metrics`);
      if (metrics?.public) {
        assert.equal(r.status, 200);
        assert.match(r.text, /^# HELP /m);
      } else {
        assert.equal(r.status, 418, 'the request goes to the host application, as any path that is not the node’s');
      }
      assert.equal((await get(`${url}/healthz`)).status, 200);
    } finally {
      await node.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
