/**
 * Client frame codecs (PROTOCOL.md, "WebSocket"): `parley.v1.json` (text
 * frames, JSON) and `parley.v1.msgpack` (binary frames, plain MessagePack
 * with no extension types, so any MessagePack library reads it: msgpackr
 * with `useRecords: false`).
 *
 * Encoded frames are copied out of msgpackr's reused arena: the socket may
 * keep a buffer queued after `send` returns.
 */
import { Packr } from 'msgpackr';

export type ClientCodec = 'json' | 'msgpack';
export const SUBPROTOCOLS: Record<string, ClientCodec> = { 'parley.v1.json': 'json', 'parley.v1.msgpack': 'msgpack' };

// mapsAsObjects: a client's map keys arrive as object keys, like JSON.
// int64AsType 'number': clients send JS numbers; a 64-bit integer decodes to a number.
const plain = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', moreTypes: false });

export function encodeFrame(frame: unknown, codec: ClientCodec): string | Uint8Array {
  return codec === 'json' ? JSON.stringify(frame) : Buffer.from(plain.pack(frame));
}

/** Decodes one client frame; throws on malformed input. */
export function decodeFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean, codec: ClientCodec): unknown {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  if (codec === 'json') {
    if (isBinary) throw new SyntaxError('binary frame on the JSON subprotocol');
    return JSON.parse(buf.toString('utf8'));
  }
  if (!isBinary) throw new SyntaxError('text frame on the MessagePack subprotocol');
  return plain.unpack(buf);
}

/** Size of a value as the client encoded it (limits are measured on the encoded form). */
export function encodedSize(value: unknown, codec: ClientCodec): number {
  return codec === 'json' ? Buffer.byteLength(JSON.stringify(value) ?? '') : plain.pack(value).length;
}
