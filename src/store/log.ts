/**
 * The partition log's entry format.
 *
 * Each committed batch writes, for every partition it touched, one entry at
 * `[p][0x30][lsn]` holding that partition's ops of the batch, byte for byte
 * (records, queue states, counters, TTL index): applying the entries of a
 * partition in LSN order to a snapshot taken at LSN n reproduces the
 * partition exactly. The entry is written in the same LevelDB batch as the
 * ops it describes, so it is present if and only if they are.
 *
 * Layout: `[version=1][count:u32]` then per op
 * `[keyLen:u32][key][valueLen:u32 | 0xFFFFFFFF for a delete][value]`.
 *
 * A store opened with `log: "lsn"` (options.ts) numbers its batches the
 * same way but writes `[version=2]` alone: the LSN is durable and gap-free,
 * the ops are not recorded (they are in the store once, not twice), so such
 * an entry cannot be replayed and `decodeLogEntry` refuses it.
 */

import type { Bytes, WriteOp } from './adapter.js';
import { StoreError } from './errors.js';

/** One committed batch of one partition, as `follow` yields it. */
export interface LogBatch {
  partition: number;
  lsn: number;
  ops: WriteOp[];
}

const DELETE = 0xffffffff;

/** The entry of a batch whose ops were not recorded (`log: "lsn"`). */
export const LSN_ONLY_ENTRY: Uint8Array = Uint8Array.of(2);

export function encodeLogEntry(ops: readonly WriteOp[]): Uint8Array {
  let size = 5;
  for (const op of ops) size += 8 + op.key.length + (op.value ? op.value.length : 0);
  const out = Buffer.allocUnsafe(size);
  out[0] = 1;
  out.writeUInt32BE(ops.length, 1);
  let pos = 5;
  for (const op of ops) {
    out.writeUInt32BE(op.key.length, pos);
    out.set(op.key, pos + 4);
    pos += 4 + op.key.length;
    if (op.value === null) {
      out.writeUInt32BE(DELETE, pos);
      pos += 4;
    } else {
      out.writeUInt32BE(op.value.length, pos);
      out.set(op.value, pos + 4);
      pos += 4 + op.value.length;
    }
  }
  return out;
}

export function decodeLogEntry(bytes: Bytes): WriteOp[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (b.length === 1 && b[0] === 2) throw new StoreError('store_log_trimmed', 'the log entry holds no ops (written with log: "lsn"); catch up from a snapshot');
  if (b.length < 5 || b[0] !== 1) throw new StoreError('store_decode', 'not a log entry');
  const n = b.readUInt32BE(1);
  const ops: WriteOp[] = [];
  let pos = 5;
  try {
    for (let i = 0; i < n; i++) {
      const kl = b.readUInt32BE(pos);
      const key = b.subarray(pos + 4, pos + 4 + kl);
      pos += 4 + kl;
      const vl = b.readUInt32BE(pos);
      pos += 4;
      if (vl === DELETE) {
        ops.push({ key, value: null });
      } else {
        ops.push({ key, value: b.subarray(pos, pos + vl) });
        pos += vl;
      }
    }
  } catch (err) {
    throw new StoreError('store_decode', 'log entry is truncated', { cause: err });
  }
  if (pos !== b.length) throw new StoreError('store_decode', 'log entry has trailing bytes');
  return ops;
}
