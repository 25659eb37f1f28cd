/**
 * One message that cannot cross threads fails alone (src/transport/thread-link.ts):
 * nested deeper than the codec's stack allows, it becomes a dead letter
 * (`unencodable`) or a failed call, and the process, the thread and every
 * other message of the same batch go on in order.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Runtime } from '../../src/runtime/runtime.js';
import { idOn, startRuntime } from '../fixtures/runtime.js';

/** Arrays nested `n` deep: msgpackr's recursive packer overflows the stack on it. */
function deep(n: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

let rt: Runtime;
before(async () => {
  ({ rt } = await startRuntime({ workers: 1 }));
});
after(async () => {
  await rt.stop();
});

test('a call whose message cannot be encoded is answered unencodable, and the runtime goes on', async () => {
  const id = idOn(rt, 'log:unenc-call', 1);
  await assert.rejects(rt.ref(id).call(deep(200_000), { timeout: 5000 }), { code: 'unencodable' });
  assert.equal(await rt.ref(id).call('thread', { timeout: 5000 }), 1);
});

test('an unencodable cast is a dead letter; the casts around it in the same batch arrive, in order', async () => {
  const id = idOn(rt, 'log:unenc-cast', 1);
  const ref = rt.ref(id);
  const before = rt.host.deadLetters.counts.unencodable;
  // One turn, one batch, one run of casts to one target: the bad one sits in the middle.
  ref.send('a');
  ref.send('b');
  ref.send(deep(200_000));
  ref.send('c');
  const items = await ref.call<unknown[]>('get', { timeout: 5000 });
  assert.deepEqual(items, ['a', 'b', 'c']);
  assert.equal(rt.host.deadLetters.counts.unencodable, before + 1);
});
