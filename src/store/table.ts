/**
 * Table: records under a typed key, split by partition.
 *
 * A table has a name, a key schema whose first element is the owner id (a
 * string; its partition is the record's partition), a storage (`disc`,
 * default, or `ram`: kept in memory, lost on restart, not in the partition
 * log), and an optional TTL after which records read as absent and the
 * sweeper removes them.
 *
 * Reads: `get`, `getNow` (synchronous), `getMany`, and range scans within one partition, in key
 * order (see keys.ts: numbers big-endian, strings terminated, so
 * `(conv, 9) < (conv, 10)` and `("a") < ("ab")`), with bounds, a prefix,
 * `reverse` and `limit`, read in `nextv` batches (default 256 rows).
 * Writes: `put` and `del` here are one-record transactions; use a
 * {@link Transaction} to write several records (of several tables) atomically.
 */

import { partitionOf } from '../actors/partition.js';
import type { Bytes, KeyRange } from './adapter.js';
import { StoreError } from './errors.js';
import { decodeTuple, encodeTuple, prefixEnd, showKey, type KeyElement } from './keys.js';
import { adapterOf, decodeRecord, readBytes, readBytesNow, readManyBytes, scan, type StoreCore } from './reads.js';
import { recordPrefix, type TableDef } from './schema.js';
import type { CommitResult } from './transaction.js';

/** Every leading part of a key tuple, from one element (the owner) to all of them. */
export type PrefixOf<K extends readonly unknown[]> = K extends readonly [infer H, ...infer R] ? [H] | [H, ...PrefixOf<R>] : [];

export interface RangeOptions<K extends readonly KeyElement[]> {
  /** Only keys that start with these elements. */
  prefix?: PrefixOf<K>;
  /** Bounds; a partial tuple bounds every key that starts with it (`lte: [conv]` includes all of conv's keys). */
  gt?: PrefixOf<K>;
  gte?: PrefixOf<K>;
  lt?: PrefixOf<K>;
  lte?: PrefixOf<K>;
  /** The partition to scan when no bound names an owner (a scan of the whole table in one partition). */
  partition?: number;
  reverse?: boolean;
  /** At most this many rows; default all. */
  limit?: number;
  /** Rows per `nextv` read; default 256. */
  batchSize?: number;
}

export class Table<K extends readonly KeyElement[], V> {
  /** Type carrier for transaction methods; never set. */
  declare readonly __types?: [K, V];

  constructor(
    private readonly core: StoreCore,
    /** @internal */
    readonly def: TableDef,
  ) {}

  get name(): string {
    return this.def.name;
  }

  private partition(owner: unknown): number {
    if (typeof owner !== 'string') throw new StoreError('store_invalid', `${this.def.name}: the first key element must be the owner id (a string)`, { table: this.def.name });
    return partitionOf(owner, this.core.partitions);
  }

  private encode(key: readonly KeyElement[]): Uint8Array {
    if (!Array.isArray(key) || key.length !== this.def.key.length) {
      throw new StoreError('store_invalid', `${this.def.name}: key must have ${this.def.key.length} elements`, { table: this.def.name });
    }
    return encodeTuple(recordPrefix(this.def, this.partition(key[0])), this.def.key, key);
  }

  async get(key: K): Promise<V | undefined> {
    const show = showKey(key);
    return this.record(await readBytes(this.core, this.def, this.encode(key), show), show);
  }

  /**
   * `get` answered on the calling thread, without a trip through libuv's
   * pool. Meant for point reads that are nearly always in memory, such as
   * checking that a fresh id is absent (LevelDB's bloom filters answer
   * that without touching disk); a cold record blocks the thread while it
   * is read.
   */
  getNow(key: K): V | undefined {
    const show = showKey(key);
    return this.record(readBytesNow(this.core, this.def, this.encode(key), show), show);
  }

  private record(bytes: Uint8Array | undefined, show: string): V | undefined {
    return bytes === undefined ? undefined : decodeRecord<V>(this.core, this.def, bytes, () => show);
  }

  async getMany(keys: readonly K[]): Promise<Array<V | undefined>> {
    const bytes = await readManyBytes(this.core, this.def, keys.map((k) => this.encode(k)));
    return bytes.map((b, i) => (b === undefined ? undefined : decodeRecord<V>(this.core, this.def, b, () => showKey(keys[i]!))));
  }

  /** Rows in key order, read in batches. */
  async *range(opts: RangeOptions<K> = {}): AsyncGenerator<[K, V]> {
    for await (const rows of this.rangeBatches(opts)) yield* rows;
  }

  /** Rows in key order, one array per `nextv` batch. */
  async *rangeBatches(opts: RangeOptions<K> = {}): AsyncGenerator<Array<[K, V]>> {
    const { range, base } = this.bounds(opts);
    const expiring = this.def.ttlMs !== null;
    let left = opts.limit ?? Infinity;
    if (left <= 0) return;
    // Expired rows are skipped, so with a TTL the limit is counted here rather than by LevelDB.
    if (!expiring && opts.limit !== undefined) range.limit = opts.limit;
    const size = opts.batchSize ?? 256;
    for await (const raw of scan(this.core, adapterOf(this.core, this.def), this.def.name, range, size)) {
      const rows: Array<[K, V]> = [];
      for (const [k, v] of raw) {
        const key = decodeTuple(k, base, this.def.key) as unknown as K;
        const value = decodeRecord<V>(this.core, this.def, v, () => showKey(key));
        if (value === undefined) continue;
        rows.push([key, value]);
        if (--left === 0) break;
      }
      if (rows.length > 0) yield rows;
      if (left === 0) return;
    }
  }

  private bounds(opts: RangeOptions<K>): { range: KeyRange; base: number } {
    const owners = [opts.prefix, opts.gt, opts.gte, opts.lt, opts.lte].filter((b) => b !== undefined && b.length > 0).map((b) => b![0]);
    const parts = new Set(owners.map((o) => this.partition(o)));
    if (opts.partition !== undefined) parts.add(opts.partition);
    if (parts.size === 0) throw new StoreError('store_invalid', `${this.def.name}: a range needs an owner in a bound or prefix, or a partition`, { table: this.def.name });
    if (parts.size > 1) throw new StoreError('store_cross_partition', `${this.def.name}: a range lies within one partition`, { table: this.def.name });
    const p = [...parts][0]!;
    if (!Number.isInteger(p) || p < 0 || p >= this.core.partitions) throw new StoreError('store_invalid', `${this.def.name}: no partition ${p}`, { table: this.def.name });
    const base = recordPrefix(this.def, p);
    const enc = (t: readonly KeyElement[]): Uint8Array => encodeTuple(base, this.def.key, t);
    let lo: Bytes = base;
    let hi: Bytes = prefixEnd(base)!;
    const raise = (b: Bytes): void => {
      if (Buffer.compare(b, lo) > 0) lo = b;
    };
    const lower = (b: Bytes | undefined): void => {
      if (b && Buffer.compare(b, hi) < 0) hi = b;
    };
    if (opts.prefix) {
      const pre = enc(opts.prefix);
      raise(pre);
      lower(prefixEnd(pre));
    }
    if (opts.gte) raise(enc(opts.gte));
    if (opts.gt) raise(prefixEnd(enc(opts.gt)) ?? hi);
    if (opts.lt) lower(enc(opts.lt));
    if (opts.lte) lower(prefixEnd(enc(opts.lte)));
    return { range: { gte: lo, lt: hi, reverse: opts.reverse ?? false }, base: base.length };
  }

  /** Writes one record (a one-record transaction); resolves once durable. */
  async put(key: K, value: V): Promise<CommitResult> {
    this.partition(key[0]);
    return this.core.transaction(key[0] as string).put(this, key, value).commit();
  }

  /** Deletes one record; resolves once durable. */
  async del(key: K): Promise<CommitResult> {
    this.partition(key[0]);
    return this.core.transaction(key[0] as string).del(this, key).commit();
  }
}
