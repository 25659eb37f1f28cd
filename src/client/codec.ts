/**
 * The two wire codecs of protocol v1, chosen by WebSocket subprotocol.
 *
 * - `json` (`parley.v1.json`, also what no subprotocol means): text frames,
 *   `JSON.stringify` / `JSON.parse`. A binary frame is read as UTF-8 JSON.
 * - `msgpack` (`parley.v1.msgpack`): binary frames of plain MessagePack, with
 *   no extension types, so any MessagePack library reads them. msgpackr is
 *   set up for that: `useRecords: false` (its default "records" are an
 *   extension other decoders cannot read), `undefined` written as nil in
 *   arrays and object properties holding `undefined` skipped (what JSON does),
 *   64-bit integers read as numbers (what JSON gives; every number in the
 *   protocol is a safe integer). A text frame is refused.
 *
 * Both round-trip any JSON value the same way, with two differences under
 * MessagePack: a key `__proto__` comes back from msgpackr as `__proto_` (its
 * guard against prototype pollution), and a lone UTF-16 surrogate in a string
 * comes back as U+FFFD (UTF-8 cannot hold it; JSON escapes it instead). Values JSON cannot carry (Date, Map, bigint, bytes)
 * are the caller's business: JSON turns or drops them, MessagePack may carry
 * them as extensions; the protocol's bodies are JSON values.
 *
 * msgpackr's `pack()` returns a view of a buffer it reuses on the next call,
 * and `ws` may hold a frame for a while (compression, a socket not yet
 * writable): `encode` copies the bytes into a buffer of their own.
 */
import { Packr, Unpackr, type Options } from 'msgpackr';
import { SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK } from '../protocol/connection.js';

export type CodecName = 'json' | 'msgpack';

/** A frame as it travels: text for JSON, bytes for MessagePack. */
export type WireData = string | Uint8Array;

export interface Codec {
  readonly name: CodecName;
  /** The WebSocket subprotocol that selects this codec. */
  readonly subprotocol: string;
  /** Whether frames travel as binary WebSocket frames. */
  readonly binary: boolean;
  encode(frame: unknown): WireData;
  /** Throws on bytes that are not one value of this codec. */
  decode(data: WireData): unknown;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export const jsonCodec: Codec = {
  name: 'json',
  subprotocol: SUBPROTOCOL_JSON,
  binary: false,
  encode(frame) {
    return JSON.stringify(frame);
  },
  decode(data) {
    return JSON.parse(typeof data === 'string' ? data : utf8.decode(data)) as unknown;
  },
};

// `skipValues` is implemented by msgpackr 2.x but missing from its typings.
const packOptions: Options & { skipValues: unknown[] } = { useRecords: false, encodeUndefinedAsNil: true, skipValues: [undefined] };
const packr = new Packr(packOptions);
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export const msgpackCodec: Codec = {
  name: 'msgpack',
  subprotocol: SUBPROTOCOL_MSGPACK,
  binary: true,
  encode(frame) {
    const view = packr.pack(frame);
    const own = new Uint8Array(view.length);
    own.set(view);
    return own;
  },
  decode(data) {
    if (typeof data === 'string') throw new TypeError('parley.v1.msgpack frames are binary; got a text frame');
    return unpackr.unpack(data) as unknown;
  },
};

export function codecFor(name: CodecName): Codec {
  return name === 'msgpack' ? msgpackCodec : jsonCodec;
}

/** The codec a negotiated subprotocol selects; none (empty) means JSON. */
export function codecForSubprotocol(protocol: string): Codec | undefined {
  if (protocol === '' || protocol === SUBPROTOCOL_JSON) return jsonCodec;
  if (protocol === SUBPROTOCOL_MSGPACK) return msgpackCodec;
  return undefined;
}

/** Bytes on the wire: UTF-8 length for text, length for bytes. */
export function wireLength(data: WireData): number {
  if (typeof data !== 'string') return data.byteLength;
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < data.length) {
      const d = data.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
