// Conformance: PROTOCOL.md "HTTP" (media endpoints excepted) and the token rules of "Auth".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PASSWORD, createAccount, name, post, startNode, type TestNode } from '../fixtures/chat-node.js';

let n: TestNode;
before(async () => {
  n = await startNode({ workers: 1 });
});
after(async () => {
  await n?.stop();
});

function isHttpError(body: any, code: string): void {
  assert.equal(typeof body?.error?.message, 'string', `error body ${JSON.stringify(body)}`);
  assert.equal(body.error.code, code);
}

function jwtPayload(token: string): Record<string, unknown> {
  const parts = token.split('.');
  assert.equal(parts.length, 3, 'a JWT has three parts');
  return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

test('POST /v1/accounts {user, password} → 201 {user}', async () => {
  const user = name('acct');
  const r = await post(n.url, '/v1/accounts', { user, password: PASSWORD });
  assert.equal(r.status, 201);
  assert.deepEqual(r.body, { user });
});

test('POST /v1/accounts of a taken user → 409 {error: {code, message}}', async () => {
  const user = name('taken');
  await createAccount(n.url, user);
  const r = await post(n.url, '/v1/accounts', { user, password: 'another password' });
  assert.equal(r.status, 409);
  isHttpError(r.body, 'conflict');
});

test('POST /v1/accounts with bad input → 400 bad_request', async () => {
  const cases: unknown[] = [
    { user: 'Upper', password: PASSWORD }, // breaks ^[a-z0-9][a-z0-9_.-]{0,63}$
    { user: '-dash', password: PASSWORD },
    { user: 'a'.repeat(65), password: PASSWORD },
    { user: name('nopw') },
    { user: name('numpw'), password: 12345678 },
    { password: PASSWORD },
    '{"user": "broken json', // not JSON
  ];
  for (const c of cases) {
    const r = await post(n.url, '/v1/accounts', c);
    assert.equal(r.status, 400, `for ${JSON.stringify(c)}: ${JSON.stringify(r.body)}`);
    isHttpError(r.body, 'bad_request');
  }
});

test('POST /v1/sessions → 200 {token, expiresAt}: a JWT with sub, dev and exp in seconds; expiresAt in ms', async () => {
  const user = name('sess');
  await createAccount(n.url, user);
  const before = Date.now();
  const r = await post(n.url, '/v1/sessions', { user, password: PASSWORD, device: 'phone-1' });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), ['expiresAt', 'token']);
  const p = jwtPayload(r.body.token);
  assert.equal(p.sub, user);
  assert.equal(p.dev, 'phone-1');
  assert.ok(Number.isInteger(p.exp), 'exp is an integer');
  // exp in seconds since the epoch: in the future, and far below a millisecond value.
  assert.ok((p.exp as number) > before / 1000 && (p.exp as number) < 1e11, `exp ${p.exp} is in seconds`);
  assert.ok(Number.isInteger(r.body.expiresAt));
  assert.equal(r.body.expiresAt, (p.exp as number) * 1000, 'expiresAt is exp in milliseconds');
  assert.ok(r.body.expiresAt > before, 'expiresAt is in the future');
});

test('POST /v1/sessions with a wrong password or an unknown user → 401', async () => {
  const user = name('sess401');
  await createAccount(n.url, user);
  const wrong = await post(n.url, '/v1/sessions', { user, password: 'not the password', device: 'phone' });
  assert.equal(wrong.status, 401);
  isHttpError(wrong.body, 'unauthorized');
  const unknown = await post(n.url, '/v1/sessions', { user: name('nobody'), password: PASSWORD, device: 'phone' });
  assert.equal(unknown.status, 401);
  isHttpError(unknown.body, 'unauthorized');
});

test('POST /v1/sessions with a device id that breaks ^[A-Za-z0-9_-]{1,32}$ → 400', async () => {
  const user = name('sessdev');
  await createAccount(n.url, user);
  for (const device of ['', 'has space', 'x'.repeat(33)]) {
    const r = await post(n.url, '/v1/sessions', { user, password: PASSWORD, device });
    assert.equal(r.status, 400, `device ${JSON.stringify(device)}`);
    isHttpError(r.body, 'bad_request');
  }
});

test('GET /healthz → 200 {status: "ok", node, uptime}', async () => {
  const r = await fetch(n.url + '/healthz');
  assert.equal(r.status, 200);
  const b = (await r.json()) as Record<string, unknown>;
  assert.equal(b.status, 'ok');
  assert.equal(b.node, n.node.config.node);
  assert.equal(typeof b.uptime, 'number');
  assert.ok((b.uptime as number) >= 0);
});

test('GET /metrics → Prometheus text format', async () => {
  const r = await fetch(n.url + '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await r.text();
  assert.match(text, /^# HELP \S+ .+$/m);
  assert.match(text, /^# TYPE \S+ (counter|gauge|histogram|summary|untyped)$/m);
  // Every sample line is `name{labels} value`.
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? -?(\d+(\.\d+)?(e[+-]?\d+)?|NaN|\+Inf|-Inf)$/, `sample line ${line}`);
  }
});

test('HTTP errors are {error: {code, message}} with the status that fits (unknown route → 404)', async () => {
  const r = await fetch(n.url + '/v1/nothing-here');
  assert.equal(r.status, 404);
  isHttpError(await r.json(), 'not_found');
});
