// A data directory records how ids were placed on it: the number of
// partitions, the scheduler threads, and the partition hash. Data laid out by
// another hash is keyed by other partitions, so it is refused with an error
// that names the hash, rather than read as if it were empty.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { createNode } from '../../src/server/node.js';
import { openStore } from '../../src/store/index.js';
import { PARTITION_HASH } from '../../src/actors/partition.js';
import { packMeta } from '../../src/store/codec.js';
import { GLOBAL_SPACE, globalKey } from '../../src/store/keys.js';

test('a node records its partition hash in layout.json and refuses a data directory placed by another (layout_mismatch)', async () => {
  const data = mkdtempSync(join(tmpdir(), 'parley-layout-'));
  try {
    const node = await createNode({ port: 0, data, workers: 2, log: 'error' });
    await node.start();
    await node.stop();
    const layout = JSON.parse(readFileSync(join(data, 'layout.json'), 'utf8')) as { hash: string };
    assert.equal(layout.hash, PARTITION_HASH);
    // The layout of a directory written before the hash was recorded: plain FNV-1a.
    writeFileSync(join(data, 'layout.json'), JSON.stringify({ workers: 2, partitions: 256 }) + '\n');
    await assert.rejects(
      (async () => {
        const again = await createNode({ port: 0, data, workers: 2, log: 'error' });
        await again.start();
        await again.stop();
      })(),
      (e: Error & { code?: string }) => e.code === 'layout_mismatch' && e.message.includes('fnv1a32') && e.message.includes(PARTITION_HASH),
    );
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('a store whose header names another partition hash (or none) is refused with store_schema', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-layout-store-'));
  try {
    const s = await openStore({ location: dir, sweepIntervalMs: 0 });
    await s.table<[string], number>('t', { key: ['string'] }).put(['user:a'], 1);
    await s.close();
    const db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.put(Buffer.from(globalKey(GLOBAL_SPACE.header)), Buffer.from(packMeta({ format: 1, partitions: 256 })));
    await db.close();
    await assert.rejects(openStore({ location: dir, sweepIntervalMs: 0 }), (e: Error & { code?: string }) => e.code === 'store_schema' && e.message.includes('fnv1a32'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
