/**
 * The codec for envelopes between threads (and, later, nodes): msgpackr.
 *
 * - No shared structures. A batch is packed in one call, so msgpackr's record
 *   definitions are written once per batch, inline, and each buffer decodes
 *   on its own: there is no structure table that could grow differently on
 *   the two sides of a link (FACTS.md: "Data read, but end of buffer not
 *   reached").
 * - `pack()` returns a view of msgpackr's reused 8 KiB arena; `encodeBatch`
 *   copies it into a buffer of its own that the caller may transfer.
 * - An ActorRef inside a message crosses as a msgpack extension (type 0x50)
 *   `[node, id, partition, thread, incarnation]` and is rebound, on decode, to
 *   the Host of the receiving thread, so `ref.send` works on arrival.
 * - What a message may contain: what msgpack carries (null, booleans,
 *   numbers, strings, arrays, plain objects, Uint8Array/Buffer), plus Date,
 *   Map, Set and ActorRef. Class instances arrive as plain objects; functions
 *   and symbols are dropped. `undefined` in an array becomes null.
 */
import { Packr, addExtension } from 'msgpackr';
import { ActorRef } from '../actors/ref.js';
import { currentDecodingHost, withDecodingHost, type Host } from '../actors/host.js';

export const REF_EXT_TYPE = 0x50;

addExtension({
  Class: ActorRef,
  type: REF_EXT_TYPE,
  write(ref: ActorRef) {
    return [ref.node, ref.id, ref.partition, ref.thread, ref.incarnation];
  },
  read(d: [string, string, number, number, number]) {
    const host = currentDecodingHost();
    return host !== null ? host.decodeRef(d[0], d[1], d[2], d[3], d[4]) : new ActorRef(null, d[0], d[1], d[2], d[3], d[4]);
  },
});

const packr = new Packr({ moreTypes: true, useRecords: true });

/** Packs a batch of envelope fields into a buffer of its own (safe to transfer). */
export function encodeBatch(fields: unknown[]): Uint8Array {
  return new Uint8Array(packr.pack(fields));
}

/** Unpacks a batch, binding any ActorRef in it to `host`. */
export function decodeBatch(buf: Uint8Array, host: Host): unknown[] {
  return withDecodingHost(host, () => packr.unpack(buf) as unknown[]);
}
