/**
 * Overload (limits.sendsInFlight): past that many sends accepted and not
 * answered yet, over the whole node, a send is answered `unavailable` at
 * once, naming the limit — before any actor queues it — and the
 * connection stays open. A send refused so is sent again later with the
 * same id and stored once. Here the limit is 4 and one client pipelines 40.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { dm, msgId, newUser, startNode, type Frame, type TestNode } from './helpers.js';

const LIMIT = 4;
const N = 40;

let t: TestNode;
before(async () => {
  t = await startNode({ limits: { sendsInFlight: LIMIT, sendRate: 10_000, sendBurst: 10_000 } });
});
after(async () => {
  await t?.stop();
});

test('sends past limits.sendsInFlight are answered unavailable at once; sent again later with the same id, each is stored and delivered once', async () => {
  const from = await newUser(t, 'busy');
  const to = await newUser(t, 'calm');
  const ids = Array.from({ length: N }, () => msgId());
  for (const [i, id] of ids.entries()) from.peer.send({ t: 'send', id, to: `user:${to.name}`, body: { i } });
  const answer = (id: string): Promise<Frame> => from.peer.next((f) => (f.t === 'sent' || f.t === 'error') && f.id === id, 10_000, `answer to ${id}`);
  const first = await Promise.all(ids.map(answer));
  const shed = first.filter((f) => f.t === 'error');
  assert.ok(shed.length > 0, 'some of 40 pipelined sends met the limit of 4');
  assert.ok(first.length - shed.length >= LIMIT, 'at least the first 4 were accepted');
  for (const e of shed) {
    assert.equal(e.code, 'unavailable');
    assert.equal(e.message, `send: the node has ${LIMIT} sends in flight (limits.sendsInFlight); send it again later with the same id`);
  }
  const accepted = first.filter((f) => f.t === 'sent');
  assert.deepEqual(accepted.map((f) => f.seq), accepted.map((_, i) => i + 1), 'what was accepted has gap-free seqs in send order');

  // Sent again one at a time, each refused one is accepted.
  for (const e of shed) {
    from.peer.send({ t: 'send', id: e.id, to: `user:${to.name}`, body: { again: true } });
    const r = await from.peer.next((f) => f.t === 'sent' && f.id === e.id, 10_000);
    assert.equal(r.conv, dm(from.name, to.name));
  }
  const got: Frame[] = [];
  for (let i = 0; i < N; i++) got.push(await to.peer.next((f) => f.t === 'msg', 10_000, `msg ${i + 1} of ${N}`));
  assert.deepEqual(new Set(got.map((m) => m.id)), new Set(ids), 'every id delivered');
  await to.peer.quiet((f) => f.t === 'msg', 300); // and each once
  await from.peer.alive();
  from.peer.close();
  to.peer.close();
});
