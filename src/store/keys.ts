/**
 * Key encoding: tuples to bytes whose byte order is the tuples' logical order.
 *
 * LevelDB sorts keys as unsigned bytes, so a key's encoding decides what a
 * range scan returns. Every element encodes so that comparing encodings
 * compares values, element by element, and a shorter tuple sorts before every
 * longer tuple it is a prefix of:
 *
 * - `string`: UTF-8, each 0x00 byte written as 0x00 0xFF, then a 0x00
 *   terminator. `"a" < "ab"` because the terminator 0x00 sorts below every
 *   byte of a longer string, and an embedded NUL (0x00 0xFF) sorts above the
 *   terminator followed by anything but 0xFF, which never starts an element.
 *   Order is Unicode code point order (UTF-8's byte order), not JavaScript's
 *   UTF-16 `<` (they differ only for characters above U+FFFF).
 * - `bytes`: a 0x01 lead byte, then as `string` over the raw bytes. The lead
 *   byte keeps an element that follows a string from starting with 0xFF,
 *   which would read as an escaped NUL of that string.
 * - `uint`: 8 bytes big-endian; any safe integer in [0, 2^53).
 * - `int`: 8 bytes big-endian two's complement with the sign bit flipped, so
 *   negatives sort first; any safe integer.
 *
 * Physical layout (partition first, so one partition is one contiguous range
 * and can be copied, followed or dropped as a unit):
 *
 * ```
 * [p:u16][0x10][table\0][key tuple]          records and queue entries
 * [p:u16][0x11][queue\0][owner\0]            queue head, trim point, cursors
 * [p:u16][0x12][counter\0][owner\0]          counters
 * [p:u16][0x20][expiresAt:u64][kind][name\0][rest]   TTL index
 * [p:u16][0x30][lsn:u64]                     partition log
 * [0xFFFF][0x00]                             store header (format, partitions)
 * [0xFFFF][0x01][name\0]                     catalog: one declaration per name
 * [0xFFFF][0x02][p:u16]                      partition being restored (marker)
 * ```
 *
 * Partition numbers are therefore limited to [0, 65535).
 */

import { StoreError } from './errors.js';

export type KeyPart = 'string' | 'uint' | 'int' | 'bytes';
export type KeyElement = string | number | Uint8Array;
/** A table's key schema: the first element is the owner id (a string) that picks the partition. */
export type KeySchema = readonly ['string', ...KeyPart[]];
/** The key parts a key tuple type allows, element by element. */
export type SchemaOf<K extends readonly KeyElement[]> = {
  [I in keyof K]: K[I] extends string ? 'string' : K[I] extends number ? 'uint' | 'int' : 'bytes';
};

export const MAX_PARTITIONS = 0xffff;
export const GLOBAL = 0xffff;

export const SPACE = {
  record: 0x10,
  queueMeta: 0x11,
  counter: 0x12,
  ttl: 0x20,
  log: 0x30,
  /** First byte after everything a partition snapshot carries (records, metas, counters, TTL index). */
  snapshotEnd: 0x30,
  /** First byte after everything a partition holds. */
  end: 0x31,
} as const;

export const GLOBAL_SPACE = { header: 0x00, catalog: 0x01, restoring: 0x02 } as const;

/** Kinds in the TTL index. */
export const TTL_KIND = { record: 0x00, queue: 0x01 } as const;

const TWO_32 = 2 ** 32;

function invalid(msg: string): StoreError {
  return new StoreError('store_invalid', msg);
}

function escapedLength(b: Uint8Array): number {
  let n = b.length + 1;
  for (let i = 0; i < b.length; i++) if (b[i] === 0) n++;
  return n;
}

/** Bytes of one string, shared for the common case (ASCII ids); a fresh array otherwise. */
function utf8(s: string): Uint8Array {
  return Buffer.from(s, 'utf8');
}

/** Encoded size of one element, validating it against its part. */
function elementSize(part: KeyPart, v: KeyElement): number {
  switch (part) {
    case 'string':
      if (typeof v !== 'string') throw invalid(`key element ${String(v)} is not a string`);
      // Ids rarely hold a NUL; only then is the escaped length worth counting byte by byte.
      return v.includes('\0') ? escapedLength(utf8(v)) : Buffer.byteLength(v, 'utf8') + 1;
    case 'bytes':
      if (!(v instanceof Uint8Array)) throw invalid('key element is not a Uint8Array');
      return 1 + escapedLength(v);
    case 'uint':
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid(`key element ${String(v)} is not a uint`);
      return 8;
    case 'int':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalid(`key element ${String(v)} is not a safe integer`);
      return 8;
  }
}

function writeEscaped(out: Uint8Array, pos: number, b: Uint8Array): number {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    out[pos++] = c;
    if (c === 0) out[pos++] = 0xff;
  }
  out[pos++] = 0;
  return pos;
}

export function writeUint(out: Uint8Array, pos: number, v: number): number {
  const hi = Math.floor(v / TWO_32);
  const lo = v >>> 0;
  out[pos] = hi >>> 24;
  out[pos + 1] = hi >>> 16;
  out[pos + 2] = hi >>> 8;
  out[pos + 3] = hi;
  out[pos + 4] = lo >>> 24;
  out[pos + 5] = lo >>> 16;
  out[pos + 6] = lo >>> 8;
  out[pos + 7] = lo;
  return pos + 8;
}

export function readUint(b: Uint8Array, pos: number): number {
  const hi = ((b[pos]! << 24) | (b[pos + 1]! << 16) | (b[pos + 2]! << 8) | b[pos + 3]!) >>> 0;
  const lo = ((b[pos + 4]! << 24) | (b[pos + 5]! << 16) | (b[pos + 6]! << 8) | b[pos + 7]!) >>> 0;
  return hi * TWO_32 + lo;
}

function writeElement(out: Uint8Array, pos: number, part: KeyPart, v: KeyElement): number {
  switch (part) {
    case 'string': {
      const str = v as string;
      if (str.includes('\0')) return writeEscaped(out, pos, utf8(str));
      pos += (out as Buffer).write(str, pos, 'utf8');
      out[pos] = 0;
      return pos + 1;
    }
    case 'bytes':
      out[pos] = 0x01;
      return writeEscaped(out, pos + 1, v as Uint8Array);
    case 'uint':
      return writeUint(out, pos, v as number);
    case 'int': {
      const dv = new DataView(out.buffer, out.byteOffset + pos, 8);
      dv.setBigInt64(0, BigInt(v as number));
      out[pos] = out[pos]! ^ 0x80;
      return pos + 8;
    }
  }
}

/** Reads an escaped, terminated element; returns its raw bytes and the position after it. */
function readEscaped(b: Uint8Array, pos: number): [Uint8Array, number] {
  let end = pos;
  let escapes = 0;
  for (;;) {
    if (end >= b.length) throw new StoreError('store_decode', 'key ends inside a string element');
    if (b[end] === 0) {
      if (b[end + 1] === 0xff) {
        escapes++;
        end += 2;
        continue;
      }
      break;
    }
    end++;
  }
  if (escapes === 0) return [b.subarray(pos, end), end + 1];
  const raw = new Uint8Array(end - pos - escapes);
  let j = 0;
  for (let i = pos; i < end; i++) {
    raw[j++] = b[i]!;
    if (b[i] === 0) i++;
  }
  return [raw, end + 1];
}

function readElement(b: Uint8Array, pos: number, part: KeyPart): [KeyElement, number] {
  switch (part) {
    case 'string': {
      const [raw, next] = readEscaped(b, pos);
      return [Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('utf8'), next];
    }
    case 'bytes': {
      if (b[pos] !== 0x01) throw new StoreError('store_decode', 'bytes element without its lead byte');
      const [raw, next] = readEscaped(b, pos + 1);
      return [Uint8Array.from(raw), next];
    }
    case 'uint':
      if (pos + 8 > b.length) throw new StoreError('store_decode', 'key ends inside a uint element');
      return [readUint(b, pos), pos + 8];
    case 'int': {
      if (pos + 8 > b.length) throw new StoreError('store_decode', 'key ends inside an int element');
      const tmp = Uint8Array.from(b.subarray(pos, pos + 8));
      tmp[0] = tmp[0]! ^ 0x80;
      return [Number(new DataView(tmp.buffer).getBigInt64(0)), pos + 8];
    }
  }
}

/**
 * Encodes `tuple` (a full key or a prefix of one) under `schema`, after
 * `head` (the partition, space and name bytes).
 */
export function encodeTuple(head: Uint8Array, schema: readonly KeyPart[], tuple: readonly KeyElement[]): Uint8Array {
  if (tuple.length > schema.length) throw invalid(`key has ${tuple.length} elements, schema has ${schema.length}`);
  let size = head.length;
  for (let i = 0; i < tuple.length; i++) size += elementSize(schema[i]!, tuple[i]!);
  const out = Buffer.allocUnsafe(size);
  out.set(head, 0);
  let pos = head.length;
  for (let i = 0; i < tuple.length; i++) pos = writeElement(out, pos, schema[i]!, tuple[i]!);
  return out;
}

/** Decodes a full key tuple starting at `pos`. */
export function decodeTuple(b: Uint8Array, pos: number, schema: readonly KeyPart[]): KeyElement[] {
  const out: KeyElement[] = [];
  for (const part of schema) {
    const [v, next] = readElement(b, pos, part);
    out.push(v);
    pos = next;
  }
  if (pos !== b.length) throw new StoreError('store_decode', 'key has bytes after its last element');
  return out;
}

/** `[p:u16][space][name\0]`: the prefix every key of one table (or queue, counter) in one partition shares. */
export function namePrefix(partition: number, space: number, name: string): Uint8Array {
  const nb = utf8(name);
  const out = Buffer.allocUnsafe(3 + escapedLength(nb));
  out[0] = partition >>> 8;
  out[1] = partition & 0xff;
  out[2] = space;
  writeEscaped(out, 3, nb);
  return out;
}

/** `[p:u16][space]`. */
export function spacePrefix(partition: number, space: number): Uint8Array {
  return Uint8Array.of(partition >>> 8, partition & 0xff, space);
}

export function partitionOfKey(key: Uint8Array): number {
  return (key[0]! << 8) | key[1]!;
}

/** Reads the escaped name after `[p][space]` and returns it with the position after it. */
export function readName(key: Uint8Array, pos = 3): [string, number] {
  const [raw, next] = readEscaped(key, pos);
  return [Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('utf8'), next];
}

/** `[p][0x11|0x12][name\0][owner\0]`: a queue's or a counter's state key. */
export function ownerKey(partition: number, space: number, name: string, owner: string): Uint8Array {
  return encodeTuple(namePrefix(partition, space, name), ['string'], [owner]);
}

export function logKey(partition: number, lsn: number): Uint8Array {
  const out = Buffer.allocUnsafe(11);
  out[0] = partition >>> 8;
  out[1] = partition & 0xff;
  out[2] = SPACE.log;
  writeUint(out, 3, lsn);
  return out;
}

/** `[p][0x20][expiresAt][kind]` + the rest of the index entry. */
export function ttlKey(partition: number, expiresAt: number, kind: number, rest: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(12 + rest.length);
  out[0] = partition >>> 8;
  out[1] = partition & 0xff;
  out[2] = SPACE.ttl;
  writeUint(out, 3, expiresAt);
  out[11] = kind;
  out.set(rest, 12);
  return out;
}

export function globalKey(space: number, rest: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = Buffer.allocUnsafe(3 + rest.length);
  out[0] = 0xff;
  out[1] = 0xff;
  out[2] = space;
  out.set(rest, 3);
  return out;
}

/**
 * The first key after every key that starts with `prefix` (the exclusive
 * upper bound of a prefix scan), or undefined when no such key exists
 * (a prefix of only 0xFF bytes).
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  let n = prefix.length;
  while (n > 0 && prefix[n - 1] === 0xff) n--;
  if (n === 0) return undefined;
  const out = Buffer.allocUnsafe(n);
  out.set(prefix.subarray(0, n), 0);
  out[n - 1] = out[n - 1]! + 1;
  return out;
}

/** Printable form of a key tuple for error messages: `conv:dm:a:b,17`. */
export function showKey(tuple: readonly KeyElement[]): string {
  return tuple.map((v) => (v instanceof Uint8Array ? `0x${Buffer.from(v).toString('hex')}` : String(v))).join(',');
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** A key as a Map key (latin1 keeps every byte, and is the fastest Buffer-to-string). */
export function keyId(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
}
