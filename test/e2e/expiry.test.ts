// Guarantee (issue 4, §4): inbox entries and messages are kept for the
// retention (30 days by default) and then expire. The node runs with its
// fault hooks, which move the clock of each scheduler thread.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestUser, advanceClocks, sleep, startNode, sweepAll, type Frame, type TestNode } from '../fixtures/chat-node.js';

const DAY = 24 * 3600 * 1000;

let n: TestNode;
before(async () => {
  n = await startNode({ faults: true });
});
after(async () => {
  await n?.stop();
});

test('retention: an unacknowledged entry is delivered after 29 days, and expired after 31 (the default 30-day retention)', async () => {
  assert.equal(n.node.config.limits.retentionMs, 30 * DAY);
  const [alice, bob, carol] = await Promise.all([TestUser.create(n, 'exa'), TestUser.create(n, 'exb'), TestUser.create(n, 'exc')]);
  try {
    for (const u of [bob, carol]) await (await u.connect()).close(); // registered, then offline
    const pa = await alice.connect();
    const toBob = await pa.sendMsg(`user:${bob.user}`, 'for bob');
    const toCarol = await pa.sendMsg(`user:${carol.user}`, 'for carol');
    assert.equal(toBob.t, 'sent');
    await sleep(200); // fan-out done: the entries are in the inboxes

    await advanceClocks(n, 29 * DAY);
    const pc = await carol.connect('phone', { autoAck: true });
    const m = await pc.next((f) => f.t === 'msg');
    assert.equal(m.id, toCarol.id, 'still there after 29 days');

    await advanceClocks(n, 2 * DAY);
    await sweepAll(n);
    const pb = await bob.connect('phone', { autoAck: true });
    await pb.sync();
    await sleep(300);
    assert.deepEqual(pb.all((f: Frame) => f.t === 'msg'), [], 'nothing after 31 days');
    const h = await pb.request({ t: 'history', conv: toBob.conv });
    assert.deepEqual(h.messages, [], 'the message expired from the log too');
    // The conversation goes on: a new message is delivered and numbered after the old one.
    const later = await pa.sendMsg(`user:${bob.user}`, 'a month later');
    const got = await pb.next((f) => f.t === 'msg');
    assert.equal(got.id, later.id);
    assert.equal(later.seq, toBob.seq + 1);
  } finally {
    await Promise.all([alice.closeAll(), bob.closeAll(), carol.closeAll()]);
  }
});
