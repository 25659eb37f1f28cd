// kill -9 with real processes on a real disk: see crash-harness.ts. The long
// run is test/soak/store-crash.soak.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { killCycles } from './crash-harness.js';
import { tmpDir } from './helpers.js';

test('kill -9 under load, 24 times: every acknowledged write present, none half there, no holes in numbers or LSNs', async () => {
  const started = Date.now();
  const r = await killCycles({ dir: path.join(tmpDir('kill'), 'db'), kills: 24, minMs: 30, maxMs: 400, writers: 24, owners: 12 });
  assert.deepEqual(r.violations, []);
  assert.equal(r.kills, 24);
  assert.ok(r.productive >= 8, `${r.productive} of 24 lives acknowledged writes before their kill`);
  assert.ok(r.acks > 1000, `${r.acks} acknowledgements checked`);
  assert.ok(Date.now() - started < 60_000, 'the CI-sized run stays under a minute');
});
