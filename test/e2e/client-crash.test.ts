// Guarantees through the TypeScript client, against a node killed with -9:
// sends not yet answered when the node dies are written again with the same
// id after the client reconnects, and every message is stored and delivered
// once ("Dedupe: … across restarts and crashes"), in one gap-free order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { ParleyClient, createAccount, login, type MsgFrame, type SendResult } from '../../src/client/index.js';
import { PASSWORD, name, tmpData } from '../fixtures/chat-node.js';
import { freePort, spawnNode, type ChildNode } from '../fixtures/chat-process.js';

test('the client resends what was unanswered at a kill -9; each message is stored and delivered once', { timeout: 120_000 }, async () => {
  const data = tmpData('parley-client-crash-');
  const port = await freePort();
  let node: ChildNode | null = null;
  const clients: ParleyClient[] = [];
  try {
    node = await spawnNode(data, { port });
    const url = node.url;
    const ws = node.ws;
    const alice = name('calice');
    const bob = name('cbob');
    await createAccount(url, alice, PASSWORD);
    await createAccount(url, bob, PASSWORD);
    const ta = (await login(url, alice, PASSWORD, 'phone')).token;
    const tb = (await login(url, bob, PASSWORD, 'phone')).token;
    const reconnect = { minMs: 50, maxMs: 500 };
    const ca = new ParleyClient({ url: ws, token: ta, reconnect });
    const cb = new ParleyClient({ url: ws, token: tb, reconnect });
    clients.push(ca, cb);
    const received: MsgFrame[] = [];
    cb.on('msg', (m) => void received.push(m));
    await ca.connect();
    await cb.connect();

    const N = 120;
    const results: Array<Promise<SendResult>> = [];
    let answered = 0;
    let inFlightAtKill = 0;
    let issued = 0;
    let killed = false;
    const first = node;
    // The node dies the moment the 10th answer arrives, with the sends issued after it unanswered.
    const kill = (): void => {
      if (killed || answered < 10 || issued <= N / 2) return;
      killed = true;
      first.proc.kill('SIGKILL');
      inFlightAtKill = issued - answered;
    };
    for (let i = 0; i < N; i++) {
      const p = ca.send(`user:${bob}`, { i });
      issued++;
      void p.then(() => {
        answered++;
        kill();
      }, () => undefined);
      results.push(p);
      if (i === N / 2) {
        // Then bring it back on the same port and data.
        kill();
        const until = Date.now() + 20_000;
        while (!killed && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
        await node.kill9();
        node = await spawnNode(data, { port });
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const sent = await Promise.race([
      Promise.all(results),
      new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`only ${answered} of ${N} sends answered in 60 s`)), 60_000))),
    ]).finally(() => clearTimeout(timer));
    assert.ok(inFlightAtKill > 0, 'sends were in flight at the kill');
    const end = Date.now() + 30_000;
    while (received.length < N && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.equal(received.length, N, 'bob got every message');
    assert.deepEqual(received.map((m) => m.seq), Array.from({ length: N }, (_, i) => i + 1), 'one gap-free order, each message once');
    assert.deepEqual(received.map((m) => (m.body as { i: number }).i), Array.from({ length: N }, (_, i) => i), 'in send order');
    const bySeq = new Map(received.map((m) => [m.seq, m]));
    for (const s of sent) {
      const m = bySeq.get(s.seq);
      assert.equal(m?.id, s.id, `sent ${s.id} is the message at seq ${s.seq}`);
      assert.equal(m?.ts, s.ts);
    }
  } catch (e) {
    if (node) (e as Error).message += `\nnode stderr:\n${node.stderr().slice(-4000)}`;
    throw e;
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await node?.kill9().catch(() => undefined);
    rmSync(data, { recursive: true, force: true });
  }
});
