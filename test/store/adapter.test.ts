// One behavioural suite for every storage adapter (LevelDB and memory): the
// contract in src/store/adapter.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { StorageAdapter } from '../../src/store/adapter.js';
import { LevelAdapter } from '../../src/store/level-adapter.js';
import { MemoryAdapter, MemoryDisk } from '../../src/store/memory-adapter.js';
import { tmpDir } from './helpers.js';

const b = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
const hex = (x: Uint8Array | undefined): string | undefined => (x === undefined ? undefined : Buffer.from(x).toString('hex'));

async function all(a: StorageAdapter, range: Parameters<StorageAdapter['iterate']>[0], size = 2, snap?: Parameters<StorageAdapter['iterate']>[1]): Promise<string[]> {
  const it = a.iterate(range, snap);
  const out: string[] = [];
  try {
    for (;;) {
      const rows = await it.nextv(size);
      if (rows.length === 0) return out;
      assert.ok(rows.length <= size, 'nextv returns at most size rows');
      for (const [k] of rows) out.push(hex(k)!);
    }
  } finally {
    await it.close();
  }
}

const backends: Array<[string, () => StorageAdapter]> = [
  ['level', () => new LevelAdapter(path.join(tmpDir('adapter'), 'db'))],
  ['memory', () => new MemoryAdapter(new MemoryDisk())],
];

for (const [name, make] of backends) {
  describe(`storage adapter contract: ${name}`, () => {
    test('a written batch reads back; a missing key reads as undefined', async () => {
      const a = make();
      await a.open();
      await a.write([{ key: b(1), value: b(10) }, { key: b(2), value: b(20) }], true);
      assert.equal(hex(await a.get(b(1))), '0a');
      assert.equal(await a.get(b(3)), undefined);
      assert.deepEqual((await a.getMany([b(2), b(3), b(1)])).map(hex), ['14', undefined, '0a']);
      await a.write([{ key: b(1), value: null }], false);
      assert.equal(await a.get(b(1)), undefined);
      await a.close();
    });

    test('iteration is in unsigned byte order, honours bounds, reverse and limit, in nextv batches', async () => {
      const a = make();
      await a.open();
      const keys = [b(0x00), b(0x01), b(0x01, 0x00), b(0x7f), b(0x80), b(0xff), b(0xff, 0xff)];
      await a.write(keys.map((key) => ({ key, value: b(1) })), true);
      assert.deepEqual(await all(a, {}), ['00', '01', '0100', '7f', '80', 'ff', 'ffff']);
      assert.deepEqual(await all(a, { gt: b(0x01), lt: b(0xff) }), ['0100', '7f', '80']);
      assert.deepEqual(await all(a, { gte: b(0x01), lte: b(0xff) }), ['01', '0100', '7f', '80', 'ff']);
      assert.deepEqual(await all(a, { reverse: true, limit: 3 }), ['ffff', 'ff', '80']);
      assert.deepEqual(await all(a, { gte: b(0x80), reverse: true }, 1), ['ffff', 'ff', '80']);
      assert.deepEqual(await all(a, { gte: b(0x90), lt: b(0x10) }), []);
      await a.close();
    });

    test('a snapshot keeps the view of its moment while writes go on', async () => {
      const a = make();
      await a.open();
      await a.write([{ key: b(1), value: b(1) }], true);
      const snap = a.snapshot();
      await a.write([{ key: b(1), value: b(2) }, { key: b(2), value: b(2) }], true);
      assert.equal(hex(await a.get(b(1), snap)), '01');
      assert.deepEqual(await all(a, {}, 10, snap), ['01']);
      assert.equal(hex(await a.get(b(1))), '02');
      await snap.close();
      await a.close();
    });

    test('clear removes a range and nothing else', async () => {
      const a = make();
      await a.open();
      await a.write([1, 2, 3, 4].map((x) => ({ key: b(x), value: b(x) })), true);
      await a.clear({ gte: b(2), lt: b(4) });
      assert.deepEqual(await all(a, {}), ['01', '04']);
      await a.close();
    });

    test('a second opener of the same location is refused while the first holds it (LEVEL_LOCKED)', async () => {
      const a = make();
      await a.open();
      const second: StorageAdapter = a instanceof MemoryAdapter ? new MemoryAdapter(a.disk) : new LevelAdapter(a.location);
      await assert.rejects(second.open(), (err: { code?: string; cause?: { code?: string } }) => err.code === 'store_locked' || err.cause?.code === 'LEVEL_LOCKED');
      await a.close();
      await second.open();
      await second.close();
    });

    test('data survives close and reopen', async () => {
      const a = make();
      await a.open();
      await a.write([{ key: b(9), value: b(9) }], true);
      await a.close();
      const again: StorageAdapter = a instanceof MemoryAdapter ? new MemoryAdapter(a.disk) : new LevelAdapter(a.location);
      await again.open();
      assert.equal(hex(await again.get(b(9))), '09');
      await again.close();
    });
  });
}

describe('memory disk: the power-loss model', () => {
  test('a power loss keeps synced batches and loses unsynced ones', async () => {
    const disk = new MemoryDisk();
    const a = new MemoryAdapter(disk);
    await a.open();
    await a.write([{ key: b(1), value: b(1) }], true);
    await a.write([{ key: b(2), value: b(2) }], false);
    assert.equal(hex(await a.get(b(2))), '02', 'an unsynced write is visible before the loss');
    const after = new MemoryAdapter(disk.powerLoss());
    await after.open();
    assert.equal(hex(await after.get(b(1))), '01');
    assert.equal(await after.get(b(2)), undefined);
  });

  test('a synced write makes every earlier batch durable too (one log, fsynced in order)', async () => {
    const disk = new MemoryDisk();
    const a = new MemoryAdapter(disk);
    await a.open();
    await a.write([{ key: b(1), value: b(1) }], false);
    await a.write([{ key: b(2), value: b(2) }], true);
    const after = new MemoryAdapter(disk.powerLoss());
    await after.open();
    assert.deepEqual((await after.getMany([b(1), b(2)])).map(hex), ['01', '02']);
  });

  test('a power loss may keep a prefix of unsynced batches, never a later batch without an earlier one', async () => {
    const disk = new MemoryDisk();
    const a = new MemoryAdapter(disk);
    await a.open();
    for (let i = 1; i <= 4; i++) await a.write([{ key: b(i), value: b(i) }], false);
    const after = new MemoryAdapter(disk.powerLoss(2));
    await after.open();
    assert.deepEqual((await after.getMany([b(1), b(2), b(3), b(4)])).map(hex), ['01', '02', undefined, undefined]);
  });

  test('a synced write is not durable until its simulated fsync completes', async () => {
    const disk = new MemoryDisk();
    let release!: () => void;
    const a = new MemoryAdapter(disk, { syncDelay: () => new Promise<void>((r) => (release = r)) });
    await a.open();
    const w = a.write([{ key: b(1), value: b(1) }], true);
    await new Promise((r) => setImmediate(r));
    assert.equal(disk.powerLoss().visible.size, 0, 'lost if the power fails during the fsync');
    release();
    await w;
    assert.equal(disk.powerLoss().visible.size, 1);
  });

  test('after a failed write the adapter refuses writes until recover(), as LevelDB does', async () => {
    const disk = new MemoryDisk();
    const a = new MemoryAdapter(disk);
    await a.open();
    disk.injectWriteError({ code: 'store_full' });
    await assert.rejects(a.write([{ key: b(1), value: b(1) }], true), { code: 'store_full' });
    await assert.rejects(a.write([{ key: b(2), value: b(2) }], true), { code: 'store_full' });
    await a.recover();
    await a.write([{ key: b(3), value: b(3) }], true);
    assert.deepEqual((await a.getMany([b(1), b(2), b(3)])).map(hex), [undefined, undefined, '03']);
  });
});
