/**
 * Store: Mnesia's ideas on LevelDB. Tables, queues and counters, split by
 * the runtime's partitions, written by transactions through one group
 * committer, each committed batch numbered in a per-partition log.
 *
 * Guarantees (defaults in options.ts):
 * - `await tx.commit()` resolves only once the transaction is on disk
 *   (`durability: "fsync"`, default); all of it or nothing survives any crash.
 * - Transactions of one partition commit in call order; each committed
 *   batch has the next LSN of every partition it touched, with no gaps.
 * - Queue numbers have no gaps; queue numbers and counter values are never
 *   handed out twice, across crashes and failed writes.
 * - A failed write rejects the callers of its batch and acknowledges nothing;
 *   the store reopens the database and keeps serving. A partition fault
 *   (faults.ts) fails that partition's transactions only.
 * - Memory: queue entries and records live on disk; in memory are at most
 *   `stateCacheSize` queue and counter states and LevelDB's own buffers.
 *
 * Layout: one LevelDB per store, every key prefixed by its partition (see
 * keys.ts and docs/store.md for the measurement behind this choice). One
 * store is a value: open as many as needed (one per worker, or several in
 * one test), each at its own location. A second open of one location fails
 * with `store_locked`.
 *
 * Not provided: isolation between concurrent transactions on one key (see
 * transaction.ts), secondary indexes, transactions across partitions.
 */

import { PARTITION_HASH, partitionOf } from '../actors/partition.js';
import type { StorageAdapter } from './adapter.js';
import { packMeta, unpackMeta } from './codec.js';
import { Committer, type CommitStats } from './committer.js';
import { Counter } from './counter.js';
import { StoreError, toStoreError } from './errors.js';
import { StoreFaults } from './faults.js';
import { GLOBAL_SPACE, encodeTuple, globalKey, writeUint, type KeyElement, type SchemaOf } from './keys.js';
import { LevelAdapter } from './level-adapter.js';
import type { LogBatch } from './log.js';
import { PartitionLsns } from './lsn.js';
import { MemoryAdapter } from './memory-adapter.js';
import { normalize, type Durability, type NormalizedOptions, type StoreOptions } from './options.js';
import { DEFAULT_QUEUE_TTL_MS, Queue } from './queue.js';
import { decodeRecord, readBytes, type StoreCore } from './reads.js';
import * as replication from './replication.js';
import { Catalog, checkKeySchema, checkName, checkTtl, recordPrefix, type Storage, type TableDef } from './schema.js';
import { StateCache } from './state.js';
import { Sweeper, type SweepReport } from './sweeper.js';
import { Table } from './table.js';
import { Transaction, type CommitResult } from './transaction.js';

const FORMAT = 1;

export interface TableOptions<K extends readonly KeyElement[]> {
  /** The key schema, element by element; the first is the owner id. */
  key: SchemaOf<K>;
  /** `disc` (default) or `ram` (in memory only, not logged, lost on restart). */
  storage?: Storage;
  /** Records expire this long after they were written; default never. */
  ttlMs?: number | null;
}

export interface QueueOptions {
  /** Entries expire this long after they were appended; default 30 days; null: never. */
  ttlMs?: number | null;
}

export interface StoreStats extends CommitStats {
  cachedStates: number;
}

export async function openStore(options: StoreOptions): Promise<Store> {
  const o = normalize(options);
  const adapter = o.adapter ?? new LevelAdapter(o.location!, o.level);
  try {
    await adapter.open();
  } catch (err) {
    throw toStoreError(err, `opening ${adapter.location}`);
  }
  try {
    const store = new Store(o, adapter);
    await store.load();
    return store;
  } catch (err) {
    await adapter.close().catch(() => undefined);
    throw toStoreError(err, `opening ${adapter.location}`);
  }
}

export class Store {
  readonly partitions: number;
  readonly durability: Durability;
  readonly faults: StoreFaults;
  /** @internal */
  readonly core: StoreCore & replication.ReplicationHost;
  private readonly catalog = new Catalog();
  private readonly lsns: PartitionLsns;
  private readonly committer: Committer;
  private readonly sweeper: Sweeper;
  private readonly cache: StateCache;
  private closed = false;
  private closing: Promise<void> | null = null;

  /** @internal use {@link openStore} */
  constructor(
    private readonly o: NormalizedOptions,
    readonly adapter: StorageAdapter,
  ) {
    this.partitions = o.partitions;
    this.durability = o.durability;
    this.lsns = new PartitionLsns(o.partitions);
    this.cache = new StateCache(o.stateCacheSize);
    const ram = new MemoryAdapter(undefined, { location: 'ram' });
    void ram.open();
    this.faults = new StoreFaults((table, key) => this.corrupt(table, key));
    this.committer = new Committer({
      adapter,
      ram,
      sync: o.durability === 'fsync',
      maxBatchOps: o.maxBatchOps,
      expiryGranularityMs: o.expiryGranularityMs,
      faults: this.faults,
      catalog: this.catalog,
      cache: this.cache,
      lsns: this.lsns,
      log: o.log,
      now: o.clock,
    });
    this.core = {
      adapter,
      ram,
      faults: this.faults,
      partitions: o.partitions,
      lsns: this.lsns,
      log: o.log,
      committer: this.committer,
      cache: this.cache,
      now: o.clock,
      isClosed: () => this.closed,
      checkOpen: () => this.checkOpen(),
      transaction: (owner: string | number) => this.transaction(owner),
      enqueue: (tx: Transaction) => this.committer.enqueue(tx),
      readRecord: async (def: TableDef, key: Uint8Array, show: string) => {
        const b = await readBytes(this.core, def, key, show);
        return b === undefined ? undefined : decodeRecord(this.core, def, b, () => show);
      },
      decodeRecord: (def: TableDef, bytes: Uint8Array, show: string) => decodeRecord(this.core, def, bytes, () => show),
    };
    this.sweeper = new Sweeper(this.core, o.sweepIntervalMs, o.logRetain);
  }

  /** @internal */
  async load(): Promise<void> {
    const a = this.adapter;
    const header = await a.get(globalKey(GLOBAL_SPACE.header));
    if (header) {
      const h = unpackMeta<{ format: number; partitions: number; hash?: string }>(header, 'store header');
      if (h.format !== FORMAT) throw new StoreError('store_schema', `${a.location}: on-disk format ${h.format}, this code reads ${FORMAT}`);
      if (h.partitions !== this.partitions) {
        throw new StoreError('store_schema', `${a.location} was created with ${h.partitions} partitions, not ${this.partitions}`);
      }
      // Records are keyed by partition: under another hash every id would look for its data elsewhere.
      const hash = h.hash ?? 'fnv1a32';
      if (hash !== PARTITION_HASH) {
        throw new StoreError('store_schema', `${a.location} places ids by partition hash ${hash}; this code uses ${PARTITION_HASH} and cannot read it`);
      }
    } else {
      await a.write([{ key: globalKey(GLOBAL_SPACE.header), value: packMeta({ format: FORMAT, partitions: this.partitions, hash: PARTITION_HASH }) }], true);
    }
    const it = a.iterate({ gte: globalKey(GLOBAL_SPACE.catalog), lt: globalKey(GLOBAL_SPACE.catalog + 1) });
    try {
      for (;;) {
        const rows = await it.nextv(1024);
        if (rows.length === 0) break;
        this.catalog.load(rows);
      }
    } finally {
      await it.close();
    }
    await this.lsns.load(a);
    await replication.dropHalfRestored(a, this.lsns);
    this.sweeper.start();
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('store_closed', 'store is closed');
  }

  /** Declares (or gets) a table. Declaring a name again with another schema fails with `store_schema`. */
  table<K extends readonly KeyElement[], V>(name: string, opts: TableOptions<K>): Table<K, V> {
    this.checkOpen();
    checkName(name);
    const key = opts.key as unknown as TableDef['key'];
    checkKeySchema(key, name);
    const storage = opts.storage ?? 'disc';
    if (storage !== 'disc' && storage !== 'ram') throw new StoreError('store_invalid', `table ${name}: storage ${String(storage)}`);
    const def = this.catalog.declare({ kind: 'table', name, key: [...key], storage, ttlMs: checkTtl(opts.ttlMs, `table ${name}`), prefixes: [] });
    return new Table<K, V>(this.core, def);
  }

  /** Declares (or gets) a queue. */
  queue<V>(name: string, opts: QueueOptions = {}): Queue<V> {
    this.checkOpen();
    checkName(name);
    const ttlMs = opts.ttlMs === undefined ? DEFAULT_QUEUE_TTL_MS : checkTtl(opts.ttlMs, `queue ${name}`);
    const def = this.catalog.declare({ kind: 'queue', name, ttlMs, prefixes: [], metaPrefixes: [] });
    return new Queue<V>(this.core, def);
  }

  /** Declares (or gets) a counter. */
  counter(name: string): Counter {
    this.checkOpen();
    checkName(name);
    return new Counter(this.core, this.catalog.declare({ kind: 'counter', name, prefixes: [] }));
  }

  /** The partition of an owner id. */
  partitionOf(owner: string): number {
    return partitionOf(owner, this.partitions);
  }

  /** A transaction on the partition of `owner` (an actor id) or on partition number `owner`. */
  transaction(owner: string | number): Transaction {
    this.checkOpen();
    const p = typeof owner === 'number' ? owner : this.partitionOf(owner);
    replication.checkPartition(this, p);
    return new Transaction(this.core, p, typeof owner === 'string' ? owner : null);
  }

  /** The LSN of the partition's last durable batch (0 if none). */
  lastLsn(partition: number): number {
    replication.checkPartition(this, partition);
    return this.lsns.last[partition]!;
  }

  /** Streams the partition's committed batches from `fromLsn` on; see replication.ts. */
  follow(partition: number, fromLsn: number, opts?: replication.FollowOptions): AsyncGenerator<LogBatch> {
    this.checkOpen();
    return replication.follow(this.core, partition, fromLsn, opts);
  }

  /** A consistent copy of one partition and the LSN it reflects. Close it when done. */
  snapshot(partition: number): Promise<replication.PartitionSnapshot> {
    this.checkOpen();
    return replication.snapshot(this.core, partition);
  }

  /** Replaces a partition with a snapshot (of this store or another). */
  restore(partition: number, source: replication.SnapshotSource): Promise<void> {
    this.checkOpen();
    return replication.restore(this.core, partition, source);
  }

  /** Applies a batch followed from another store; it must carry the next LSN. */
  apply(batch: LogBatch): Promise<CommitResult> {
    this.checkOpen();
    replication.checkPartition(this, batch.partition);
    return new Transaction(this.core, batch.partition).addIntent({ t: 'raw', lsn: batch.lsn, ops: batch.ops }).commit();
  }

  /** Deletes everything of a partition (after handing it off). */
  dropPartition(partition: number): Promise<void> {
    this.checkOpen();
    return replication.drop(this.core, partition);
  }

  /** Runs one sweep now (expiry and log trim). */
  sweep(): Promise<SweepReport> {
    this.checkOpen();
    return this.sweeper.sweep();
  }

  stats(): StoreStats {
    return { ...this.committer.stats, cachedStates: this.cache.size };
  }

  /** Writes everything queued, stops the sweeper, ends followers, closes the database. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        await this.sweeper.stop();
        await this.committer.close();
        this.closed = true;
        this.lsns.wakeAll();
        await this.adapter.close();
      })();
    }
    return this.closing;
  }

  private async corrupt(table: string, key: readonly unknown[]): Promise<void> {
    const def = this.catalog.get(table);
    if (!def || def.kind !== 'table') throw new StoreError('store_invalid', `corrupt: no table ${table}`);
    const tuple = key as readonly KeyElement[];
    const bytes = encodeTuple(recordPrefix(def, this.partitionOf(tuple[0] as string)), def.key, tuple);
    // An array header announcing two elements, followed by one: no decoder accepts it.
    const junk = Uint8Array.of(0x92, 0x01);
    let value = junk;
    if (def.ttlMs !== null) {
      value = new Uint8Array(8 + junk.length);
      writeUint(value, 0, 0);
      value.set(junk, 8);
    }
    const target = def.storage === 'ram' ? this.core.ram : this.adapter;
    await target.write([{ key: bytes, value }], true);
  }
}
