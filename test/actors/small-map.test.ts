import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SmallMap } from '../../src/actors/small-map.js';

type Op = { t: 'set'; k: number; v: number } | { t: 'delete'; k: number } | { t: 'get'; k: number } | { t: 'deleteWhileIterating'; k: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('set' as const), k: fc.nat({ max: 5 }), v: fc.integer() }),
  fc.record({ t: fc.constant('delete' as const), k: fc.nat({ max: 5 }) }),
  fc.record({ t: fc.constant('get' as const), k: fc.nat({ max: 5 }) }),
  fc.record({ t: fc.constant('deleteWhileIterating' as const), k: fc.nat({ max: 5 }) }),
);

const sorted = (it: Iterable<[number, number]>): Array<[number, number]> => [...it].sort((a, b) => a[0] - b[0]);

test('SmallMap answers get, set, delete, size and iteration exactly as Map does (property)', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
      const m = new Map<number, number>();
      const s = new SmallMap<number, number>();
      for (const op of ops) {
        if (op.t === 'set') {
          m.set(op.k, op.v);
          s.set(op.k, op.v);
        } else if (op.t === 'delete') assert.equal(s.delete(op.k), m.delete(op.k));
        else if (op.t === 'get') {
          assert.equal(s.get(op.k), m.get(op.k));
          assert.equal(s.has(op.k), m.has(op.k));
        }
        else {
          // The signal table deletes the entry it is visiting (threadDown).
          for (const [k] of s) if (k === op.k) s.delete(k);
          m.delete(op.k);
        }
        assert.equal(s.size, m.size);
        assert.deepEqual(sorted(s), sorted(m));
        assert.deepEqual([...s.keys()].sort(), [...m.keys()].sort());
        assert.deepEqual([...s.values()].sort(), [...m.values()].sort());
        assert.deepEqual(sorted(SmallMap.from(s)), sorted(m));
      }
    }),
    { numRuns: 500 },
  );
});
