import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CpuPool } from '../../src/runtime/cpu-pool.js';

test('the cpu pool hashes on another thread and gives the same digest as node:crypto', async () => {
  const pool = new CpuPool(1);
  try {
    const data = new Uint8Array(1 << 20).map((_, i) => i * 31);
    const want = createHash('sha256').update(data).digest('hex');
    assert.equal(await pool.sha256(data), want);
    await assert.rejects((pool as unknown as { p: { run(x: unknown): Promise<unknown> } }).p.run({ op: 'nope' }), /unknown cpu job/);
  } finally {
    await pool.close();
  }
});
