import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { corkForTurn } from '../../src/server/gateway/cork.js';

test('frames written in one turn stay corked until the turn ends, then arrive complete and in order', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as { port: number }).port;
  const serverSide = new Promise<WebSocket>((r) => wss.once('connection', (ws) => r(ws)));
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  try {
    const ws = await serverSide;
    ws.on('error', () => undefined);
    const got: string[] = [];
    const all = new Promise<void>((r) => client.on('message', (d) => got.push(d.toString()) === 100 && r()));
    const socket = (ws as unknown as { _socket: Socket })._socket;
    for (let i = 0; i < 100; i++) {
      corkForTurn(ws);
      ws.send(`frame ${i}`);
    }
    assert.equal(socket.writableCorked, 1, 'corked once for the turn, however many frames');
    assert.ok(socket.writableLength > 0, 'the frames wait in the socket until the turn ends');
    await new Promise((r) => setImmediate(r));
    assert.equal(socket.writableCorked, 0, 'uncorked at the end of the turn');
    await all;
    assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => `frame ${i}`));
  } finally {
    client.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
  }
});
