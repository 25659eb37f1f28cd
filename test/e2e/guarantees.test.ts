// Guarantees (issue 4, §4), each against a real node over real sockets:
// offline delivery in order (and the window of unacknowledged entries),
// entries kept until every device acknowledged, dedupe on resend, one order
// for every device of a group under concurrent senders, multi-device sync,
// receipts for a sender who was offline. Kill -9 and expiry have their own files.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestUser, dm, mid, sleep, startNode, type Frame, type Peer, type TestNode } from '../fixtures/chat-node.js';

/** A small window, so "a window at a time" is visible with few messages. */
const WINDOW = 16;

let n: TestNode;
before(async () => {
  n = await startNode({ limits: { window: WINDOW } });
});
after(async () => {
  await n?.stop();
});

const isMsg = (f: Frame): boolean => f.t === 'msg';
const hasInbox = (f: Frame): boolean => typeof f.inbox === 'number' && f.t !== 'ready';

/** Registers a device (its first auth) and leaves it offline. */
async function register(u: TestUser, device = 'phone'): Promise<void> {
  const p = await u.connect(device);
  await p.close();
}

async function sendAll(p: Peer, to: string, bodies: unknown[]): Promise<Frame[]> {
  const ids = bodies.map(() => mid());
  bodies.forEach((body, i) => p.send({ t: 'send', id: ids[i], to, body }));
  return Promise.all(ids.map((id) => p.next((f) => f.t === 'sent' && f.id === id, 10_000)));
}

function assertGapFree(msgs: Frame[], what: string): void {
  const byConv = new Map<string, number[]>();
  for (const m of msgs) {
    let a = byConv.get(m.conv);
    if (a === undefined) byConv.set(m.conv, (a = []));
    a.push(m.seq);
  }
  for (const [conv, seqs] of byConv) assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), `${what}: ${conv} in seq order, no gaps`);
}

test('an offline recipient gets everything, in order, after reconnecting — a window of unacknowledged entries at a time', async () => {
  const [alice, carol, bob] = await Promise.all([TestUser.create(n, 'ofa'), TestUser.create(n, 'ofc'), TestUser.create(n, 'ofb')]);
  try {
    await register(bob);
    const pa = await alice.connect();
    const pc = await carol.connect();
    const g = (await pa.request({ t: 'group_create', name: 'offline', members: [bob.user, carol.user] })).group;
    const sent = [
      ...(await sendAll(pa, `user:${bob.user}`, Array.from({ length: 30 }, (_, i) => `a${i}`))),
      ...(await sendAll(pc, `user:${bob.user}`, Array.from({ length: 20 }, (_, i) => `c${i}`))),
      ...(await sendAll(pa, `group:${g.id}`, Array.from({ length: 10 }, (_, i) => `g${i}`))),
    ];
    const total = sent.length + 1; // and the group's `created` event

    const pb = await bob.connect();
    assert.equal(pb.ready!.inbox, 0);
    const first = await pb.take(WINDOW, hasInbox);
    await sleep(300);
    assert.equal(pb.all(hasInbox).length, WINDOW, `no more than the window (${WINDOW}) before an ack`);
    pb.ack(first[WINDOW - 1]!.inbox);
    await pb.take(WINDOW, hasInbox);
    pb.autoAck = true;
    pb.ack(pb.highestInbox);
    await pb.take(total - 2 * WINDOW, hasInbox, 10_000);
    const entries = pb.all(hasInbox);
    assert.deepEqual(entries.map((f) => f.inbox), Array.from({ length: total }, (_, i) => i + 1), 'inbox 1, 2, 3 … in order');
    const msgs = entries.filter(isMsg);
    assert.deepEqual(msgs.map((m) => m.id).sort(), sent.map((s) => s.id).sort(), 'every message');
    assertGapFree(msgs, 'bob');
    assert.equal(entries[0]!.t, 'group_event');
    assert.equal(entries.filter((f) => f.t === 'msg' && f.conv === dm(alice.user, bob.user)).map((m) => m.body).join(), Array.from({ length: 30 }, (_, i) => `a${i}`).join());
  } finally {
    await Promise.all([alice.closeAll(), carol.closeAll(), bob.closeAll()]);
  }
});

test('a device that sent more than a window of messages in a row still gets what comes next (its own entries do not stall its window)', async () => {
  const [alice, bob] = await Promise.all([TestUser.create(n, 'wsa'), TestUser.create(n, 'wsb')]);
  try {
    await register(bob); // offline: no receipts come between alice's own entries
    const pa = await alice.connect('phone', { autoAck: true });
    await sendAll(pa, `user:${bob.user}`, Array.from({ length: WINDOW + 4 }, (_, i) => i));
    const pb = await bob.connect('phone');
    const reply = await pb.sendMsg(`user:${alice.user}`, 'your turn');
    const got = await pa.next((f) => f.t === 'msg' && f.id === reply.id);
    assert.equal(got.body, 'your turn');
    // And after a reconnect of the sending device.
    const again = await pb.sendMsg(`user:${alice.user}`, 'again');
    await pa.close();
    const pa2 = await alice.connect('phone', { autoAck: true });
    await pa2.next((f) => f.t === 'msg' && f.id === again.id);
  } finally {
    await Promise.all([alice.closeAll(), bob.closeAll()]);
  }
});

test('entries stay until every device has acknowledged them: a device offline meanwhile still gets all of them', async () => {
  const [alice, bob] = await Promise.all([TestUser.create(n, 'sta'), TestUser.create(n, 'stb')]);
  try {
    await register(bob, 'laptop');
    const pa = await alice.connect();
    const phone = await bob.connect('phone', { autoAck: true });
    const sent = await sendAll(pa, `user:${bob.user}`, [1, 2, 3, 4, 5]);
    await phone.take(5, isMsg);
    await phone.sync();
    await sleep(100); // the phone's acks are in
    await phone.close();
    const again = await bob.connect('phone');
    assert.equal(again.ready!.inbox, 5, 'the phone acknowledged all five');
    const laptop = await bob.connect('laptop', { autoAck: true });
    assert.equal(laptop.ready!.inbox, 0);
    const got = await laptop.take(5, isMsg);
    assert.deepEqual(got.map((m) => m.id), sent.map((s) => s.id));
    await again.sync();
    assert.equal(again.all(isMsg).length, 0, 'the phone gets none of them again');
  } finally {
    await Promise.all([alice.closeAll(), bob.closeAll()]);
  }
});

test('resending the same id answers the same sent and delivers once — across reconnects of the sender, to an offline recipient', async () => {
  const [alice, bob] = await Promise.all([TestUser.create(n, 'rsa'), TestUser.create(n, 'rsb')]);
  try {
    await register(bob);
    const id = mid();
    const answers: Frame[] = [];
    for (let i = 0; i < 3; i++) {
      const pa = await alice.connect();
      answers.push(await pa.sendMsg(`user:${bob.user}`, { text: 'exactly once' }, id));
      await pa.close(); // a client that lost the connection sends it again
    }
    assert.equal(answers[0]!.t, 'sent');
    assert.deepEqual(answers[1], answers[0]);
    assert.deepEqual(answers[2], answers[0]);
    const pa = await alice.connect();
    const next = await pa.sendMsg(`user:${bob.user}`, 'next');
    assert.equal(next.seq, answers[0]!.seq + 1, 'the repeats took no seq');
    const pb = await bob.connect('phone', { autoAck: true });
    await pb.next((f) => f.t === 'msg' && f.id === next.id);
    await sleep(200);
    assert.deepEqual(pb.all(isMsg).map((m) => m.id), [id, next.id], 'delivered once');
  } finally {
    await Promise.all([alice.closeAll(), bob.closeAll()]);
  }
});

test('concurrent senders in one group: every member device sees the same order, with no gaps', async () => {
  const SENDERS = 4;
  const EACH = 25;
  const us = await Promise.all(Array.from({ length: SENDERS }, (_, i) => TestUser.create(n, `cg${i}`)));
  try {
    const phones = await Promise.all(us.map((u) => u.connect('phone', { autoAck: true })));
    const laptops = await Promise.all(us.slice(0, 2).map((u) => u.connect('laptop', { autoAck: true })));
    const g = (await phones[0]!.request({ t: 'group_create', name: 'race', members: us.slice(1).map((u) => u.user) })).group;
    const to = `group:${g.id}`;
    // All senders pipeline at once.
    const sent = (await Promise.all(phones.map((p, k) => sendAll(p, to, Array.from({ length: EACH }, (_, i) => `${k}:${i}`))))).flat();
    const total = SENDERS * EACH;
    assert.deepEqual(sent.map((s) => s.seq).sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i + 1), 'seqs 1…N, each once');
    const orderBySent = new Map(sent.map((s) => [s.seq, s.id]));
    const expected = Array.from({ length: total }, (_, i) => orderBySent.get(i + 1));
    const devices: Array<{ p: Peer; own: Frame[] }> = [
      // A sending device gets `sent` for its own messages, not `msg` (`sent` is grouped by sender).
      ...phones.map((p, k) => ({ p, own: sent.slice(k * EACH, (k + 1) * EACH) })),
      ...laptops.map((p) => ({ p, own: [] })),
    ];
    for (const [i, d] of devices.entries()) {
      const msgs = await d.p.take(total - d.own.length, (f) => f.t === 'msg' && f.conv === `g:${g.id}`, 15_000);
      const seqs = msgs.map((m) => m.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `device ${i}: msgs arrive in seq order`);
      const seen = [...msgs, ...d.own].sort((a, b) => a.seq - b.seq);
      assert.deepEqual(seen.map((m) => m.seq), Array.from({ length: total }, (_, j) => j + 1), `device ${i}: no gaps`);
      assert.deepEqual(seen.map((m) => m.id), expected, `device ${i}: the same order as everyone`);
    }
  } finally {
    await Promise.all(us.map((u) => u.closeAll()));
  }
});

test('multi-device: the sender\u2019s other devices get the message; reading on one device sends read_sync to the others', async () => {
  const [alice, bob] = await Promise.all([TestUser.create(n, 'mda'), TestUser.create(n, 'mdb')]);
  try {
    await register(alice, 'tablet'); // offline throughout
    const phone = await alice.connect('phone', { autoAck: true });
    const laptop = await alice.connect('laptop', { autoAck: true });
    const pb = await bob.connect('phone', { autoAck: true });
    const mine = await phone.sendMsg(`user:${bob.user}`, 'from my phone');
    const onLaptop = await laptop.next((f) => f.t === 'msg' && f.id === mine.id);
    assert.equal(onLaptop.device, 'phone');
    assert.equal(onLaptop.seq, mine.seq);
    const theirs = await pb.sendMsg(`user:${alice.user}`, 'reply');
    await phone.next((f) => f.t === 'msg' && f.id === theirs.id);
    await laptop.next((f) => f.t === 'msg' && f.id === theirs.id);
    phone.send({ t: 'read', conv: theirs.conv, seq: theirs.seq });
    const sync = await laptop.next((f) => f.t === 'read_sync');
    assert.equal(sync.conv, theirs.conv);
    assert.equal(sync.upTo, theirs.seq);
    const receipt = await pb.next((f) => f.t === 'receipt' && f.status === 'read');
    assert.equal(receipt.upTo, theirs.seq);
    // The device that was offline gets all of it, in order, when it comes back.
    const tablet = await alice.connect('tablet', { autoAck: true });
    const m1 = await tablet.next((f) => f.t === 'msg' && f.id === mine.id);
    const m2 = await tablet.next((f) => f.t === 'msg' && f.id === theirs.id);
    const s = await tablet.next((f) => f.t === 'read_sync');
    assert.equal(s.upTo, theirs.seq);
    assert.ok(m1.inbox < m2.inbox && m2.inbox < s.inbox);
    await phone.sync();
    assert.equal(phone.all((f) => f.t === 'read_sync').length, 0, 'not to the device that read');
  } finally {
    await Promise.all([alice.closeAll(), bob.closeAll()]);
  }
});

test('delivered and read receipts reach a sender who was offline when they happened', async () => {
  const [alice, bob] = await Promise.all([TestUser.create(n, 'ora'), TestUser.create(n, 'orb')]);
  try {
    await register(bob);
    let pa = await alice.connect('phone', { autoAck: true });
    const sent = await sendAll(pa, `user:${bob.user}`, ['one', 'two']);
    await pa.close();
    const pb = await bob.connect('phone', { autoAck: true });
    await pb.take(2, isMsg);
    pb.send({ t: 'read', conv: sent[0]!.conv, seq: 2 });
    await pb.sync();
    await sleep(200);
    await pb.close();
    pa = await alice.connect('phone');
    const receipts: Frame[] = [];
    const delivered = new Set<number>();
    let read: Frame | undefined;
    while (delivered.size < 2 || read === undefined) {
      const r = await pa.next((f) => f.t === 'receipt', 5000);
      receipts.push(r);
      assert.equal(r.by, bob.user);
      assert.equal(r.conv, sent[0]!.conv);
      if (r.status === 'delivered') for (const s of r.seqs) delivered.add(s);
      else read = r;
    }
    assert.deepEqual([...delivered].sort(), [1, 2]);
    assert.equal(read.upTo, 2);
    const inboxes = receipts.map((r) => r.inbox);
    assert.deepEqual(inboxes, [...inboxes].sort((a, b) => a - b), 'in inbox order');
    await pa.sync();
    assert.equal(pa.all(isMsg).length, 0, 'the sending device never gets its own messages, after a reconnect either');
  } finally {
    await Promise.all([alice.closeAll(), bob.closeAll()]);
  }
});
