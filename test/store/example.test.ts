// The example of docs/store.md, run as written (on LevelDB), so the docs cannot drift from the API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openStore } from '../../src/store/index.js';
import { tmpDir } from './helpers.js';

interface Msg {
  from: string;
  text: string;
}

test('docs/store.md example: a conversation log entry, then an inbox entry with per-device cursors', async () => {
  const store = await openStore({ location: path.join(tmpDir('example'), 'store', 't0') });

  const log = store.table<[string, number], Msg>('convlog', { key: ['string', 'uint'] });
  const dedupe = store.table<[string, string], number>('dedupe', { key: ['string', 'string'], ttlMs: 86_400_000 });
  const accepted = store.table<[string, string], number>('accepted', { key: ['string', 'string'] });
  const inbox = store.queue<{ conv: string; seq: number }>('inbox');
  const ids = store.counter('msgids');

  const conv = 'conv:dm:alice:bob';
  const tx = store.transaction(conv);
  tx.put(log, [conv, 17], { from: 'alice', text: 'hi' });
  tx.put(dedupe, [conv, 'client-id-9'], 17);
  const { lsn } = await tx.commit();
  assert.equal(lsn, 1);

  const bob = 'user:bob';
  const t2 = store.transaction(bob);
  t2.subscribe(inbox, bob, 'phone');
  const entry = t2.append(inbox, bob, { conv, seq: 17 });
  t2.put(accepted, [bob, conv], 17);
  await t2.commit();
  assert.equal(entry.value, 1);

  assert.deepEqual((await inbox.readFor(bob, 'phone', 100)).map((e) => e.value), [{ conv, seq: 17 }]);
  await inbox.ack(bob, 'phone', entry.value);
  assert.deepEqual(await inbox.read(bob), [], 'acknowledged by every device: trimmed');
  assert.equal(await ids.next(conv), 1);
  assert.deepEqual(await log.get([conv, 17]), { from: 'alice', text: 'hi' });
  await store.close();
});
