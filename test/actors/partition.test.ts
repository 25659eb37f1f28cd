import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fnv1a32, partitionOf, DEFAULT_PARTITIONS } from '../../src/actors/partition.js';

test('partition hash is FNV-1a 32 and never changes (pinned values)', () => {
  // Reference values of 32-bit FNV-1a; these are on-disk contract.
  assert.equal(fnv1a32(''), 0x811c9dc5);
  assert.equal(fnv1a32('a'), 0xe40c292c);
  assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  assert.equal(partitionOf('user:alice'), fnv1a32('user:alice') % 256);
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
