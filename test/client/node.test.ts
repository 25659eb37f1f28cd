/**
 * The client's `settings` (`groupAdd`), `devices` and `deviceRemove`
 * against a real node (in-process, data under os.tmpdir()): what the fake
 * server of client.test.ts stands in for, checked once against the
 * implementation of docs/protocol.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode } from '../../src/server/node.js';
import { ParleyClient, createAccount, login, type CloseInfo } from '../../src/client/index.js';
import { rejectsWith } from './fake-server.js';

const PASSWORD = 'password-1';

test('settings.groupAdd, devices and deviceRemove against a real node', { timeout: 30_000 }, async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'parley-client-'));
  const node = await createNode({ port: 0, data, workers: 1, log: 'error' });
  await node.start();
  const clients: ParleyClient[] = [];
  t.after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await node.stop();
    rmSync(data, { recursive: true, force: true });
  });
  const ws = node.url.replace('http', 'ws') + '/v1/ws';
  const connect = async (user: string, device: string): Promise<ParleyClient> => {
    const { token } = await login(node.url, user, PASSWORD, device);
    const c = new ParleyClient({ url: ws, token, reconnect: false });
    clients.push(c);
    await c.connect();
    return c;
  };
  await createAccount(node.url, 'alice', PASSWORD);
  await createAccount(node.url, 'bob', PASSWORD);
  const phone = await connect('alice', 'phone');
  const laptop = await connect('alice', 'laptop');
  const bob = await connect('bob', 'b1');

  // groupAdd: nobody refuses adds by others, naming the setting; everyone allows them again.
  await phone.settings({ groupAdd: 'nobody' });
  const refused = await rejectsWith(bob.groupCreate('team', ['alice']), 'forbidden');
  assert.match(refused.message, /settings\.groupAdd/);
  await laptop.settings({ groupAdd: 'everyone' });
  const group = await bob.groupCreate('team', ['alice']);
  assert.deepEqual([...group.members].sort(), ['alice', 'bob']);

  // devices: every registered device, sorted, with whether it is online.
  const listed = await phone.devices();
  assert.deepEqual(listed.map((d) => [d.device, d.online]), [['laptop', true], ['phone', true]]);
  assert.ok(listed.every((d) => Number.isSafeInteger(d.registeredAt) && d.registeredAt > 0));

  // device_remove: the removed device's connection is closed with 4001; an unknown device is not_found.
  const laptopClosed = new Promise<CloseInfo>((r) => laptop.on('close', r));
  await phone.deviceRemove('laptop');
  assert.equal((await laptopClosed).code, 4001);
  assert.equal(laptop.state, 'closed');
  await rejectsWith(phone.deviceRemove('tablet'), 'not_found');
  assert.deepEqual((await phone.devices()).map((d) => d.device), ['phone']);
});
