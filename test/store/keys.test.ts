import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeTuple, encodeTuple, prefixEnd, type KeyElement, type KeyPart } from '../../src/store/keys.js';

const HEAD = Uint8Array.of(0x00, 0x07, 0x10);

/** Unicode code point order: what UTF-8 byte order gives (not UTF-16's `<`). */
function cmpString(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

function cmpElement(part: KeyPart, a: KeyElement, b: KeyElement): number {
  switch (part) {
    case 'string':
      return cmpString(a as string, b as string);
    case 'bytes':
      return cmpBytes(a as Uint8Array, b as Uint8Array);
    default:
      return (a as number) - (b as number);
  }
}

/** Lexicographic tuple order; a proper prefix sorts first. */
function cmpTuple(schema: readonly KeyPart[], a: readonly KeyElement[], b: readonly KeyElement[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = cmpElement(schema[i]!, a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

// Strings with NULs, 0xFF-adjacent characters, astral characters and shared prefixes.
const str = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'b', '\u0000', '\u00ff', '\u{10000}', 'é', ':'), maxLength: 6 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
);
const bytes = fc.oneof(fc.uint8Array({ maxLength: 6 }), fc.uint8Array({ maxLength: 4, min: 0xfe, max: 0xff }), fc.uint8Array({ maxLength: 4, max: 1 }));
const uint = fc.oneof(fc.nat(), fc.constantFrom(0, 1, 255, 256, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER), fc.maxSafeNat());
const int = fc.oneof(fc.integer(), fc.constantFrom(0, -1, 1, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), fc.maxSafeInteger());

function arbFor(part: KeyPart): fc.Arbitrary<KeyElement> {
  return part === 'string' ? str : part === 'bytes' ? bytes : part === 'uint' ? uint : int;
}

const schemaArb = fc.array(fc.constantFrom<KeyPart>('string', 'uint', 'int', 'bytes'), { minLength: 1, maxLength: 4 });

/** A schema and two tuples (each a full key or a prefix of one) under it. */
const pairArb = schemaArb.chain((schema) => {
  const tuple = fc.tuple(...schema.map(arbFor)).chain((t) => fc.nat({ max: schema.length }).map((n) => t.slice(0, Math.max(1, n))));
  return fc.tuple(fc.constant(schema), tuple, tuple);
});

test('key encoding: byte order equals logical tuple order, prefixes first (every part type)', () => {
  fc.assert(
    fc.property(pairArb, ([schema, a, b]) => {
      const ea = encodeTuple(HEAD, schema, a);
      const eb = encodeTuple(HEAD, schema, b);
      assert.equal(sign(cmpBytes(ea, eb)), sign(cmpTuple(schema, a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }),
    { numRuns: 3000 },
  );
});

test('key encoding: (conv, seq) sorts by conv, then numerically by seq (big-endian)', () => {
  const schema: KeyPart[] = ['string', 'uint'];
  fc.assert(
    fc.property(fc.tuple(str, uint), fc.tuple(str, uint), (a, b) => {
      const c = cmpBytes(encodeTuple(HEAD, schema, a), encodeTuple(HEAD, schema, b));
      assert.equal(sign(c), sign(cmpTuple(schema, a, b)));
    }),
    { numRuns: 2000 },
  );
  // The classic failure of little-endian or decimal text: 9 before 10, 255 before 256.
  const k = (s: number): Uint8Array => encodeTuple(HEAD, schema, ['conv:dm:alice:bob', s]);
  assert.ok(cmpBytes(k(9), k(10)) < 0);
  assert.ok(cmpBytes(k(255), k(256)) < 0);
  // A string and its extension: "a" with any seq sorts before "ab".
  assert.ok(cmpBytes(encodeTuple(HEAD, schema, ['a', Number.MAX_SAFE_INTEGER]), encodeTuple(HEAD, schema, ['ab', 0])) < 0);
});

test('key encoding: a full key decodes back to its tuple', () => {
  const full = schemaArb.chain((schema) => fc.tuple(fc.constant(schema), fc.tuple(...schema.map(arbFor))));
  fc.assert(
    fc.property(full, ([schema, t]) => {
      const back = decodeTuple(encodeTuple(HEAD, schema, t), HEAD.length, schema);
      assert.deepEqual(back.map((x) => (x instanceof Uint8Array ? [...x] : x)), t.map((x) => (x instanceof Uint8Array ? [...x] : x)));
    }),
    { numRuns: 2000 },
  );
});

test('key encoding: a prefix tuple encodes to a byte prefix of every key that extends it', () => {
  const arb = schemaArb.chain((schema) => fc.tuple(fc.constant(schema), fc.tuple(...schema.map(arbFor)), fc.nat({ max: schema.length - 1 })));
  fc.assert(
    fc.property(arb, ([schema, t, n]) => {
      const full = encodeTuple(HEAD, schema, t);
      const pre = encodeTuple(HEAD, schema, t.slice(0, n + 1));
      assert.deepEqual(full.subarray(0, pre.length), pre);
      // and prefixEnd(prefix) bounds it from above
      const end = prefixEnd(pre);
      assert.ok(end === undefined || cmpBytes(full, end) < 0);
    }),
    { numRuns: 2000 },
  );
});

test('prefixEnd: the least key above every extension of a prefix', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 6 }), fc.uint8Array({ maxLength: 4 }), (pre, tail) => {
      const end = prefixEnd(pre);
      const ext = Buffer.concat([pre, tail]);
      if (end === undefined) {
        assert.ok(pre.every((b) => b === 0xff));
      } else {
        assert.ok(cmpBytes(ext, end) < 0, 'extension below the end');
        assert.ok(cmpBytes(pre, end) < 0);
        // nothing that does not start with the prefix lies between prefix and end
        assert.ok(!Buffer.from(end).subarray(0, pre.length).equals(Buffer.from(pre)) || end.length < pre.length);
      }
    }),
  );
});

test('key encoding rejects values that do not fit the schema (store_invalid)', () => {
  assert.throws(() => encodeTuple(HEAD, ['string', 'uint'], ['a', -1]), { code: 'store_invalid' });
  assert.throws(() => encodeTuple(HEAD, ['string', 'uint'], ['a', 1.5]), { code: 'store_invalid' });
  assert.throws(() => encodeTuple(HEAD, ['string', 'uint'], ['a', 2 ** 53]), { code: 'store_invalid' });
  assert.throws(() => encodeTuple(HEAD, ['string'], [7]), { code: 'store_invalid' });
  assert.throws(() => encodeTuple(HEAD, ['string'], ['a', 'b']), { code: 'store_invalid' });
});
