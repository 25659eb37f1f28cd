import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParleyClient, ParleyClientError, createAccount, login } from '../../src/client/index.js';
import { main as embed } from '../../examples/embed-in-http-server.js';
import { main as echo } from '../../examples/echo-bot.js';

async function client(base: string, user: string): Promise<ParleyClient> {
  await createAccount(base, user, 'password-1');
  const s = await login(base, user, 'password-1', 'd1');
  const c = new ParleyClient({ url: base.replace('http', 'ws') + '/v1/ws', token: s.token, reconnect: false });
  await c.connect();
  return c;
}

test('example: embedded in an existing HTTP server, host routes and Parley share the port, the filter rejects with its reason', async () => {
  const data = mkdtempSync(join(tmpdir(), 'parley-ex-'));
  const app = await embed(0, data);
  try {
    assert.equal(await (await fetch(`${app.url}/hello`)).text(), 'hello from the host application\n');
    assert.equal(((await (await fetch(`${app.url}/healthz`)).json()) as { status: string }).status, 'ok');
    const a = await client(app.url, 'ann');
    // A recipient must exist (an account, a device once, or declared by the operator).
    await createAccount(app.url, 'ben', 'password-1');
    const sent = await a.send('user:ben', 'quiet please');
    assert.equal(sent.seq, 1);
    await assert.rejects(a.send('user:ben', 'LOUD NOISES'), (e: unknown) => e instanceof ParleyClientError && e.code === 'forbidden' && /no shouting/.test(e.message));
    await a.close();
  } finally {
    await app.stop();
    rmSync(data, { recursive: true, force: true });
  }
});

test('example: the echo bot, an actor inside the node, answers a client', async () => {
  const data = mkdtempSync(join(tmpdir(), 'parley-ex-'));
  const app = await echo(0, data);
  try {
    const c = await client(app.node.url, 'cat');
    const replies: unknown[] = [];
    c.on('msg', (m) => void replies.push(m.body));
    await c.send('user:echo', 'hello');
    const end = Date.now() + 5000;
    while (replies.length < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(replies, ['HELLO']);
    await c.close();
  } finally {
    await app.stop();
    rmSync(data, { recursive: true, force: true });
  }
});
