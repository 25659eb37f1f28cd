/**
 * The storage adapter: the thin contract between the store and a disk.
 *
 * An ordered byte-key map with atomic batches, explicit snapshots and
 * batched iteration, which is what LevelDB offers and all the store needs.
 * Two implementations: {@link LevelAdapter} (classic-level, the real one) and
 * {@link MemoryAdapter} (in memory, able to simulate a power loss). One
 * behavioural suite (test/store/adapter.test.ts) runs against both.
 *
 * Contract:
 * - `write(ops, sync)` is atomic: after any crash either every op of the
 *   batch is present or none is. With `sync: true` it resolves only once the
 *   batch (and every batch written before it) survives a power loss; with
 *   `sync: false` it survives a process crash but not a power loss.
 * - Batches are applied in the order `write` was called; the store never has
 *   two writes in flight, so it never depends on an order between them.
 * - After a failed `write`, the adapter may refuse further writes (LevelDB
 *   keeps a sticky background error) until `recover()` reopens it; a write
 *   that failed may or may not be present after `recover()`.
 * - `clear(range)` is not atomic and not synced: it reclaims space only.
 * - Errors are thrown as they come; the store maps them with `toStoreError`.
 */

export type Bytes = Uint8Array;

/** A put (value) or a delete (value null). */
export interface WriteOp {
  key: Bytes;
  value: Bytes | null;
}

export interface KeyRange {
  gt?: Bytes;
  gte?: Bytes;
  lt?: Bytes;
  lte?: Bytes;
  reverse?: boolean;
  /** At most this many entries; default unlimited. */
  limit?: number;
}

/** A consistent view of the whole database at one moment. */
export interface AdapterSnapshot {
  close(): Promise<void>;
}

export interface AdapterIterator {
  /** Up to `size` entries in range order; an empty array at the end. */
  nextv(size: number): Promise<Array<[Bytes, Bytes]>>;
  close(): Promise<void>;
}

export interface StorageAdapter {
  /** Where the data lives, for messages. */
  readonly location: string;
  open(): Promise<void>;
  close(): Promise<void>;
  /** Reopens after a failed write, so a sticky backend error does not outlive the failure. */
  recover(): Promise<void>;
  get(key: Bytes, snapshot?: AdapterSnapshot): Promise<Bytes | undefined>;
  getMany(keys: readonly Bytes[], snapshot?: AdapterSnapshot): Promise<Array<Bytes | undefined>>;
  /**
   * The same read on the calling thread, without a round trip through a
   * thread pool: cheap when the answer is in memory (memtable, block cache,
   * or a bloom filter saying "absent"), blocking the thread for a disk read
   * otherwise.
   */
  getSync(key: Bytes): Bytes | undefined;
  write(ops: readonly WriteOp[], sync: boolean): Promise<void>;
  iterate(range: KeyRange, snapshot?: AdapterSnapshot): AdapterIterator;
  snapshot(): AdapterSnapshot;
  clear(range: KeyRange): Promise<void>;
}
