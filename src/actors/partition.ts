/**
 * Partitions: where an actor id lives.
 *
 * An actor id hashes to one of P partitions (default 256, fixed for the life
 * of a deployment: changing P moves almost every id). A partition is the unit
 * of placement, storage and replication; a {@link PartitionTable} maps each
 * partition to its owner.
 *
 * The hash is 32-bit FNV-1a over the id's UTF-8 bytes, then MurmurHash3's
 * 32-bit finalizer (`fmix32`), reduced modulo P. The finalizer is there
 * because FNV-1a mixes its low bits poorly and `mod P` (P a power of two)
 * keeps only those: bit 0 of FNV-1a is the parity of the id's odd bytes, so
 * without it all 500 conversations `dm:u00000:u00500` … `dm:u00499:u00999`
 * land on odd partitions, i.e. on one of two scheduler threads. The hash is
 * part of the on-disk contract (the store keys records by partition; a data
 * directory records `PARTITION_HASH` in its layout), so it must never change:
 * `test/actors/partition.test.ts` pins known values.
 */

export const DEFAULT_PARTITIONS = 256;

/** The name of the placement hash, recorded with data laid out by it. */
export const PARTITION_HASH = 'fnv1a32-fmix32';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const utf8 = new TextEncoder();

/** 32-bit FNV-1a of the UTF-8 bytes of `s`, as an unsigned integer. */
export function fnv1a32(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return fnv1a32Bytes(utf8.encode(s)); // rare: ids are mostly ASCII
    h ^= c;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

function fnv1a32Bytes(bytes: Uint8Array): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** MurmurHash3's 32-bit finalizer: every input bit affects every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The partition of an actor id: `fmix32(fnv1a32(id)) mod partitions`. */
export function partitionOf(id: string, partitions: number = DEFAULT_PARTITIONS): number {
  return fmix32(fnv1a32(id)) % partitions;
}
