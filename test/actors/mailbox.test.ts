/**
 * The mailbox ring buffer is a FIFO of (meta, message) pairs through growth
 * and wrap-around: checked against a plain array (fast-check).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Mailbox } from '../../src/actors/mailbox.js';

type Op = { push: number; call: boolean } | { shift: true } | { drain: true };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ push: fc.integer(), call: fc.boolean() }) },
  { weight: 4, arbitrary: fc.constant({ shift: true as const }) },
  { weight: 1, arbitrary: fc.constant({ drain: true as const }) },
);

test('the mailbox behaves as a FIFO of (meta, message) through growth and wrap-around (property)', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 400 }), fc.integer({ min: 0, max: 16 }), (ops, initial) => {
      const mb = new Mailbox<number>(initial);
      const model: Array<[unknown, number]> = [];
      for (const op of ops) {
        if ('push' in op) {
          const meta = op.call ? { call: op.push } : undefined;
          mb.push(meta, op.push);
          model.push([meta, op.push]);
        } else if ('shift' in op) {
          if (model.length === 0) continue;
          const [meta, msg] = model.shift()!;
          assert.equal(mb.peekMeta(), meta);
          assert.equal(mb.shift(), msg);
        } else {
          const out: Array<[unknown, number]> = [];
          mb.drain((meta, msg) => out.push([meta, msg]));
          assert.deepEqual(out, model.splice(0));
        }
        assert.equal(mb.size, model.length);
      }
    }),
    { numRuns: 300 },
  );
});
