import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAccount, login, endpoint, ParleyClientError } from '../../src/client/index.js';

const T = { timeout: 5_000 };

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  body: unknown;
}

/** An HTTP server on 127.0.0.1 answering with `reply`; closed when the test ends. */
async function httpServer(t: TestContext, reply: (seen: Seen, res: ServerResponse) => void): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const s = { method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], body: text ? JSON.parse(text) : undefined };
      seen.push(s);
      reply(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

test('createAccount posts {user, password} as JSON to /v1/accounts and returns {user}', T, async (t) => {
  const { base, seen } = await httpServer(t, (s, res) => json(res, 201, { user: (s.body as { user: string }).user }));
  assert.deepEqual(await createAccount(base, 'alice', 'pw-123456'), { user: 'alice' });
  assert.deepEqual(seen, [{ method: 'POST', url: '/v1/accounts', contentType: 'application/json', body: { user: 'alice', password: 'pw-123456' } }]);
});

test('login posts {user, password, device} to /v1/sessions and returns {token, expiresAt}', T, async (t) => {
  const { base, seen } = await httpServer(t, (_s, res) => json(res, 200, { token: 'jwt', expiresAt: 1_800_000_000_000 }));
  assert.deepEqual(await login(`${base}/`, 'alice', 'pw', 'phone'), { token: 'jwt', expiresAt: 1_800_000_000_000 });
  assert.deepEqual(seen[0]?.body, { user: 'alice', password: 'pw', device: 'phone' });
  assert.equal(seen[0]?.url, '/v1/sessions');
});

test('an HTTP error with {error: {code, message}} rejects with that code and the status', T, async (t) => {
  const { base } = await httpServer(t, (s, res) =>
    s.url === '/v1/accounts'
      ? json(res, 409, { error: { code: 'conflict', message: 'user taken' } })
      : json(res, 401, { error: { code: 'unauthorized', message: 'wrong password' } }));
  await assert.rejects(createAccount(base, 'alice', 'pw'), (e: unknown) =>
    e instanceof ParleyClientError && e.code === 'conflict' && e.status === 409 && e.message === 'user taken');
  await assert.rejects(login(base, 'alice', 'nope', 'phone'), (e: unknown) =>
    e instanceof ParleyClientError && e.code === 'unauthorized' && e.status === 401);
});

test('an HTTP error without the error body rejects with http_error and the status', T, async (t) => {
  const { base } = await httpServer(t, (_s, res) => res.writeHead(502).end('bad gateway'));
  await assert.rejects(login(base, 'a', 'b', 'c'), (e: unknown) => e instanceof ParleyClientError && e.code === 'http_error' && e.status === 502);
});

test('a node that cannot be reached rejects with connect_failed; one that does not answer, with timeout', T, async (t) => {
  const { base } = await httpServer(t, () => {}); // never answers
  await assert.rejects(login(base, 'a', 'b', 'c', { timeoutMs: 100 }), (e: unknown) => e instanceof ParleyClientError && e.code === 'timeout');
  await assert.rejects(login('http://127.0.0.1:1', 'a', 'b', 'c'), (e: unknown) => e instanceof ParleyClientError && e.code === 'connect_failed');
});

test('a path prefix in the base URL is kept', () => {
  assert.equal(endpoint('https://example.org/parley', 'v1/sessions').href, 'https://example.org/parley/v1/sessions');
  assert.equal(endpoint('http://127.0.0.1:8080/', 'v1/accounts').href, 'http://127.0.0.1:8080/v1/accounts');
});
