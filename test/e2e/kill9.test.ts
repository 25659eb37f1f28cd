// Guarantee (issue 4, §4): a message answered with `sent` survives kill -9 of
// the node immediately afterwards. The node runs as `parley start` in a child
// process; it is killed with SIGKILL right after the last `sent`, started
// again on the same data, and the recipient gets every message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Peer, TestUser, mid, tmpData, type Frame } from '../fixtures/chat-node.js';
import { spawnNode, type ChildNode } from '../fixtures/chat-process.js';

interface ChildCtx {
  node: ChildNode;
  /** Peers to kill with the node (and at the end). */
  peers: Peer[];
  /** kill -9 the node and its peers, then start a node again on the same data. */
  crashAndRestart(): Promise<ChildNode>;
}

/**
 * Runs `fn` against a node in a child process on a fresh data directory.
 * The peers in `ctx.peers`, the node and the data are cleaned up however it
 * ends; a failure carries the node's stderr.
 */
async function withChildNode(prefix: string, fn: (ctx: ChildCtx) => Promise<void>): Promise<void> {
  const data = tmpData(prefix);
  const ctx: ChildCtx = {
    node: null as unknown as ChildNode,
    peers: [],
    async crashAndRestart() {
      await ctx.node.kill9();
      for (const p of ctx.peers) p.kill();
      return (ctx.node = await spawnNode(data));
    },
  };
  try {
    ctx.node = await spawnNode(data);
    await fn(ctx);
  } catch (e) {
    if (ctx.node) (e as Error).message += `\nnode stderr:\n${ctx.node.stderr().slice(-4000)}`;
    throw e;
  } finally {
    for (const p of ctx.peers) p.kill();
    await ctx.node?.kill9().catch(() => undefined);
    rmSync(data, { recursive: true, force: true });
  }
}

test('kill -9 right after sent loses nothing: the recipient gets every message after a restart on the same data', { timeout: 90_000 }, () =>
  withChildNode('parley-kill9-', async (ctx) => {
    const { peers } = ctx;
    const node = ctx.node;
    // Real accounts over HTTP; the tokens stay valid across the restart.
    const alice = await TestUser.create(node, 'alice', { account: true });
    const bob = await TestUser.create(node, 'bob', { account: true });
    const carol = await TestUser.create(node, 'carol', { account: true });
    const aliceToken = await alice.token('phone');
    const bobToken = await bob.token('phone');
    const carolToken = await carol.token('phone');
    // Bob registers his device, puts keys, and goes offline.
    const pb0 = await bob.connect('phone');
    await pb0.request({ t: 'keys_put', identityKey: 'ik', signedPreKey: { id: 1, key: 'spk', sig: 's' }, oneTimePreKeys: [{ id: 1, key: 'otk1' }, { id: 2, key: 'otk2' }] });
    await pb0.close();
    const pc0 = await carol.connect('phone');
    await pc0.close();

    const pa = await alice.connect('phone');
    peers.push(pa);
    const g = (await pa.request({ t: 'group_create', name: 'crash', members: [bob.user, carol.user] })).group;
    // A one-time prekey handed out just before the crash must not be handed out again.
    const keys1 = await pa.request({ t: 'keys_get', user: bob.user });
    const otk1 = keys1.devices[0].oneTimePreKey;
    assert.notEqual(otk1, null);

    // Pipelined sends to a dm and a group; the node dies the moment the last `sent` is in.
    const K = 40;
    const plan = Array.from({ length: K }, (_, i) => ({ id: mid(), to: i % 2 === 0 ? `user:${bob.user}` : `group:${g.id}`, body: { i } }));
    for (const m of plan) pa.send({ t: 'send', ...m });
    const sent: Frame[] = [];
    for (const m of plan) sent.push(await pa.next((f) => f.t === 'sent' && f.id === m.id, 10_000));
    const addr = await ctx.crashAndRestart();
    const connect = async (token: string): Promise<Peer> => {
      const p = await Peer.connect(addr.ws, token, { autoAck: true });
      peers.push(p);
      return p;
    };
    const pb = await connect(bobToken);
    const pc = await connect(carolToken);
    // Bob is in both conversations: he gets all of them.
    const bobMsgs = await pb.take(sent.length, (f) => f.t === 'msg', 20_000);
    const byId = new Map(bobMsgs.map((m) => [m.id, m]));
    for (const s of sent) {
      const m = byId.get(s.id);
      assert.ok(m, `bob got ${s.id}`);
      assert.equal(m.seq, s.seq);
      assert.equal(m.ts, s.ts);
      assert.equal(m.conv, s.conv);
    }
    // Per conversation, in seq order with no gaps.
    for (const conv of new Set(bobMsgs.map((m) => m.conv))) {
      const seqs = bobMsgs.filter((m) => m.conv === conv).map((m) => m.seq);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), `${conv} in order`);
    }
    const groupSent = sent.filter((s) => s.conv === `g:${g.id}`);
    const carolMsgs = await pc.take(groupSent.length, (f) => f.t === 'msg', 20_000);
    assert.deepEqual(carolMsgs.map((m) => m.id), groupSent.map((s) => s.id));

    // Dedupe survives the crash: the same id answers the same sent and delivers nothing new.
    const pa2 = await connect(aliceToken);
    const last = plan[K - 1]!;
    pa2.send({ t: 'send', ...last });
    const again = await pa2.next((f) => f.t === 'sent' && f.id === last.id);
    assert.deepEqual(again, sent[K - 1]);
    // The prekey handed out before the crash is gone.
    const keys2 = await pa2.request({ t: 'keys_get', user: bob.user });
    assert.notDeepEqual(keys2.devices[0].oneTimePreKey, otk1);
    await pb.sync();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(pb.all((f) => f.t === 'msg' && f.id === last.id).length, 1, 'delivered once');
    // The conversation records are written lazily, the log at once: after the
    // crash each conversation goes on from its last seq, never reusing one.
    for (const conv of new Set(sent.map((x) => x.conv))) {
      const top = Math.max(...sent.filter((x) => x.conv === conv).map((x) => x.seq));
      const next = await pa2.sendMsg(conv.startsWith('g:') ? `group:${conv.slice(2)}` : `user:${bob.user}`, 'after the crash');
      assert.equal(next.seq, top + 1, `${conv} goes on from seq ${top}`);
    }
  }),
);

test('an ack is written within a second even when the user writes nothing else: after kill -9 the acknowledged entries are not sent again', { timeout: 60_000 }, () =>
  withChildNode('parley-kill9-ack-', async (ctx) => {
    const { peers, node } = ctx;
    const alice = await TestUser.create(node, 'alice', { account: true });
    const bob = await TestUser.create(node, 'bob', { account: true });
    const bobToken = await bob.token('phone');
    const pa = await alice.connect('phone');
    const pb = await bob.connect('phone');
    peers.push(pa, pb);
    for (let i = 1; i <= 3; i++) await pa.sendMsg(`user:${bob.user}`, i);
    const got = await pb.take(3, (f) => f.t === 'msg');
    pb.ack(got[2]!.inbox);
    // Acks ride on the user's next transaction, or are written by a timer (1 s) when there is none.
    await new Promise((r) => setTimeout(r, 2500));
    const restarted = await ctx.crashAndRestart();
    const pb2 = await Peer.connect(restarted.ws, bobToken, {});
    peers.push(pb2);
    assert.equal(pb2.ready!.inbox, got[2]!.inbox, 'ready carries the ack written before the crash');
    assert.deepEqual(await pb2.quiet((f) => f.t === 'msg', 500), [], 'nothing acknowledged is sent again');
  }),
);
