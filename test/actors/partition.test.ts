import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fmix32, fnv1a32, partitionOf, DEFAULT_PARTITIONS } from '../../src/actors/partition.js';

test('partition hash is FNV-1a 32 then fmix32, and never changes (pinned values)', () => {
  // Reference values of 32-bit FNV-1a and of MurmurHash3's finalizer; these are on-disk contract.
  assert.equal(fnv1a32(''), 0x811c9dc5);
  assert.equal(fnv1a32('a'), 0xe40c292c);
  assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  assert.equal(fmix32(0), 0);
  assert.equal(fmix32(1), 0x514e28b7);
  assert.equal(partitionOf('user:alice'), fmix32(fnv1a32('user:alice')) % 256);
  assert.deepEqual(['user:alice', 'user:bob', 'conv:dm:alice:bob', 'conv:g:team'].map((id) => partitionOf(id)), PINNED);
});

/** partitionOf of the ids above with P = 256, as first computed: data on disk is keyed by them. */
const PINNED = [6, 110, 110, 176];

test('ids that differ only in structured digits spread over two and four threads (the low bits are mixed)', () => {
  const id = (i: number): string => `u${String(i).padStart(5, '0')}`;
  for (const threads of [2, 4]) {
    const perThread = new Array(threads).fill(0);
    // One conversation per pair (i, i + 500): FNV-1a alone puts every one of these on odd partitions.
    for (let i = 0; i < 500; i++) perThread[partitionOf(`conv:dm:${id(i)}:${id(i + 500)}`) % threads]++;
    const share = 500 / threads;
    for (const c of perThread) assert.ok(c > share * 0.75 && c < share * 1.25, `${threads} threads: ${perThread.join(' / ')}`);
  }
});

test('partition hash reads ids as UTF-8 bytes', () => {
  const bytes = new TextEncoder().encode('user:zoë');
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  assert.equal(fnv1a32('user:zoë'), h >>> 0);
});

test('every id maps to a partition in [0, P)', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.integer({ min: 1, max: 4096 }), (id, p) => {
      const x = partitionOf(id, p);
      return Number.isInteger(x) && x >= 0 && x < p && x === partitionOf(id, p);
    }),
  );
});

test('default partitions spread ids evenly (no partition over 2x its share)', () => {
  const counts = new Array(DEFAULT_PARTITIONS).fill(0);
  const n = 100_000;
  for (let i = 0; i < n; i++) counts[partitionOf(`user:u${i}`)]++;
  const share = n / DEFAULT_PARTITIONS;
  assert.ok(Math.max(...counts) < 2 * share, `max ${Math.max(...counts)} vs share ${share}`);
  assert.ok(Math.min(...counts) > share / 2);
});
