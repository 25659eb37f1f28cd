/**
 * `history` as a memory attack (the table: 10 connections × 100
 * pipelined `history` of 100 × 60 KiB drove a node to 3.6 GiB and silenced
 * everyone for ~35 s). Now a page holds at most `historyBytes` (1 MiB) of
 * bodies, a user has at most `historyInFlight` (4) unanswered, and its
 * answers are charged to a byte bucket: the burst is mostly refused at
 * once, memory stays bounded, and bystanders keep talking.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bystanders, connect, dm, msgId, newUser, unaffected, startNode, type Bystanders, type Peer, type TestNode } from './helpers.js';

const BODY = 60 * 1024;
const MESSAGES = 100;

describe('history bursts', () => {
  let t: TestNode;
  let by: Bystanders;

  before(async () => {
    t = await startNode();
    by = await bystanders(t);
  });
  after(async () => {
    by?.close();
    await t?.stop();
  });

  test('a page holds at most historyBytes of bodies; a pipelined burst from 10 connections is refused past historyInFlight, memory stays bounded and bystanders keep talking', async (ctx) => {
    const a = await newUser(t, 'hba');
    const b = await newUser(t, 'hbb');
    const conv = dm(a.name, b.name);
    for (let i = 0; i < MESSAGES; i++) {
      const id = msgId();
      a.peer.send({ t: 'send', id, to: `user:${b.name}`, body: String(i).padEnd(BODY, '.') });
      assert.equal((await a.peer.next((f) => f.id === id, 10_000)).t, 'sent');
    }
    const page = await b.peer.request({ t: 'history', conv, limit: 100 });
    const msgs = page.messages as Array<{ seq: number }>;
    assert.ok(msgs.length >= 1 && msgs.length <= Math.floor((1024 * 1024) / BODY) + 1, `${msgs.length} messages in one page`);
    assert.equal(page.more, true);
    assert.equal(msgs.at(-1)!.seq, MESSAGES, 'newest last');

    const peers: Peer[] = [];
    for (let i = 0; i < 5; i++) peers.push(await connect(t, a.name, `x${i}`), await connect(t, b.name, `x${i}`));
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    try {
      await unaffected(t, by, async () => {
        for (const p of peers) for (let k = 0; k < 100; k++) p.send({ t: 'history', rid: `hb${k}`, conv, limit: 100 });
        let answered = 0;
        let refused = 0;
        for (const p of peers) {
          for (let k = 0; k < 100; k++) {
            const f = await p.next((x) => x.rid === `hb${k}`, 30_000, `answer hb${k}`);
            if (f.t === 'history') answered++;
            else {
              assert.equal(f.code, 'rate_limited', JSON.stringify(f).slice(0, 300));
              refused++;
            }
          }
        }
        assert.ok(refused >= 900, `${refused} refused, ${answered} answered`);
        ctx.diagnostic(`${answered} answered, ${refused} refused`);
      });
    } finally {
      clearInterval(sample);
      for (const p of peers) p.close();
      a.peer.close();
      b.peer.close();
    }
    const grew = (peak - rss0) / 2 ** 20;
    ctx.diagnostic(`RSS grew ${grew.toFixed(0)} MiB during the burst`);
    assert.ok(grew < 300, `RSS grew ${grew.toFixed(0)} MiB during the burst`);
  });
});
