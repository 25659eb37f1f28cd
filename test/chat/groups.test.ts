// Conformance: PROTOCOL.md `group_create`, `group_add`, `group_remove`,
// `group_leave`, `group_update`, `group_info`, `group_event`, and the precise
// rule "Groups" (admins only, not_found, forbidden, the member cap).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/server/config.js';
import { TestUser, mid, startNode, type Frame, type Peer, type TestNode } from '../fixtures/chat-node.js';

/** A small cap so that "past the cap" can be tested; the default (1024) is checked apart. */
const CAP = 4;

let n: TestNode;
before(async () => {
  n = await startNode({ limits: { groupMembers: CAP } });
});
after(async () => {
  await n?.stop();
});

const GROUP_FIELDS = ['admins', 'createdAt', 'id', 'members', 'name'];
const EVENT_FIELDS = ['by', 'conv', 'event', 'group', 'inbox', 't', 'users'];
const isMsg = (id?: string) => (f: Frame) => f.t === 'msg' && (id === undefined || f.id === id);
const event = (name: string) => (f: Frame) => f.t === 'group_event' && f.event === name;

async function withUsers(k: number, fn: (us: TestUser[], ps: Peer[]) => Promise<void>): Promise<void> {
  const us = await Promise.all(Array.from({ length: k }, (_, i) => TestUser.create(n, `g${i}`)));
  try {
    const ps = await Promise.all(us.map((u) => u.connect('phone')));
    await fn(us, ps);
  } finally {
    await Promise.all(us.map((u) => u.closeAll()));
  }
}

async function create(p: Peer, members: string[], name = 'team'): Promise<Frame> {
  const r = await p.request({ t: 'group_create', name, members });
  assert.equal(r.t, 'group', JSON.stringify(r));
  return r.group;
}

function expectError(r: Frame, code: string): void {
  assert.equal(r.t, 'error', `expected error ${code}, got ${JSON.stringify(r)}`);
  assert.equal(r.code, code, r.message);
}

test('group_create {rid, name, members} → group {rid, group: {id, name, members, admins, createdAt}}; the creator is member and first admin', async () => {
  await withUsers(3, async ([a, b, c], [pa]) => {
    const t0 = Date.now();
    const r = await pa!.request({ t: 'group_create', name: 'friends', members: [b!.user, c!.user] });
    assert.equal(r.t, 'group');
    assert.deepEqual(Object.keys(r).sort(), ['group', 'rid', 't']);
    const g = r.group;
    assert.deepEqual(Object.keys(g).sort(), GROUP_FIELDS);
    assert.equal(typeof g.id, 'string');
    assert.ok(g.id.length > 0);
    assert.equal(g.name, 'friends');
    assert.deepEqual([...g.members].sort(), [a!.user, b!.user, c!.user].sort());
    assert.deepEqual(g.admins, [a!.user]);
    assert.ok(Number.isInteger(g.createdAt) && g.createdAt >= t0 - 1000 && g.createdAt <= Date.now() + 1000);
  });
});

test('group_create listing the creator in members is allowed and makes no duplicate', async () => {
  await withUsers(2, async ([a, b], [pa]) => {
    const g = await create(pa!, [a!.user, b!.user]);
    assert.deepEqual([...g.members].sort(), [a!.user, b!.user].sort());
    assert.deepEqual(g.admins, [a!.user]);
  });
});

test('group_event created {inbox, conv, group, event, by, users} reaches every member, also one offline at the time', async () => {
  const [a, b, c] = await Promise.all([TestUser.create(n, 'gea'), TestUser.create(n, 'geb'), TestUser.create(n, 'gec')]);
  try {
    const pa = await a.connect();
    const pb = await b.connect();
    await n.node.declareUsers([c.user]); // c exists (PROTOCOL.md "Recipients") and has never connected
    const g = await create(pa, [b.user, c.user]); // c is offline
    for (const p of [pa, pb]) {
      const e = await p.next(event('created'));
      assert.deepEqual(Object.keys(e).sort(), EVENT_FIELDS);
      assert.equal(e.conv, `g:${g.id}`);
      assert.equal(e.group, g.id);
      assert.equal(e.by, a.user);
      assert.deepEqual([...e.users].sort(), [a.user, b.user, c.user].sort());
      assert.ok(Number.isInteger(e.inbox));
    }
    const pc = await c.connect();
    const e = await pc.next(event('created'));
    assert.equal(e.group, g.id);
  } finally {
    await Promise.all([a.closeAll(), b.closeAll(), c.closeAll()]);
  }
});

test('a group message reaches every member with the same seq', async () => {
  await withUsers(3, async ([, b, c], [pa, pb, pc]) => {
    const g = await create(pa!, [b!.user, c!.user]);
    const s = await pa!.sendMsg(`group:${g.id}`, 'hello all');
    assert.equal(s.conv, `g:${g.id}`);
    assert.equal(s.seq, 1);
    for (const p of [pb!, pc!]) {
      const m = await p.next(isMsg(s.id));
      assert.equal(m.seq, 1);
      assert.equal(m.conv, `g:${g.id}`);
    }
  });
});

test('group_add by an admin → group {rid, group}; group_event added; the new member gets what is sent afterwards', async () => {
  await withUsers(3, async ([a, b, c], [pa, pb, pc]) => {
    const g = await create(pa!, [b!.user]);
    const r = await pa!.request({ t: 'group_add', group: g.id, users: [c!.user] });
    assert.equal(r.t, 'group');
    assert.deepEqual([...r.group.members].sort(), [a!.user, b!.user, c!.user].sort());
    for (const p of [pa!, pb!, pc!]) {
      const e = await p.next(event('added'));
      assert.equal(e.by, a!.user);
      assert.deepEqual(e.users, [c!.user]);
      assert.equal(e.group, g.id);
    }
    const s = await pb!.sendMsg(`group:${g.id}`, 'welcome');
    assert.equal((await pc!.next(isMsg(s.id))).body, 'welcome');
  });
});

test('group_add, group_remove and group_update are for admins only: a member who is not an admin gets forbidden', async () => {
  await withUsers(3, async ([, b, c], [pa, pb]) => {
    const g = await create(pa!, [b!.user]);
    expectError(await pb!.request({ t: 'group_add', group: g.id, users: [c!.user] }), 'forbidden');
    expectError(await pb!.request({ t: 'group_remove', group: g.id, users: [pa!.ready!.user] }), 'forbidden');
    expectError(await pb!.request({ t: 'group_update', group: g.id, name: 'mine now' }), 'forbidden');
    const info = await pa!.request({ t: 'group_info', group: g.id });
    assert.equal(info.group.name, 'team', 'nothing changed');
    assert.equal(info.group.members.length, 2);
  });
});

test('group_remove by an admin → group; group_event removed; the removed member gets nothing sent after the removal', async () => {
  await withUsers(3, async ([a, b, c], [pa, pb, pc]) => {
    const g = await create(pa!, [b!.user, c!.user]);
    const before = await pa!.sendMsg(`group:${g.id}`, 'before');
    await pc!.next(isMsg(before.id));
    const r = await pa!.request({ t: 'group_remove', group: g.id, users: [c!.user] });
    assert.equal(r.t, 'group');
    assert.deepEqual([...r.group.members].sort(), [a!.user, b!.user].sort());
    for (const p of [pa!, pb!, pc!]) {
      const e = await p.next(event('removed'));
      assert.deepEqual(e.users, [c!.user]);
      assert.equal(e.by, a!.user);
    }
    const after1 = await pa!.sendMsg(`group:${g.id}`, 'after');
    const after2 = await pb!.sendMsg(`group:${g.id}`, 'after, from b');
    await pb!.next(isMsg(after1.id));
    await pa!.next(isMsg(after2.id));
    await pc!.sync();
    // Also after a reconnect: nothing of it is kept for the removed member.
    await pc!.close();
    const pc2 = await c!.connect('phone');
    await pc2.sync();
    await new Promise((r) => setTimeout(r, 200));
    for (const p of [pc!, pc2]) {
      assert.equal(p.all(isMsg(after1.id)).length, 0);
      assert.equal(p.all(isMsg(after2.id)).length, 0);
    }
  });
});

test('a removed member\u2019s send, history and group_info are forbidden', async () => {
  await withUsers(2, async ([, b], [pa, pb]) => {
    const g = await create(pa!, [b!.user]);
    await pa!.request({ t: 'group_remove', group: g.id, users: [b!.user] });
    const s = await pb!.sendMsg(`group:${g.id}`, 'still here?');
    expectError(s, 'forbidden');
    expectError(await pb!.request({ t: 'history', conv: `g:${g.id}` }), 'forbidden');
    expectError(await pb!.request({ t: 'group_info', group: g.id }), 'forbidden');
  });
});

test('a non-member\u2019s send, history and group_info are forbidden', async () => {
  await withUsers(3, async ([, b], [pa, , pc]) => {
    const g = await create(pa!, [b!.user]);
    const id = mid();
    const s = await pc!.sendMsg(`group:${g.id}`, 'let me in', id);
    expectError(s, 'forbidden');
    assert.equal(s.id, id, 'the error carries the id of the send');
    expectError(await pc!.request({ t: 'history', conv: `g:${g.id}` }), 'forbidden');
    expectError(await pc!.request({ t: 'group_info', group: g.id }), 'forbidden');
    expectError(await pc!.request({ t: 'group_add', group: g.id, users: [pc!.ready!.user] }), 'forbidden');
  });
});

test('group_leave → ok {rid}; group_event left; the leaver is no longer a member', async () => {
  await withUsers(3, async ([a, b, c], [pa, pb]) => {
    const g = await create(pa!, [b!.user, c!.user]);
    const r = await pb!.request({ t: 'group_leave', group: g.id });
    assert.deepEqual(r, { t: 'ok', rid: r.rid });
    for (const p of [pa!, pb!]) {
      const e = await p.next(event('left'));
      assert.equal(e.by, b!.user);
      assert.deepEqual(e.users, [b!.user]);
    }
    const info = await pa!.request({ t: 'group_info', group: g.id });
    assert.deepEqual([...info.group.members].sort(), [a!.user, c!.user].sort());
    expectError(await pb!.request({ t: 'group_info', group: g.id }), 'forbidden');
  });
});

test('group_update {rid, group, name} by an admin → group with the new name; group_event renamed', async () => {
  await withUsers(2, async ([a, b], [pa, pb]) => {
    const g = await create(pa!, [b!.user], 'old name');
    const r = await pa!.request({ t: 'group_update', group: g.id, name: 'new name' });
    assert.equal(r.t, 'group');
    assert.equal(r.group.name, 'new name');
    assert.equal(r.group.id, g.id);
    for (const p of [pa!, pb!]) {
      const e = await p.next(event('renamed'));
      assert.equal(e.by, a!.user);
      assert.equal(e.group, g.id);
    }
    assert.equal((await pb!.request({ t: 'group_info', group: g.id })).group.name, 'new name');
  });
});

test('group_info {rid, group} → group {rid, group} for a member', async () => {
  await withUsers(2, async ([, b], [pa, pb]) => {
    const g = await create(pa!, [b!.user], 'info');
    const r = await pb!.request({ t: 'group_info', group: g.id });
    assert.equal(r.t, 'group');
    assert.deepEqual(r.group, g);
  });
});

test('an unknown group is not_found: group_info, group_add, group_remove, group_leave, group_update, send, history', async () => {
  await withUsers(2, async ([, b], [pa]) => {
    const g = 'no-such-group-42';
    expectError(await pa!.request({ t: 'group_info', group: g }), 'not_found');
    expectError(await pa!.request({ t: 'group_add', group: g, users: [b!.user] }), 'not_found');
    expectError(await pa!.request({ t: 'group_remove', group: g, users: [b!.user] }), 'not_found');
    expectError(await pa!.request({ t: 'group_leave', group: g }), 'not_found');
    expectError(await pa!.request({ t: 'group_update', group: g, name: 'x' }), 'not_found');
    expectError(await pa!.sendMsg(`group:${g}`, 'anyone?'), 'not_found');
    expectError(await pa!.request({ t: 'history', conv: `g:${g}` }), 'not_found');
  });
});

test(`a group has at most limits.groupMembers members: adding past it is conflict (cap ${CAP} here)`, async () => {
  await withUsers(CAP + 1, async (us, [pa]) => {
    const names = us.map((u) => u.user);
    const g = await create(pa!, names.slice(1, CAP)); // creator + CAP-1 = CAP members
    assert.equal(g.members.length, CAP);
    const r = await pa!.request({ t: 'group_add', group: g.id, users: [names[CAP]!] });
    expectError(r, 'conflict');
    const info = await pa!.request({ t: 'group_info', group: g.id });
    assert.equal(info.group.members.length, CAP, 'nobody was added');
  });
});

test('group_create with more members than the cap is conflict', async () => {
  await withUsers(CAP + 1, async (us, [pa]) => {
    const r = await pa!.request({ t: 'group_create', name: 'too big', members: us.slice(1).map((u) => u.user) });
    expectError(r, 'conflict');
  });
});

test('the member cap is 1024 by default', () => {
  assert.equal(resolveConfig({}).limits.groupMembers, 1024);
});

test('a group left by its only admin still has an admin, and admins can act', async () => {
  await withUsers(3, async ([, b, c], [pa, pb]) => {
    const g = await create(pa!, [b!.user, c!.user]);
    await pa!.request({ t: 'group_leave', group: g.id });
    const info = await pb!.request({ t: 'group_info', group: g.id });
    assert.equal(info.group.admins.length, 1);
    const admin = info.group.admins[0];
    assert.ok(info.group.members.includes(admin));
  });
});
