// Conformance: PROTOCOL.md `send`/`sent`, `msg`, `payloads`, `ack`, `read`,
// `receipt`, `read_sync`, `history`, `chats`, and the precise rules
// "Devices", "Order", "One message, one ts", "Dedupe", "Acks", "History",
// "Unread".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestUser, dm, mid, startNode, type Frame, type Peer, type TestNode } from '../fixtures/chat-node.js';

let n: TestNode;
before(async () => {
  n = await startNode();
});
after(async () => {
  await n?.stop();
});

const MSG_FIELDS = ['body', 'conv', 'device', 'from', 'id', 'inbox', 'seq', 't', 'ts', 'type'];
const HISTORY_FIELDS = ['body', 'conv', 'device', 'from', 'id', 'seq', 'ts', 'type'];

/** Users with one connected device each; everything is closed when `fn` ends. */
async function withUsers(prefixes: string[], fn: (us: TestUser[], ps: Peer[]) => Promise<void>): Promise<void> {
  const us = await Promise.all(prefixes.map((p) => TestUser.create(n, p)));
  try {
    const ps = await Promise.all(us.map((u) => u.connect('phone')));
    await fn(us, ps);
  } finally {
    await Promise.all(us.map((u) => u.closeAll()));
  }
}

const isMsg = (id?: string) => (f: Frame) => f.t === 'msg' && (id === undefined || f.id === id);

test('send → sent {id, conv, seq, ts}; conv of a one-to-one chat is dm:<a>:<b> with a < b', async () => {
  // "zed…" sends to "amy…": the conversation id still puts amy first.
  await withUsers(['zed', 'amy'], async ([z, a], [pz]) => {
    const id = mid();
    const t0 = Date.now();
    const s = await pz!.sendMsg(`user:${a!.user}`, { text: 'hi' }, id);
    assert.deepEqual(Object.keys(s).sort(), ['conv', 'id', 'seq', 't', 'ts']);
    assert.equal(s.t, 'sent');
    assert.equal(s.id, id);
    assert.equal(s.conv, `dm:${a!.user}:${z!.user}`);
    assert.equal(s.seq, 1);
    assert.ok(Number.isInteger(s.ts) && s.ts >= t0 - 1000 && s.ts <= Date.now() + 1000, 'ts in ms since the epoch');
  });
});

test('msg {inbox, conv, seq, id, from, device, ts, type, body}: body is any JSON value, type is passed through', async () => {
  await withUsers(['mfa', 'mfb'], async ([a, b], [pa, pb]) => {
    const bodies: unknown[] = [{ text: 'x', n: [1, 2, { deep: true }] }, 'a string', 42, null, [1, 'two'], false];
    for (const body of bodies) await pa!.sendMsg(`user:${b!.user}`, body);
    const s = await pa!.sendMsg(`user:${b!.user}`, { url: 'x' }, mid(), { type: 'image' });
    const got = await pb!.take(bodies.length + 1, isMsg());
    got.forEach((m, i) => {
      assert.deepEqual(Object.keys(m).sort(), MSG_FIELDS);
      assert.equal(m.conv, dm(a!.user, b!.user));
      assert.equal(m.seq, i + 1);
      assert.equal(m.from, a!.user);
      assert.equal(m.device, 'phone');
      assert.ok(Number.isInteger(m.inbox) && m.inbox >= 1);
      if (i < bodies.length) assert.deepEqual(m.body, bodies[i]);
    });
    assert.equal(got[bodies.length]!.type, 'image');
    assert.equal(got[bodies.length]!.id, s.id);
  });
});

test('Order: pipelined sends to one conversation get increasing seq in send order', async () => {
  await withUsers(['ora', 'orb'], async (us, [pa, pb]) => {
    const ids = Array.from({ length: 30 }, () => mid());
    for (const [i, id] of ids.entries()) pa!.send({ t: 'send', id, to: `user:${us[1]!.user}`, body: i });
    const sent = await Promise.all(ids.map((id) => pa!.next((f) => f.t === 'sent' && f.id === id)));
    assert.deepEqual(sent.map((s) => s.seq), ids.map((_, i) => i + 1));
    const msgs = await pb!.take(30, isMsg());
    assert.deepEqual(msgs.map((m) => m.id), ids);
    assert.deepEqual(msgs.map((m) => m.body), ids.map((_, i) => i));
  });
});

test('One message, one ts: sent, msg, a repeated sent, history and chats.lastTs carry the same value', async () => {
  await withUsers(['tsa', 'tsb'], async ([, b], [pa, pb]) => {
    const id = mid();
    const s1 = await pa!.sendMsg(`user:${b!.user}`, 'when', id);
    const m = await pb!.next(isMsg(id));
    const s2 = await pa!.sendMsg(`user:${b!.user}`, 'when', id);
    const h = await pb!.request({ t: 'history', conv: s1.conv });
    const ca = await pa!.request({ t: 'chats' });
    const cb = await pb!.request({ t: 'chats' });
    assert.equal(m.ts, s1.ts);
    assert.equal(s2.ts, s1.ts);
    assert.equal(h.messages[0].ts, s1.ts);
    assert.equal(ca.chats.find((c: Frame) => c.conv === s1.conv).lastTs, s1.ts);
    assert.equal(cb.chats.find((c: Frame) => c.conv === s1.conv).lastTs, s1.ts);
  });
});

test('Dedupe: sending the same id again answers the same sent and delivers nothing twice', async () => {
  await withUsers(['dda', 'ddb'], async ([, b], [pa, pb]) => {
    pb!.autoAck = true;
    const id = mid();
    // Pipelined repeats (the first not yet durable) and a later one.
    pa!.send({ t: 'send', id, to: `user:${b!.user}`, body: 'once' });
    pa!.send({ t: 'send', id, to: `user:${b!.user}`, body: 'once' });
    const first = await pa!.next((f) => f.t === 'sent' && f.id === id);
    const second = await pa!.next((f) => f.t === 'sent' && f.id === id);
    await pb!.next(isMsg(id));
    const third = await pa!.sendMsg(`user:${b!.user}`, 'once, even with another body', id);
    assert.deepEqual(second, first);
    assert.deepEqual(third, first);
    // A later message, then nothing more of the first one.
    const later = await pa!.sendMsg(`user:${b!.user}`, 'next');
    assert.equal(later.seq, first.seq + 1);
    await pb!.next(isMsg(later.id));
    await pb!.sync();
    assert.equal(pb!.all(isMsg(id)).length, 1, 'delivered once');
    const h = await pb!.request({ t: 'history', conv: first.conv });
    assert.deepEqual(h.messages.map((x: Frame) => x.id), [id, later.id]);
  });
});

test('Dedupe: a client id is unique per sending user — the same id from two senders is two messages', async () => {
  await withUsers(['dua', 'dub', 'duc'], async (_us, [pa, pb, pc]) => {
    const g = await pc!.request({ t: 'group_create', name: 'ids', members: us(pa!, pb!) });
    const id = mid();
    const sa = await pa!.sendMsg(`group:${g.group.id}`, 'from a', id);
    const sb = await pb!.sendMsg(`group:${g.group.id}`, 'from b', id);
    assert.equal(sa.t, 'sent');
    assert.equal(sb.t, 'sent');
    assert.notEqual(sa.seq, sb.seq);
    const got = await pc!.take(2, isMsg(id));
    assert.deepEqual(got.map((m) => m.body).sort(), ['from a', 'from b']);
  });
});

test('Dedupe: the same client id sent again to another recipient answers the first sent and delivers nothing', async () => {
  await withUsers(['dsa', 'dsb', 'dsc'], async (_us, [pa, pb, pc]) => {
    const id = mid();
    const first = await pa!.sendMsg(`user:${us(pb!)[0]}`, 'to b', id);
    const again = await pa!.sendMsg(`user:${us(pc!)[0]}`, 'to c', id);
    assert.deepEqual({ conv: again.conv, seq: again.seq, ts: again.ts }, { conv: first.conv, seq: first.seq, ts: first.ts });
    await pb!.next(isMsg(id));
    // c must get nothing: a later message from a, sent after the repeat, arrives first.
    const probe = await pa!.sendMsg(`user:${us(pc!)[0]}`, 'probe');
    const next = await pc!.next(isMsg());
    assert.equal(next.id, probe.id);
  });
});

function us(...ps: Peer[]): string[] {
  return ps.map((p) => p.ready!.user as string);
}

test('Devices: the sending device gets sent and not its own msg; the sender\u2019s other devices get the msg', async () => {
  const [a, b] = await Promise.all([TestUser.create(n, 'sda'), TestUser.create(n, 'sdb')]);
  try {
    const phone = await a.connect('phone');
    const laptop = await a.connect('laptop');
    const pb = await b.connect('phone');
    const s = await phone.sendMsg(`user:${b.user}`, 'mine');
    const onLaptop = await laptop.next(isMsg(s.id));
    assert.equal(onLaptop.from, a.user);
    assert.equal(onLaptop.device, 'phone');
    assert.equal(onLaptop.seq, s.seq);
    assert.equal(onLaptop.ts, s.ts);
    await pb.next(isMsg(s.id));
    // A later frame the phone does get proves the own msg had its chance to arrive.
    const s2 = await pb.sendMsg(`user:${a.user}`, 'reply');
    await phone.next(isMsg(s2.id));
    assert.equal(phone.all(isMsg(s.id)).length, 0, 'the sending device got no msg of its own');
  } finally {
    await a.closeAll();
    await b.closeAll();
  }
});

test('Devices: pipelined sends interleaved with the other user\u2019s reach the sender\u2019s other device once each, in seq order, and chats has the last', async () => {
  await withUsers(['pia', 'pib'], async ([a, b], [phone, pb]) => {
    const laptop = await a!.connect('laptop');
    const ids = Array.from({ length: 20 }, () => mid());
    const theirs = Array.from({ length: 20 }, () => mid());
    // Both sides send at once, without waiting: each answer races the other side's deliveries.
    for (let i = 0; i < ids.length; i++) {
      phone!.send({ t: 'send', id: ids[i], to: `user:${b!.user}`, body: i });
      pb!.send({ t: 'send', id: theirs[i], to: `user:${a!.user}`, body: -i });
    }
    const sent = await phone!.take(ids.length, (f) => f.t === 'sent');
    const msgs = await laptop.take(ids.length * 2, isMsg());
    assert.deepEqual(msgs.map((m) => m.seq), [...Array(ids.length * 2).keys()].map((i) => i + 1), 'every seq once, in order');
    assert.deepEqual(msgs.filter((m) => m.from === a!.user).map((m) => m.id), ids, 'own messages in send order');
    assert.deepEqual(new Set(sent.map((s) => s.id)), new Set(ids));
    const chats = await laptop.request({ t: 'chats' });
    assert.equal(chats.chats[0].lastSeq, ids.length * 2);
  });
});

test('Devices: a sender with a single device keeps no inbox entry of its own message, so its first entry is the receipt', async () => {
  await withUsers(['oda', 'odb'], async ([a, b], [pa, pb]) => {
    const s = await pa!.sendMsg(`user:${b!.user}`, 'only phone');
    await pb!.next(isMsg(s.id));
    pb!.ack(1);
    const r = await pa!.next((f) => f.t === 'receipt');
    assert.equal(r.inbox, 1, 'the receipt is entry 1: the own message took no number');
    // A second device registered afterwards starts after it, and the history has it.
    const laptop = await a!.connect('laptop');
    assert.equal(laptop.ready!.inbox, 0);
    const h = await laptop.request({ t: 'history', conv: s.conv });
    assert.deepEqual(h.messages.map((m: { id: string }) => m.id), [s.id]);
  });
});

test('payloads: each recipient device and each of the sender\u2019s other devices receives its own entry as body', async () => {
  const [a, b] = await Promise.all([TestUser.create(n, 'pla'), TestUser.create(n, 'plb')]);
  try {
    const aPhone = await a.connect('phone');
    const aLaptop = await a.connect('laptop');
    const bPhone = await b.connect('phone');
    const bTablet = await b.connect('tablet');
    const payloads = { [`${b.user}/phone`]: 'cipher-b-phone', [`${b.user}/tablet`]: { c: 'cipher-b-tablet' }, [`${a.user}/laptop`]: 'cipher-a-laptop' };
    aPhone.send({ t: 'send', id: mid(), to: `user:${b.user}`, payloads });
    const s = await aPhone.next((f) => f.t === 'sent' || f.t === 'error');
    assert.equal(s.t, 'sent', JSON.stringify(s));
    assert.equal((await bPhone.next(isMsg(s.id))).body, 'cipher-b-phone');
    assert.deepEqual((await bTablet.next(isMsg(s.id))).body, { c: 'cipher-b-tablet' });
    assert.equal((await aLaptop.next(isMsg(s.id))).body, 'cipher-a-laptop');
    // History shows each device its own entry too.
    const h = await bTablet.request({ t: 'history', conv: s.conv });
    assert.deepEqual(h.messages[0].body, { c: 'cipher-b-tablet' });
  } finally {
    await a.closeAll();
    await b.closeAll();
  }
});

test('payloads that do not match the registered devices: error conflict {missing, extra} ("user/device" strings), and nothing is sent', async () => {
  const [a, b] = await Promise.all([TestUser.create(n, 'pca'), TestUser.create(n, 'pcb')]);
  try {
    const aPhone = await a.connect('phone');
    await a.connect('laptop');
    const bPhone = await b.connect('phone');
    await b.connect('tablet');
    const id = mid();
    // b/tablet and a/laptop missing; b/watch is not a device, and the sending device itself is not a recipient.
    aPhone.send({ t: 'send', id, to: `user:${b.user}`, payloads: { [`${b.user}/phone`]: 1, [`${b.user}/watch`]: 2, [`${a.user}/phone`]: 3 } });
    const e = await aPhone.next((f) => f.id === id);
    assert.equal(e.t, 'error');
    assert.equal(e.code, 'conflict');
    assert.deepEqual([...e.missing].sort(), [`${a.user}/laptop`, `${b.user}/tablet`].sort());
    assert.deepEqual([...e.extra].sort(), [`${a.user}/phone`, `${b.user}/watch`].sort());
    // Nothing was sent: the next message is seq 1, and b saw only that one.
    const ok = await aPhone.sendMsg(`user:${b.user}`, 'plain');
    assert.equal(ok.seq, 1);
    const m = await bPhone.next(isMsg());
    assert.equal(m.id, ok.id);
    // The refused id is free: it can be sent again, correctly, and is then delivered.
    aPhone.send({ t: 'send', id, to: `user:${b.user}`, payloads: { [`${b.user}/phone`]: 'p', [`${b.user}/tablet`]: 't', [`${a.user}/laptop`]: 'l' } });
    const s = await aPhone.next((f) => f.id === id);
    assert.equal(s.t, 'sent', JSON.stringify(s));
    assert.equal((await bPhone.next(isMsg(id))).body, 'p');
  } finally {
    await a.closeAll();
    await b.closeAll();
  }
});

test('ack is cumulative: after ack N, a reconnect gets ready.inbox N and only what follows', async () => {
  const [a, b] = await Promise.all([TestUser.create(n, 'aca'), TestUser.create(n, 'acb')]);
  try {
    const pa = await a.connect();
    let pb = await b.connect();
    for (let i = 1; i <= 5; i++) await pa.sendMsg(`user:${b.user}`, i);
    const got = await pb.take(5, isMsg());
    assert.deepEqual(got.map((m) => m.inbox), [1, 2, 3, 4, 5]);
    pb.ack(3); // one ack covers 1, 2 and 3
    await pb.sync();
    await pb.close();
    pb = await b.connect();
    assert.equal(pb.ready!.inbox, 3);
    const again = await pb.take(2, isMsg());
    assert.deepEqual(again.map((m) => m.body), [4, 5]);
    await pb.sync();
    assert.equal(pb.all(isMsg()).length, 2, 'nothing up to the ack is delivered again');
  } finally {
    await a.closeAll();
    await b.closeAll();
  }
});

test('Acks: acking a number the device was never sent is bad_request, and the connection stays open', async () => {
  await withUsers(['aba', 'abb'], async ([, b], [pa, pb]) => {
    await pa!.sendMsg(`user:${b!.user}`, 'one');
    const m = await pb!.next(isMsg());
    pb!.ack(m.inbox + 1);
    const e = await pb!.next((f) => f.t === 'error');
    assert.equal(e.code, 'bad_request');
    await pb!.sync();
    assert.equal(pb!.closeCode, null);
    // The failed ack moved nothing: a valid one still works and the sender gets delivered.
    pb!.ack(m.inbox);
    const r = await pa!.next((f) => f.t === 'receipt' && f.status === 'delivered');
    assert.deepEqual(r.seqs, [1]);
  });
});

test('receipt delivered {inbox, conv, by, status, seqs}: sent once a device of the recipient has acknowledged, not before', async () => {
  await withUsers(['dla', 'dlb'], async ([a, b], [pa, pb]) => {
    const s1 = await pa!.sendMsg(`user:${b!.user}`, 1);
    const s2 = await pa!.sendMsg(`user:${b!.user}`, 2);
    await pb!.take(2, isMsg());
    const early = await pa!.quiet((f) => f.t === 'receipt', 300);
    assert.equal(early.length, 0, 'no delivered receipt before the ack');
    pb!.ack(2);
    const seen = new Set<number>();
    while (seen.size < 2) {
      const r = await pa!.next((f) => f.t === 'receipt');
      assert.deepEqual(Object.keys(r).sort(), ['by', 'conv', 'inbox', 'seqs', 'status', 't']);
      assert.equal(r.status, 'delivered');
      assert.equal(r.by, b!.user);
      assert.equal(r.conv, dm(a!.user, b!.user));
      for (const s of r.seqs) seen.add(s);
    }
    assert.deepEqual([...seen].sort(), [s1.seq, s2.seq]);
  });
});

test('receipt delivered in a group: the sender gets one from each member whose device acknowledged', async () => {
  await withUsers(['gda', 'gdb', 'gdc'], async ([, b, c], [pa, pb, pc]) => {
    const g = (await pa!.request({ t: 'group_create', name: 'acks', members: [b!.user, c!.user] })).group;
    const s = await pa!.sendMsg(`group:${g.id}`, 'did you get it');
    const mb = await pb!.next(isMsg(s.id));
    await pc!.next(isMsg(s.id));
    pb!.ack(mb.inbox);
    const rb = await pa!.next((f) => f.t === 'receipt' && f.status === 'delivered');
    assert.equal(rb.by, b!.user);
    assert.equal(rb.conv, `g:${g.id}`);
    assert.deepEqual(rb.seqs, [s.seq]);
    const early = await pa!.quiet((f) => f.t === 'receipt' && f.by === c!.user, 200);
    assert.equal(early.length, 0, 'none from c before c acknowledged');
    pc!.ack(pc!.highestInbox);
    const rc = await pa!.next((f) => f.t === 'receipt' && f.status === 'delivered');
    assert.equal(rc.by, c!.user);
    assert.deepEqual(rc.seqs, [s.seq]);
  });
});

test('read → a read receipt {status: read, upTo} to the sender, read_sync to the reader\u2019s other devices only', async () => {
  const [a, b] = await Promise.all([TestUser.create(n, 'rda'), TestUser.create(n, 'rdb')]);
  try {
    const pa = await a.connect('phone');
    const bPhone = await b.connect('phone');
    const bLaptop = await b.connect('laptop');
    for (let i = 1; i <= 3; i++) await pa.sendMsg(`user:${b.user}`, i);
    await bPhone.take(3, isMsg());
    const conv = dm(a.user, b.user);
    bPhone.send({ t: 'read', conv, seq: 2 });
    const r = await pa.next((f) => f.t === 'receipt' && f.status === 'read');
    assert.deepEqual(Object.keys(r).sort(), ['by', 'conv', 'inbox', 'status', 't', 'upTo']);
    assert.equal(r.by, b.user);
    assert.equal(r.conv, conv);
    assert.equal(r.upTo, 2);
    const sync = await bLaptop.next((f) => f.t === 'read_sync');
    assert.deepEqual(Object.keys(sync).sort(), ['conv', 'inbox', 't', 'upTo']);
    assert.equal(sync.conv, conv);
    assert.equal(sync.upTo, 2);
    // read is cumulative: reading an older seq sends nothing; a newer one sends upTo 3.
    bPhone.send({ t: 'read', conv, seq: 1 });
    bPhone.send({ t: 'read', conv, seq: 3 });
    const r3 = await pa.next((f) => f.t === 'receipt' && f.status === 'read');
    assert.equal(r3.upTo, 3);
    await bLaptop.next((f) => f.t === 'read_sync' && f.upTo === 3);
    await bPhone.sync();
    await pa.sync();
    assert.equal(pa.all((f) => f.t === 'receipt' && f.status === 'read').length, 2);
    assert.equal(bPhone.all((f) => f.t === 'read_sync').length, 0, 'the reading device gets no read_sync');
  } finally {
    await a.closeAll();
    await b.closeAll();
  }
});

test('Unread: in a group, each member\u2019s read receipt goes to the senders of the messages read', async () => {
  await withUsers(['gra', 'grb', 'grc'], async ([a, b, c], [pa, pb, pc]) => {
    const g = (await pa!.request({ t: 'group_create', name: 'reads', members: [b!.user, c!.user] })).group;
    const s1 = await pa!.sendMsg(`group:${g.id}`, 'from a');
    const s2 = await pb!.sendMsg(`group:${g.id}`, 'from b');
    await pc!.take(2, isMsg());
    pc!.send({ t: 'read', conv: s1.conv, seq: s2.seq });
    const ra = await pa!.next((f) => f.t === 'receipt' && f.status === 'read' && f.by === c!.user);
    const rb = await pb!.next((f) => f.t === 'receipt' && f.status === 'read' && f.by === c!.user);
    assert.equal(ra.upTo, s2.seq);
    assert.equal(rb.upTo, s2.seq);
    assert.equal(ra.conv, `g:${g.id}`);
    // a reads up to 1 (its own message only): nobody else sent it, so nobody gets a receipt.
    await pa!.next(isMsg(s2.id));
    pa!.send({ t: 'read', conv: s1.conv, seq: s1.seq });
    await pa!.sync();
    // b reads both: only a (sender of 1) gets b's receipt.
    await pb!.next(isMsg(s1.id));
    pb!.send({ t: 'read', conv: s1.conv, seq: s2.seq });
    const fromB = await pa!.next((f) => f.t === 'receipt' && f.status === 'read' && f.by === b!.user);
    assert.equal(fromB.upTo, s2.seq);
    await pb!.sync();
    await pc!.sync();
    assert.equal(pc!.all((f) => f.t === 'receipt' && f.status === 'read').length, 0, 'c sent nothing: no read receipts');
    assert.equal(pb!.all((f) => f.t === 'receipt' && f.status === 'read' && f.by === a!.user).length, 0, 'a read only its own message');
  });
});

test('history {rid, conv, messages, more}: newest last, default limit 50, limit ≤ 100, before exclusive, more says older exist', async () => {
  await withUsers(['hia', 'hib'], async ([a, b], [pa, pb]) => {
    const total = 120;
    const ids: string[] = [];
    for (let i = 1; i <= total; i++) {
      const id = mid();
      ids.push(id);
      pa!.send({ t: 'send', id, to: `user:${b!.user}`, body: i });
    }
    await pa!.next((f) => f.t === 'sent' && f.id === ids[total - 1]);
    const conv = dm(a!.user, b!.user);
    const seqs = (h: Frame): number[] => h.messages.map((m: Frame) => m.seq);
    const range = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

    const dflt = await pb!.request({ t: 'history', conv });
    assert.deepEqual(Object.keys(dflt).sort(), ['conv', 'messages', 'more', 'rid', 't']);
    assert.equal(dflt.conv, conv);
    assert.deepEqual(seqs(dflt), range(71, 120), 'the newest 50, newest last');
    assert.equal(dflt.more, true);
    for (const m of dflt.messages) {
      assert.deepEqual(Object.keys(m).sort(), HISTORY_FIELDS, 'the msg fields without inbox');
      assert.equal(m.id, ids[m.seq - 1]);
      assert.equal(m.body, m.seq);
      assert.equal(m.from, a!.user);
    }
    const max = await pb!.request({ t: 'history', conv, limit: 100 });
    assert.deepEqual(seqs(max), range(21, 120));
    assert.equal(max.more, true);
    const over = await pb!.request({ t: 'history', conv, limit: 101 });
    assert.equal(over.t, 'error');
    assert.equal(over.code, 'bad_request');
    const page = await pb!.request({ t: 'history', conv, before: 60, limit: 5 });
    assert.deepEqual(seqs(page), [55, 56, 57, 58, 59], 'before is exclusive');
    assert.equal(page.more, true);
    const oldest = await pb!.request({ t: 'history', conv, before: 21, limit: 100 });
    assert.deepEqual(seqs(oldest), range(1, 20));
    assert.equal(oldest.more, false, 'nothing older than seq 1');
    const exact = await pb!.request({ t: 'history', conv, before: 11, limit: 10 });
    assert.deepEqual(seqs(exact), range(1, 10));
    assert.equal(exact.more, false);
    const none = await pb!.request({ t: 'history', conv, before: 1 });
    assert.deepEqual(none.messages, []);
    assert.equal(none.more, false);
    // The sender sees the same history.
    assert.deepEqual(seqs(await pa!.request({ t: 'history', conv, limit: 3 })), [118, 119, 120]);
  });
});

test('history of a conversation one is not in is forbidden', async () => {
  await withUsers(['hfa', 'hfb', 'hfc'], async ([a, b], [pa, , pc]) => {
    await pa!.sendMsg(`user:${b!.user}`, 'private');
    const r = await pc!.request({ t: 'history', conv: dm(a!.user, b!.user) });
    assert.equal(r.t, 'error');
    assert.equal(r.code, 'forbidden');
  });
});

test('chats {rid, chats: [{conv, lastSeq, lastTs, unread}]}: unread counts messages from others after the read position', async () => {
  await withUsers(['cha', 'chb', 'chc'], async ([a, b, c], [pa, pb, pc]) => {
    for (let i = 0; i < 3; i++) await pa!.sendMsg(`user:${b!.user}`, `a${i}`);
    await pb!.sendMsg(`user:${a!.user}`, 'b0'); // b's own message: not unread for b
    const last = await pc!.sendMsg(`user:${b!.user}`, 'c0');
    const ab = dm(a!.user, b!.user);
    const bc = dm(b!.user, c!.user);
    await pb!.take(4, isMsg());
    let chats = (await pb!.request({ t: 'chats' })) as Frame;
    assert.deepEqual(Object.keys(chats).sort(), ['chats', 'rid', 't']);
    const row = (conv: string): Frame => chats.chats.find((x: Frame) => x.conv === conv);
    assert.deepEqual(Object.keys(row(ab)).sort(), ['conv', 'lastSeq', 'lastTs', 'unread']);
    assert.equal(row(ab).lastSeq, 4);
    assert.equal(row(ab).unread, 3);
    assert.equal(row(bc).lastSeq, 1);
    assert.equal(row(bc).unread, 1);
    assert.equal(row(bc).lastTs, last.ts);
    pb!.send({ t: 'read', conv: ab, seq: 2 });
    chats = await pb!.request({ t: 'chats' });
    assert.equal(row(ab).unread, 1, 'read up to 2: one of a\u2019s messages left');
    pb!.send({ t: 'read', conv: ab, seq: 4 });
    chats = await pb!.request({ t: 'chats' });
    assert.equal(row(ab).unread, 0);
    // The sender has no unread of its own messages.
    const forA = (await pa!.request({ t: 'chats' })).chats.find((x: Frame) => x.conv === ab);
    assert.equal(forA.unread, 1, 'a has b\u2019s one message unread');
  });
});

test('Devices: a new device starts from the oldest entry still retained', async () => {
  const [a, b] = await Promise.all([TestUser.create(n, 'nda'), TestUser.create(n, 'ndb')]);
  try {
    const pa = await a.connect();
    const phone = await b.connect('phone');
    for (let i = 1; i <= 3; i++) await pa.sendMsg(`user:${b.user}`, i);
    await phone.take(3, isMsg()); // not acknowledged: all three are retained
    const tablet = await b.connect('tablet');
    assert.equal(tablet.ready!.inbox, 0);
    const got = await tablet.take(3, isMsg());
    assert.deepEqual(got.map((m) => m.body), [1, 2, 3]);
    const s = await pa.sendMsg(`user:${b.user}`, 4);
    await tablet.next(isMsg(s.id));
  } finally {
    await a.closeAll();
    await b.closeAll();
  }
});

test('send with both body and payloads, or neither, is bad_request', async () => {
  await withUsers(['bpa', 'bpb'], async ([, b], [pa]) => {
    const id1 = mid();
    pa!.send({ t: 'send', id: id1, to: `user:${b!.user}`, body: 1, payloads: { [`${b!.user}/phone`]: 1 } });
    assert.equal((await pa!.next((f) => f.id === id1)).code, 'bad_request');
    const id2 = mid();
    pa!.send({ t: 'send', id: id2, to: `user:${b!.user}` });
    assert.equal((await pa!.next((f) => f.id === id2)).code, 'bad_request');
  });
});

test('payloads in a group: every member device and the sender\u2019s other devices, each its own entry', async () => {
  const [a, b, c] = await Promise.all([TestUser.create(n, 'gpa'), TestUser.create(n, 'gpb'), TestUser.create(n, 'gpc')]);
  try {
    const aPhone = await a.connect('phone');
    const aWeb = await a.connect('web');
    const bPhone = await b.connect('phone');
    const cPhone = await c.connect('phone');
    const cTablet = await c.connect('tablet');
    const g = (await aPhone.request({ t: 'group_create', name: 'e2e', members: [b.user, c.user] })).group;
    const wrong = await aPhone.sendMsg(`group:${g.id}`, undefined, mid(), { body: undefined, payloads: { [`${b.user}/phone`]: 'b' } });
    assert.equal(wrong.code, 'conflict');
    assert.deepEqual([...wrong.missing].sort(), [`${a.user}/web`, `${c.user}/phone`, `${c.user}/tablet`].sort());
    assert.deepEqual(wrong.extra, []);
    const payloads = { [`${a.user}/web`]: 'a-web', [`${b.user}/phone`]: 'b-phone', [`${c.user}/phone`]: 'c-phone', [`${c.user}/tablet`]: 'c-tablet' };
    const s = await aPhone.sendMsg(`group:${g.id}`, undefined, mid(), { body: undefined, payloads });
    assert.equal(s.t, 'sent', JSON.stringify(s));
    assert.equal((await aWeb.next(isMsg(s.id))).body, 'a-web');
    assert.equal((await bPhone.next(isMsg(s.id))).body, 'b-phone');
    assert.equal((await cPhone.next(isMsg(s.id))).body, 'c-phone');
    assert.equal((await cTablet.next(isMsg(s.id))).body, 'c-tablet');
  } finally {
    await Promise.all([a.closeAll(), b.closeAll(), c.closeAll()]);
  }
});

test('Conventions: a dm conversation id names its users in byte order; dm:<b>:<a> is bad_request', async () => {
  await withUsers(['cva', 'cvb'], async ([a, b], [pa]) => {
    await pa!.sendMsg(`user:${b!.user}`, 'x');
    const [lo, hi] = [a!.user, b!.user].sort();
    const ok = await pa!.request({ t: 'history', conv: `dm:${lo}:${hi}` });
    assert.equal(ok.t, 'history');
    assert.equal(ok.messages.length, 1);
    const bad = await pa!.request({ t: 'history', conv: `dm:${hi}:${lo}` });
    assert.equal(bad.t, 'error');
    assert.equal(bad.code, 'bad_request');
  });
});

test('Conventions: a client message id matches ^[A-Za-z0-9_-]{8,64}$ and a rid is at most 64 characters, else bad_request', async () => {
  await withUsers(['ida', 'idb'], async ([, b], [pa]) => {
    for (const id of ['short7x', 'x'.repeat(65), 'has space!']) {
      pa!.send({ t: 'send', id, to: `user:${b!.user}`, body: 'x' });
      const e = await pa!.next((f) => f.t === 'error');
      assert.equal(e.code, 'bad_request', `id ${JSON.stringify(id)}`);
    }
    for (const id of ['exactly8', 'y'.repeat(64), 'A-b_9-Z_0']) assert.equal((await pa!.sendMsg(`user:${b!.user}`, 'ok', id)).t, 'sent', `id ${id}`);
    pa!.send({ t: 'ping', rid: 'r'.repeat(65) });
    assert.equal((await pa!.next((f) => f.t === 'error' || f.t === 'pong')).t, 'error');
    pa!.send({ t: 'ping', rid: 'r'.repeat(64) });
    assert.deepEqual(await pa!.next((f) => f.t === 'pong'), { t: 'pong', rid: 'r'.repeat(64) });
  });
});
