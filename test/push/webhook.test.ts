import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createNode, type ParleyNode } from '../../src/server/node.js';
import { ParleyClient, createAccount, login } from '../../src/client/index.js';
import { signWebhook } from '../../src/chat/push/webhook.js';

const SECRET = 'webhook-secret-0123456789';

interface Hook {
  url: string;
  got: Array<{ body: any; sig: string; ts: string }>;
  /** Status to answer with, per request number (default 200). */
  status: (n: number) => number;
  close(): Promise<void>;
}

async function hookServer(status: (n: number) => number = () => 200, port = 0): Promise<Hook> {
  const got: Hook['got'] = [];
  let n = 0;
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = h.status(n++);
      if (s === 200) got.push({ body: JSON.parse(Buffer.concat(chunks).toString()), sig: String(req.headers['x-parley-signature']), ts: String(req.headers['x-parley-timestamp']) });
      res.writeHead(s).end();
    });
  });
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
  const h: Hook = {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/push`,
    got,
    status,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
  return h;
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function start(data: string, url: string): Promise<ParleyNode> {
  const node = await createNode({ port: 0, data, workers: 1, log: 'error', push: { webhook: { url, secret: SECRET } } });
  await node.start();
  return node;
}

async function sendAsAlice(node: ParleyNode, to: string, body: string): Promise<void> {
  await createAccount(node.url, 'alice', 'password-1').catch(() => undefined);
  // The recipient must exist; the operator declares it (it never connects here).
  await node.declareUsers([to]);
  const s = await login(node.url, 'alice', 'password-1', 'phone');
  const c = new ParleyClient({ url: node.url.replace('http', 'ws') + '/v1/ws', token: s.token, reconnect: false });
  await c.connect();
  await c.send(`user:${to}` as const, body);
  await c.close();
}

test('a message to a user with no device online is pushed to the webhook, signed, without its body', async () => {
  const data = mkdtempSync(join(tmpdir(), 'parley-push-'));
  const hook = await hookServer();
  const node = await start(data, hook.url);
  try {
    await sendAsAlice(node, 'bob', 'secret text');
    await until(() => hook.got.length === 1, 5000, 'the push');
    const { body, sig, ts } = hook.got[0]!;
    assert.deepEqual({ user: body.user, conv: body.conv, seq: body.seq, from: body.from, inbox: body.inbox }, { user: 'bob', conv: 'dm:alice:bob', seq: 1, from: 'alice', inbox: 1 });
    assert.equal(JSON.stringify(body).includes('secret text'), false);
    assert.equal(sig, signWebhook(SECRET, Number(ts), JSON.stringify(body)));
  } finally {
    await node.stop();
    await hook.close();
    rmSync(data, { recursive: true, force: true });
  }
});

test('a recipient with a device online is not pushed', async () => {
  const data = mkdtempSync(join(tmpdir(), 'parley-push-'));
  const hook = await hookServer();
  const node = await start(data, hook.url);
  try {
    await createAccount(node.url, 'bob', 'password-1');
    const s = await login(node.url, 'bob', 'password-1', 'laptop');
    const bob = new ParleyClient({ url: node.url.replace('http', 'ws') + '/v1/ws', token: s.token, reconnect: false });
    const got: unknown[] = [];
    bob.on('msg', (m) => void got.push(m));
    await bob.connect();
    await sendAsAlice(node, 'bob', 'hello');
    await until(() => got.length === 1, 5000, 'the message');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(hook.got.length, 0);
    await bob.close();
  } finally {
    await node.stop();
    await hook.close();
    rmSync(data, { recursive: true, force: true });
  }
});

test('a failing webhook is retried until it accepts', async () => {
  const data = mkdtempSync(join(tmpdir(), 'parley-push-'));
  const hook = await hookServer((n) => (n < 2 ? 500 : 200));
  const node = await start(data, hook.url);
  try {
    await sendAsAlice(node, 'carol', 'hi');
    await until(() => hook.got.length === 1, 8000, 'the retried push');
    assert.equal(hook.got[0]!.body.user, 'carol');
  } finally {
    await node.stop();
    await hook.close();
    rmSync(data, { recursive: true, force: true });
  }
});

test('a notification the webhook has not accepted survives a node restart', async () => {
  const data = mkdtempSync(join(tmpdir(), 'parley-push-'));
  const down = await hookServer(() => 503);
  let node = await start(data, down.url);
  try {
    await sendAsAlice(node, 'dave', 'hi');
    // The webhook refuses; the notification stays in the outbox.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(down.got.length, 0);
    await node.stop();
    const port = Number(new URL(down.url).port);
    await down.close();
    const up = await hookServer(() => 200, port);
    node = await start(data, up.url);
    try {
      await until(() => up.got.length >= 1, 5000, 'the push after restart');
      assert.equal(up.got[0]!.body.user, 'dave');
    } finally {
      await up.close();
    }
  } finally {
    await node.stop();
    rmSync(data, { recursive: true, force: true });
  }
});
