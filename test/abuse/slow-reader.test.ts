/**
 * A slow reader (PROTOCOL.md "Limits"; the gateway's `sendBufferBytes`): a
 * client that never reads while lots is sent to it is dropped (the send
 * buffer is bounded), and the server's memory stays flat. A reader that
 * keeps up is not dropped, even when more than `sendBufferBytes` is due to
 * it at once.
 *
 * The node runs in a process of its own so that its memory is measured
 * alone. The slow client is a bare socket, upgraded by hand and then
 * paused, so that nothing is read on our side either: the kernel buffers
 * fill, then the server's. Each round it asks for ~100 MB of history
 * (60 pages of 100 messages of 16 KiB) and receives the pushes of 100 unread
 * messages; the server must drop it long before buffering that much.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect, dm, exchange, login, msgId, newUser, SECRET, signup, startNode, uniqueUser, until, type Endpoint } from './helpers.js';
import { rawConnect } from './raw-ws.js';

const SEND_BUFFER = 256 * 1024;
const BODY = 16 * 1024;
const MESSAGES = 100;
const PAGES = 60;
const ROUNDS = 3;
/** What one round asks the server to send: the pushes and the history pages. */
const ASKED = MESSAGES * BODY * (PAGES + 1);
/**
 * How much the server may grow over the measured rounds, after a full
 * collection: its JavaScript heap and buffers by at most 16 MiB, its RSS by
 * at most half of what those rounds asked for (RSS also holds the scheduler
 * thread's heap, which collects on its own schedule: it moves by tens of MiB
 * between samples).
 */
const HEAP_BOUND = 16 * 1024 * 1024;
const RSS_BOUND = ((ROUNDS - 1) * ASKED) / 2;
/** What the slow client may receive once it reads again: the kernel's buffers and `sendBufferBytes`, not what it asked for. */
const RECEIVED_BOUND = 24 * 1024 * 1024;

interface ChildNode extends Endpoint {
  port: number;
  mem(): Promise<NodeJS.MemoryUsage>;
  stop(): Promise<void>;
}

async function spawnNode(options: Record<string, unknown>): Promise<ChildNode> {
  const dir = mkdtempSync(join(os.tmpdir(), 'parley-abuse-'));
  const script = new URL('./node-process.ts', import.meta.url).pathname;
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', script, JSON.stringify({ port: 0, host: '127.0.0.1', data: dir, workers: 1, partitions: 8, log: 'error', secret: SECRET, ...options })],
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      if (child.connected) child.send({ t: 'stop' });
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the node process did not start within 30 s')), 30_000);
      child.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`the node process exited (${code})`));
      });
      createInterface({ input: child.stdout! }).once('line', (line) => {
        clearTimeout(t);
        resolve((JSON.parse(line) as { url: string }).url);
      });
    });
    return {
      url,
      wsUrl: url.replace(/^http/, 'ws') + '/v1/ws',
      port: Number(new URL(url).port),
      mem: () =>
        new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no memory figures within 10 s')), 10_000);
          child.once('message', (m) => {
            clearTimeout(t);
            resolve(m as NodeJS.MemoryUsage);
          });
          child.send({ t: 'mem' });
        }),
      stop: kill,
    };
  } catch (e) {
    await kill();
    throw e;
  }
}

async function metric(ep: Endpoint, name: string): Promise<number> {
  const text = await (await fetch(`${ep.url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('a slow reader', () => {
  let n: ChildNode;

  before(async () => {
    n = await spawnNode({ limits: { sendBufferBytes: SEND_BUFFER, sendRate: 100_000, sendBurst: 100_000 } });
  });
  after(async () => {
    await n?.stop();
  });

  test('a client that never reads is dropped (bounded send buffer), and the server’s memory stays flat', async (t) => {
    const writer = await newUser(n, 'writer');
    const slow = uniqueUser('slow');
    await signup(n, slow);
    const token = await login(n, slow);
    const talker = await newUser(n, 'talker');
    try {
      // What the slow reader will be sent: 100 unread messages of 16 KiB, and history pages of them.
      const body = 'x'.repeat(BODY);
      const ids = Array.from({ length: MESSAGES }, () => msgId());
      for (const id of ids) writer.peer.send({ t: 'send', id, to: `user:${slow}`, body });
      for (const id of ids) await writer.peer.next((f) => f.t === 'sent' && f.id === id, 10_000);
      const conv = dm(writer.name, slow);

      const receivedEach: number[] = [];
      const round = async (): Promise<void> => {
        const dropped = await metric(n, 'parley_slow_readers_total');
        const raw = await rawConnect(n.port, { protocol: 'parley.v1.json' });
        try {
          assert.equal(raw.status, 101);
          raw.send(JSON.stringify({ t: 'auth', token }));
          await raw.next((f) => f.t === 'ready');
          raw.socket.pause(); // from here on, nothing is read
          for (let i = 0; i < PAGES; i++) raw.send(JSON.stringify({ t: 'history', rid: `h${i}`, conv, limit: 100 }));
          await until(async () => (await metric(n, 'parley_slow_readers_total')) > dropped, 20_000, 'the slow reader dropped');
          // Reading again, it gets what the kernel held and then the end of the connection.
          let received = 0;
          raw.socket.on('data', (d: Buffer) => (received += d.length));
          raw.socket.resume();
          await Promise.race([raw.closed, new Promise((_, rej) => setTimeout(() => rej(new Error('the dropped socket did not close')), 10_000))]);
          receivedEach.push(received);
          assert.ok(received < RECEIVED_BOUND, `received ${received} bytes after being dropped; ${ASKED} were asked for`);
        } finally {
          raw.socket.destroy();
        }
      };

      await round(); // warms the node up: what it allocates once is not growth
      const base = await n.mem();
      for (let r = 1; r < ROUNDS; r++) await round();
      await until(async () => (await metric(n, 'parley_connections')) === 2, 10_000, 'only the two talking users connected');
      const end = await n.mem();
      const heap = end.heapUsed + end.external - (base.heapUsed + base.external);
      const rss = end.rss - base.rss;
      const mb = (x: number): string => `${(x / 1048576).toFixed(1)} MiB`;
      t.diagnostic(`asked for ${mb(ASKED)} a round; over ${ROUNDS - 1} rounds: heap and buffers ${mb(heap)}, RSS ${mb(rss)} (${mb(base.rss)} → ${mb(end.rss)}); received after the drop: ${receivedEach.map(mb).join(', ')}`);
      assert.ok(heap < HEAP_BOUND, `heap and buffers grew by ${mb(heap)} (bound ${mb(HEAP_BOUND)})`);
      assert.ok(rss < RSS_BOUND, `RSS grew by ${mb(rss)} (bound ${mb(RSS_BOUND)})`);

      // The others were not held up, and the slow reader, reading again, resumes from its last ack.
      await exchange(writer, talker, 'still flowing');
      const back = await connect(n, slow, 'd1');
      try {
        const first = await back.next((f) => f.t === 'msg', 10_000);
        assert.equal(first.id, ids[0]);
        const h = await back.request({ t: 'history', conv, limit: 5 });
        assert.deepEqual(
          (h.messages as Array<{ id: string }>).map((m) => m.id),
          ids.slice(-5),
        );
      } finally {
        back.close();
      }
    } finally {
      writer.peer.close();
      talker.peer.close();
    }
  });
});

describe('a reader that keeps up', () => {
  test('is not dropped when more than limits.sendBufferBytes is due at once (a window of large messages on reconnect)', async () => {
    // 200 unread messages of 32 KiB: ~6.5 MB pushed at once, against a 512 KiB buffer.
    // historyBytes raised so that one page really is 100 × 32 KiB, past the buffer.
    const t = await startNode({ limits: { sendBufferBytes: 512 * 1024, bodyBytes: 32 * 1024, sendRate: 100_000, sendBurst: 100_000, historyBytes: 4 * 1024 * 1024 } });
    try {
      const writer = await newUser(t, 'bulk');
      const reader = uniqueUser('reader');
      await signup(t, reader);
      const ids = Array.from({ length: 200 }, () => msgId());
      for (const id of ids) writer.peer.send({ t: 'send', id, to: `user:${reader}`, body: 'y'.repeat(32 * 1024 - 2) });
      for (const id of ids) await writer.peer.next((f) => f.t === 'sent' && f.id === id, 10_000);
      // Twice, on two devices: each gets everything.
      for (const device of ['d1', 'd2']) {
        const p = await connect(t, reader, device);
        try {
          const got: unknown[] = [];
          while (got.length < ids.length) got.push((await p.next((f) => f.t === 'msg', 5000, `msg ${got.length + 1}`)).id);
          assert.deepEqual(got, ids);
          // And a history page of 100 of them.
          const h = await p.request({ t: 'history', conv: dm(writer.name, reader), limit: 100 }, 10_000);
          assert.equal((h.messages as unknown[]).length, 100);
          await p.alive();
        } finally {
          p.close();
        }
      }
      assert.equal(await metric(t, 'parley_slow_readers_total'), 0);
      writer.peer.close();
    } finally {
      await t.stop();
    }
  });
});
