/**
 * The server's side of the two wire codecs (docs/protocol.md, "Codecs"):
 * `parley.v1.json` (text frames, JSON) and `parley.v1.msgpack` (binary
 * frames, plain MessagePack with no extension types, so any MessagePack
 * library reads it: msgpackr with `useRecords: false`). The client has its
 * own (src/client/codec.ts): it must run without Node's `Buffer`.
 *
 * - A frame of the wrong kind (binary on JSON, text on MessagePack) is
 *   malformed; so is one that does not decode.
 * - Encoded frames are copied out of msgpackr's reused arena: the socket may
 *   keep a buffer queued after `send` returns.
 * - Sizes are measured on the encoded form, in the codec the client chose.
 */
import { Packr } from 'msgpackr';
import type { ClientCodec } from './connection.js';

// mapsAsObjects: a client's map keys arrive as object keys, like JSON.
// int64AsType 'number': clients send JS numbers; a 64-bit integer decodes to a number.
const plain = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', moreTypes: false });

export function encodeFrame(frame: unknown, codec: ClientCodec): string | Uint8Array {
  return codec === 'json' ? JSON.stringify(frame) : Buffer.from(plain.pack(frame));
}

/** A frame that could not be decoded; its message is written for the client. */
export class FrameDecodeError extends Error {}

/**
 * Decodes one client frame; throws `FrameDecodeError` on malformed input.
 * The decoder's own error (a byte offset, a stack overflow from a frame
 * nested 100k deep) is not passed on: it says nothing useful to a client
 * and describes our internals.
 */
export function decodeFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean, codec: ClientCodec): unknown {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  if (codec === 'json') {
    if (isBinary) throw new FrameDecodeError('malformed JSON frame: binary frame on the JSON subprotocol');
    try {
      return JSON.parse(buf.toString('utf8'));
    } catch {
      throw new FrameDecodeError('malformed JSON frame');
    }
  }
  if (!isBinary) throw new FrameDecodeError('malformed MessagePack frame: text frame on the MessagePack subprotocol');
  try {
    return plain.unpack(buf);
  } catch {
    throw new FrameDecodeError('malformed MessagePack frame (or nested too deep)');
  }
}

/** Size of a value as the client encoded it (limits are measured on the encoded form). */
export function encodedSize(value: unknown, codec: ClientCodec): number {
  return codec === 'json' ? Buffer.byteLength(JSON.stringify(value) ?? '') : plain.pack(value).length;
}
