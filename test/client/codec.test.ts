import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { unpack } from 'msgpackr';
import { jsonCodec, msgpackCodec, codecForSubprotocol, wireLength } from '../../src/client/codec.js';
import { decodePlain } from '../fixtures/chat-msgpack.js';

const T = ['auth', 'send', 'ack', 'read', 'history', 'chats', 'presence_sub', 'settings', 'typing', 'group_create',
  'group_add', 'group_remove', 'group_leave', 'group_update', 'group_info', 'keys_put', 'keys_get', 'ping', 'ready',
  'sent', 'ok', 'group', 'keys', 'pong', 'msg', 'receipt', 'group_event', 'read_sync', 'presence', 'error'];

/** Any frame: a known `t` and any JSON fields (keys and strings well-formed Unicode). */
const anyFrame = fc
  .tuple(fc.constantFrom(...T), fc.dictionary(fc.string({ unit: 'grapheme' }), fc.jsonValue({ stringUnit: 'grapheme' }), { maxKeys: 8 }))
  .map(([t, fields]) => ({ ...fields, t }));

/** What JSON makes of a value: the reference both codecs must agree with. */
const jsonForm = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

const sentFrame = { t: 'sent', id: 'abcdefgh12', conv: 'dm:alice:bob', seq: 7, ts: 1_763_900_000_123 };

test('json codec writes text and reads it back', () => {
  const data = jsonCodec.encode(sentFrame);
  assert.equal(typeof data, 'string');
  assert.deepEqual(jsonCodec.decode(data), sentFrame);
  assert.deepEqual(jsonCodec.decode(new TextEncoder().encode(data as string)), sentFrame, 'a binary frame is read as UTF-8 JSON');
});

test('msgpack codec writes bytes that msgpackr unpack with default options reads', () => {
  const data = msgpackCodec.encode(sentFrame);
  assert.ok(data instanceof Uint8Array);
  assert.deepEqual(unpack(data), sentFrame);
});

test('msgpack codec writes plain MessagePack: no extension types, readable by an independent decoder', () => {
  const frame = { t: 'msg', inbox: 1, conv: 'g:x', seq: 2 ** 40, id: 'abcdefgh', from: 'bob', device: 'd', ts: Date.now(), type: null, body: { a: [1, -1, 0.5, 'é', true, null], big: -(2 ** 53 - 1) } };
  assert.deepEqual(decodePlain(msgpackCodec.encode(frame) as Uint8Array), frame);
});

test('msgpack codec refuses a text frame', () => {
  assert.throws(() => msgpackCodec.decode('{"t":"ok"}'), TypeError);
});

test('msgpack encode returns bytes of their own, not a view of the reused buffer', () => {
  const first = msgpackCodec.encode({ t: 'send', id: 'aaaaaaaa', to: 'user:bob', body: 'first' }) as Uint8Array;
  const copy = Uint8Array.from(first);
  msgpackCodec.encode({ t: 'send', id: 'bbbbbbbb', to: 'user:eve', body: 'second, longer than the first' });
  assert.deepEqual(first, copy);
  assert.equal(first.byteOffset, 0);
  assert.equal(first.buffer.byteLength, first.byteLength);
});

test('msgpack treats undefined as JSON does: properties skipped, array items nil', () => {
  const v = { t: 'send', a: undefined, list: [1, undefined, 3] };
  const data = msgpackCodec.encode(v) as Uint8Array;
  assert.deepEqual(decodePlain(data), jsonForm(v));
  assert.deepEqual(msgpackCodec.decode(data), { t: 'send', list: [1, null, 3] });
});

test('msgpack reads 64-bit integers from other encoders as numbers', () => {
  // uint64 1_700_000_000_000, as a library that writes ts as uint64 would.
  const bytes = Uint8Array.from([0x81, 0xa2, 0x74, 0x73, 0xcf, 0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00]);
  assert.deepEqual(msgpackCodec.decode(bytes), { ts: 1_700_000_000_000 });
});

test('property: json codec round-trips any JSON-like frame', () => {
  fc.assert(fc.property(anyFrame, (frame) => {
    assert.deepEqual(jsonCodec.decode(jsonCodec.encode(frame)), jsonForm(frame));
  }));
});

test('property: msgpack codec round-trips any JSON-like frame, as plain MessagePack', () => {
  // msgpackr renames a `__proto__` key (its prototype-pollution guard); the header says so.
  const noProtoKey = (v: unknown): boolean => !JSON.stringify(v).includes('"__proto__":');
  fc.assert(fc.property(anyFrame.filter(noProtoKey), (frame) => {
    const data = msgpackCodec.encode(frame) as Uint8Array;
    assert.deepEqual(msgpackCodec.decode(data), jsonForm(frame));
    assert.deepEqual(decodePlain(data), jsonForm(frame));
  }));
});

test('the subprotocol selects the codec; none means JSON', () => {
  assert.equal(codecForSubprotocol(''), jsonCodec);
  assert.equal(codecForSubprotocol('parley.v1.json'), jsonCodec);
  assert.equal(codecForSubprotocol('parley.v1.msgpack'), msgpackCodec);
  assert.equal(codecForSubprotocol('parley.v2.json'), undefined);
});

test('property: wireLength is the UTF-8 byte length of any string', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (s) => wireLength(s) === Buffer.byteLength(s, 'utf8')));
});
