/**
 * Baselines for the store benchmarks: the same records written, read and
 * scanned with classic-level directly, as a program with no store would.
 *
 * - `rawBatches`: synced chained batches of `size` records, one at a time
 *   (what the issue calls raw: about 100-165k writes/s here at size 100).
 * - `RawGroupCommit`: the bare group-commit technique on classic-level
 *   (flush when the previous synced batch is done), for latency baselines.
 */
import { Level } from 'level';
import { Packr } from 'msgpackr';
import { partitionOf } from '../../src/actors/partition.js';

export type Db = Level<Buffer, Buffer>;

/** classic-level with the options the store's LevelAdapter uses by default, so a comparison measures the store, not the tuning. */
export async function openRaw(dir: string): Promise<Db> {
  const db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer', ...({ writeBufferSize: 16 * 2 ** 20, maxOpenFiles: 500 } as object) });
  await db.open();
  return db;
}

/** A chat message as the conversation log would hold it (about 100 bytes encoded). */
export interface Message {
  from: string;
  text: string;
  at: number;
}

export interface Rec {
  owner: string;
  seq: number;
  value: Message;
}

/** `n` records spread over `owners` conversations (and so over the partitions). */
export function makeRecords(n: number, owners = 5000): Rec[] {
  const text = 'x'.repeat(64);
  return Array.from({ length: n }, (_, i) => ({
    owner: `conv:dm:u${i % owners}:v${i % owners}`,
    seq: i,
    value: { from: `user:u${i % owners}`, text, at: 1_700_000_000_000 + i },
  }));
}

const packr = new Packr({ useRecords: false });

/** The records as bytes: a key with the partition first (as the store lays it out) and the msgpack value. */
export function encodeRecords(recs: Rec[], partitions = 256): Array<[Buffer, Buffer]> {
  return recs.map((r) => {
    const owner = Buffer.from(r.owner);
    const k = Buffer.alloc(2 + owner.length + 1 + 8);
    k.writeUInt16BE(partitionOf(r.owner, partitions), 0);
    owner.copy(k, 2);
    k.writeUInt32BE(Math.floor(r.seq / 2 ** 32), 3 + owner.length);
    k.writeUInt32BE(r.seq >>> 0, 7 + owner.length);
    return [k, Buffer.from(packr.pack(r.value))];
  });
}

/** Writes the records as synced chained batches of `size`, one batch at a time; returns records/s. */
export async function rawBatches(db: Db, recs: Array<[Buffer, Buffer]>, size: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < recs.length; i += size) {
    const b = db.batch();
    const end = Math.min(recs.length, i + size);
    for (let j = i; j < end; j++) b.put(recs[j]![0], recs[j]![1]);
    await b.write({ sync: true } as object);
  }
  return (recs.length / (performance.now() - t0)) * 1000;
}

/** The bare technique: queue writes, flush them as one synced chained batch whenever the previous one is done. */
export class RawGroupCommit {
  private pending: Array<[Buffer, Buffer | null]> = [];
  private waiters: Array<() => void> = [];
  private writing = false;
  batches = 0;

  constructor(private readonly db: Db) {}

  write(ops: Array<[Buffer, Buffer | null]>): Promise<void> {
    for (const op of ops) this.pending.push(op);
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      if (!this.writing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.writing = true;
    while (this.pending.length > 0) {
      const ops = this.pending;
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      const b = this.db.batch();
      for (const [k, v] of ops) {
        if (v === null) b.del(k);
        else b.put(k, v);
      }
      await b.write({ sync: true } as object);
      this.batches++;
      for (const w of waiters) w();
    }
    this.writing = false;
  }
}

/** Scans a key range with nextv batches, without decoding; returns rows/s. */
export async function rawScan(db: Db, gte: Buffer, lt: Buffer, batch = 256): Promise<{ rows: number; perSec: number }> {
  const t0 = performance.now();
  const it = db.iterator({ gte, lt });
  let rows = 0;
  for (;;) {
    const got = await it.nextv(batch);
    if (got.length === 0) break;
    rows += got.length;
  }
  await it.close();
  return { rows, perSec: (rows / (performance.now() - t0)) * 1000 };
}
