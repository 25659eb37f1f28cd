import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backoffDelay } from '../../src/client/backoff.js';

const policy = fc
  .tuple(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 100_000 }))
  .map(([minMs, extra]) => ({ minMs, maxMs: minMs + extra }));

test('property: attempt n waits between half and all of min(maxMs, minMs * 2^(n-1))', () => {
  fc.assert(fc.property(policy, fc.integer({ min: 1, max: 200 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (p, n, r) => {
    const ceiling = Math.min(p.maxMs, p.minMs * 2 ** (n - 1));
    const d = backoffDelay(n, p, () => r);
    return d >= Math.floor(ceiling / 2) && d <= Math.ceil(ceiling) && d <= p.maxMs && Number.isInteger(d);
  }));
});

test('backoff doubles until maxMs, then stays there', () => {
  const p = { minMs: 100, maxMs: 1_000 };
  const top = (n: number) => backoffDelay(n, p, () => 1 - Number.EPSILON);
  assert.deepEqual([1, 2, 3, 4, 5, 50].map(top), [100, 200, 400, 800, 1_000, 1_000]);
  assert.equal(backoffDelay(1, p, () => 0), 50, 'the jitter never takes more than half away');
});
