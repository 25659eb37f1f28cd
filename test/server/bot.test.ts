import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode } from '../../src/server/node.js';
import { startBot, type BotMessage } from '../../src/server/bot.js';
import { ParleyClient, createAccount, login } from '../../src/client/index.js';

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a bot gets, in order, what was sent to it while it was stopped, and each message once it acked', async () => {
  const data = mkdtempSync(join(tmpdir(), 'parley-bot-'));
  const node = await createNode({ port: 0, data, workers: 2, log: 'error' });
  await node.start();
  try {
    await createAccount(node.url, 'dan', 'password-1');
    const s = await login(node.url, 'dan', 'password-1', 'd1');
    const dan = new ParleyClient({ url: node.url.replace('http', 'ws') + '/v1/ws', token: s.token, reconnect: false });
    await dan.connect();
    const seen: BotMessage[] = [];
    let bot = await startBot(node, { user: 'helper', onMessage: (m) => void seen.push(m) });
    await dan.send('user:helper', 'one');
    await until(() => seen.length === 1);
    await bot.stop();
    await dan.send('user:helper', 'two');
    await dan.send('user:helper', 'three');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(seen.length, 1, 'a stopped bot gets nothing');
    bot = await startBot(node, { user: 'helper', onMessage: (m) => void seen.push(m) });
    await until(() => seen.length === 3);
    assert.deepEqual(seen.map((m) => [m.seq, m.body]), [[1, 'one'], [2, 'two'], [3, 'three']]);
    const sent = await bot.send('user:dan', 'reply');
    assert.equal(sent.conv, 'dm:dan:helper');
    await assert.rejects(bot.send('user:helper', 'me'), /bot itself/);
    await bot.stop();
    await dan.close();
  } finally {
    await node.stop();
    rmSync(data, { recursive: true, force: true });
  }
});
