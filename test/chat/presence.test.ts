// Conformance: PROTOCOL.md `presence_sub`, `presence`, `settings`, `typing`,
// and the precise rule "Presence".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { TestUser, dm, sleep, startNode, tmpData, type Frame, type TestNode } from '../fixtures/chat-node.js';

let n: TestNode;
before(async () => {
  n = await startNode();
});
after(async () => {
  await n?.stop();
});

const presenceOf = (user: string) => (f: Frame) => f.t === 'presence' && f.user === user;

test('presence_sub → ok {rid}, then the current state of each user at once', async () => {
  const [w, on, off] = await Promise.all([TestUser.create(n, 'pw'), TestUser.create(n, 'pon'), TestUser.create(n, 'poff')]);
  try {
    const pw = await w.connect();
    await on.connect();
    const ok = await pw.request({ t: 'presence_sub', users: [on.user, off.user] });
    assert.deepEqual(ok, { t: 'ok', rid: ok.rid });
    const pOn = await pw.next(presenceOf(on.user));
    const pOff = await pw.next(presenceOf(off.user));
    assert.deepEqual(Object.keys(pOn).sort(), ['lastSeen', 'online', 't', 'user']);
    assert.equal(pOn.online, true);
    assert.equal(pOff.online, false);
    assert.equal(pOff.lastSeen, null, 'never seen');
    assert.ok(pw.frames.indexOf(ok) < pw.frames.indexOf(pOn), 'ok comes first');
  } finally {
    await Promise.all([w.closeAll(), on.closeAll()]);
  }
});

test('presence: online while any device is connected; offline with lastSeen (ms) at the last disconnect', async () => {
  const [w, u] = await Promise.all([TestUser.create(n, 'pw'), TestUser.create(n, 'pu')]);
  try {
    const pw = await w.connect();
    await pw.request({ t: 'presence_sub', users: [u.user] });
    assert.equal((await pw.next(presenceOf(u.user))).online, false);
    const phone = await u.connect('phone');
    assert.equal((await pw.next(presenceOf(u.user))).online, true);
    const laptop = await u.connect('laptop');
    await phone.close();
    await laptop.sync();
    const quiet = await pw.quiet((f) => f.t === 'presence' && f.online === false, 200);
    assert.equal(quiet.length, 1, 'still online while the laptop is connected (only the initial offline frame)');
    const t0 = Date.now();
    await laptop.close();
    const offline = await pw.next(presenceOf(u.user));
    assert.equal(offline.online, false);
    assert.ok(Number.isInteger(offline.lastSeen), 'lastSeen is a number');
    assert.ok(offline.lastSeen >= t0 - 1000 && offline.lastSeen <= Date.now() + 1000, `lastSeen ${offline.lastSeen} is the disconnect time in ms`);
    // A later subscriber sees the same lastSeen.
    const w2 = await TestUser.create(n, 'pw2');
    const p2 = await w2.connect();
    await p2.request({ t: 'presence_sub', users: [u.user] });
    const again = await p2.next(presenceOf(u.user));
    assert.equal(again.lastSeen, offline.lastSeen);
    await w2.closeAll();
  } finally {
    await Promise.all([w.closeAll(), u.closeAll()]);
  }
});

test('presence: anyone may subscribe, with no conversation in common', async () => {
  const [w, u] = await Promise.all([TestUser.create(n, 'stranger'), TestUser.create(n, 'target')]);
  try {
    await u.connect();
    const pw = await w.connect();
    const ok = await pw.request({ t: 'presence_sub', users: [u.user] });
    assert.equal(ok.t, 'ok');
    assert.equal((await pw.next(presenceOf(u.user))).online, true);
  } finally {
    await Promise.all([w.closeAll(), u.closeAll()]);
  }
});

test('settings {rid, lastSeen: nobody} → ok {rid}; nobody hides lastSeen only (online still shown)', async () => {
  const [w, u] = await Promise.all([TestUser.create(n, 'sw'), TestUser.create(n, 'su')]);
  try {
    let pu = await u.connect();
    await pu.close();
    const pw = await w.connect();
    await pw.request({ t: 'presence_sub', users: [u.user] });
    const seen = await pw.next(presenceOf(u.user));
    assert.equal(typeof seen.lastSeen, 'number', 'visible while the setting is everyone');
    pu = await u.connect();
    assert.equal((await pw.next(presenceOf(u.user))).online, true);
    const ok = await pu.request({ t: 'settings', lastSeen: 'nobody' });
    assert.deepEqual(ok, { t: 'ok', rid: ok.rid });
    const hidden = await pw.next(presenceOf(u.user));
    assert.equal(hidden.online, true, 'online is not hidden');
    assert.equal(hidden.lastSeen, null);
    await pu.close();
    const off = await pw.next(presenceOf(u.user));
    assert.equal(off.online, false);
    assert.equal(off.lastSeen, null);
    // everyone shows it again.
    pu = await u.connect();
    await pw.next(presenceOf(u.user));
    await pu.request({ t: 'settings', lastSeen: 'everyone' });
    await pu.close();
    await pw.next((f) => f.t === 'presence' && f.user === u.user && f.online === false && typeof f.lastSeen === 'number');
  } finally {
    await Promise.all([w.closeAll(), u.closeAll()]);
  }
});

test('settings with a value other than everyone or nobody is bad_request', async () => {
  const u = await TestUser.create(n, 'sbad');
  try {
    const p = await u.connect();
    const r = await p.request({ t: 'settings', lastSeen: 'contacts' });
    assert.equal(r.t, 'error');
    assert.equal(r.code, 'bad_request');
  } finally {
    await u.closeAll();
  }
});

test('Presence: the nobody setting persists across a restart of the node', async () => {
  const data = tmpData();
  try {
    let node = await startNode({ data, workers: 2 });
    let user: string;
    try {
      const u = await TestUser.create(node, 'persist');
      user = u.user;
      const p = await u.connect();
      await p.request({ t: 'settings', lastSeen: 'nobody' });
      await p.close();
    } finally {
      await node.stop();
    }
    node = await startNode({ data, workers: 2 });
    try {
      const w = await TestUser.create(node, 'pwatch');
      const pw = await w.connect();
      await pw.request({ t: 'presence_sub', users: [user] });
      const pr = await pw.next(presenceOf(user));
      assert.equal(pr.online, false);
      assert.equal(pr.lastSeen, null, 'still hidden after the restart');
      await pw.close();
    } finally {
      await node.stop();
    }
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('typing {conv, on} reaches the other members\u2019 online devices only, as typing {conv, user, on}', async () => {
  const [a, b] = await Promise.all([TestUser.create(n, 'tya'), TestUser.create(n, 'tyb')]);
  try {
    const aPhone = await a.connect('phone');
    const aLaptop = await a.connect('laptop');
    const bPhone = await b.connect('phone');
    const bLaptop = await b.connect('laptop');
    const conv = dm(a.user, b.user);
    aPhone.send({ t: 'typing', conv, on: true });
    const t1 = await bPhone.next((f) => f.t === 'typing');
    const t2 = await bLaptop.next((f) => f.t === 'typing');
    for (const t of [t1, t2]) assert.deepEqual(t, { t: 'typing', conv, user: a.user, on: true });
    aPhone.send({ t: 'typing', conv, on: false });
    assert.equal((await bPhone.next((f) => f.t === 'typing')).on, false);
    await bLaptop.next((f) => f.t === 'typing' && f.on === false);
    // Ephemeral: a device that connects afterwards gets none of it.
    const bTablet = await b.connect('tablet');
    await bTablet.sync();
    await sleep(100);
    assert.equal(bTablet.all((f) => f.t === 'typing').length, 0);
    assert.equal(aLaptop.all((f) => f.t === 'typing').length, 0, 'not to the typer\u2019s own devices');
    assert.equal(aPhone.all((f) => f.t === 'typing').length, 0);
  } finally {
    await Promise.all([a.closeAll(), b.closeAll()]);
  }
});

test('typing in a group reaches the members, not others; a non-member\u2019s typing reaches nobody', async () => {
  const [a, b, x] = await Promise.all([TestUser.create(n, 'tga'), TestUser.create(n, 'tgb'), TestUser.create(n, 'tgx')]);
  try {
    const pa = await a.connect();
    const pb = await b.connect();
    const px = await x.connect();
    const g = (await pa.request({ t: 'group_create', name: 'typers', members: [b.user] })).group;
    const conv = `g:${g.id}`;
    pa.send({ t: 'typing', conv, on: true });
    assert.deepEqual(await pb.next((f) => f.t === 'typing'), { t: 'typing', conv, user: a.user, on: true });
    px.send({ t: 'typing', conv, on: true });
    await px.sync();
    await sleep(150);
    assert.equal(pa.all((f) => f.t === 'typing').length, 0);
    assert.equal(pb.all((f) => f.t === 'typing' && f.user === x.user).length, 0);
    assert.equal(px.all((f) => f.t === 'typing').length, 0);
  } finally {
    await Promise.all([a.closeAll(), b.closeAll(), x.closeAll()]);
  }
});
