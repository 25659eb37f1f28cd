/**
 * Transaction: writes to tables, queues and counters of one partition,
 * committed atomically and durably.
 *
 * Guarantees:
 * - Atomic: after any crash, all of a committed transaction's writes are
 *   present or none is; readers never see a part of one.
 * - Durable: `commit()` resolves only once the batch that carries it is
 *   synced to disk (with `durability: "fsync"`, the default).
 * - Ordered: transactions of one partition commit in the order `commit()`
 *   was called; each commit resolves with the partition's LSN of its batch.
 * - Numbered at commit: `append` and `increment` return an {@link Assigned}
 *   whose value is fixed when the batch is built and readable once `commit()`
 *   has resolved. Queue numbers have no gaps; no number is handed out twice.
 *
 * Not guaranteed: isolation between concurrent transactions. There are no
 * locks: `get` reads committed state (plus this transaction's own writes),
 * and of two transactions writing one key the later commit wins. Records are
 * owned by one actor, which writes them one message at a time; queue and
 * counter operations are applied in commit order and need no read.
 *
 * One partition per transaction: every key's owner (the first key element,
 * or the queue's or counter's owner) must hash to the transaction's
 * partition, else `store_cross_partition`. A conversation and its members
 * usually live in different partitions; the chat layer links their
 * transactions with at-least-once hand-offs, not one transaction.
 */

import { partitionOf } from '../actors/partition.js';
import { encodeExpiring, encodeValue } from './codec.js';
import { StoreError } from './errors.js';
import { SPACE, encodeTuple, showKey, type KeyElement } from './keys.js';
import type { CounterDef, QueueDef, TableDef } from './schema.js';
import { prefixOf, recordPrefix } from './schema.js';
import type { WriteOp } from './adapter.js';

export interface CommitResult {
  partition: number;
  /** The partition's log sequence number of the batch that carried this transaction. */
  lsn: number;
}

/** Where a new queue consumer starts: after the last entry (`end`, default), before the first kept one (`start`), or after a given number. */
export type StartAt = 'end' | 'start' | number;

export type Intent =
  | { t: 'put'; def: TableDef; key: Uint8Array; value: Uint8Array; expiresAt: number; tuple: readonly KeyElement[] }
  | { t: 'del'; def: TableDef; key: Uint8Array; tuple: readonly KeyElement[] }
  | { t: 'append'; def: QueueDef; owner: string; state: Uint8Array; value: Uint8Array; slot: Assigned }
  | { t: 'ack'; def: QueueDef; owner: string; state: Uint8Array; consumer: string; seq: number }
  | { t: 'subscribe'; def: QueueDef; owner: string; state: Uint8Array; consumer: string; from: StartAt }
  | { t: 'unsubscribe'; def: QueueDef; owner: string; state: Uint8Array; consumer: string }
  | { t: 'increment'; def: CounterDef; owner: string; state: Uint8Array; by: number; slot: Assigned }
  /** Sweeper: entries up to `upTo` expired; the index entry `index` (bucket `bucket`) is done. */
  | { t: 'expire'; state: Uint8Array; upTo: number; bucket: number; index: Uint8Array }
  /** Sweeper: an expired record, unless written since the sweep read it. */
  | { t: 'ttl_delete'; key: Uint8Array; index: Uint8Array }
  | { t: 'index_delete'; index: Uint8Array }
  /** Replication: a batch from another store's log, at its LSN. */
  | { t: 'raw'; lsn: number; ops: WriteOp[] };

/** What a transaction needs from its store. */
export interface TxHost {
  readonly partitions: number;
  now(): number;
  enqueue(tx: Transaction): Promise<CommitResult>;
  readRecord(def: TableDef, key: Uint8Array, show: string): Promise<unknown>;
  /** Decodes a record's stored bytes (undefined if expired). */
  decodeRecord(def: TableDef, bytes: Uint8Array, show: string): unknown;
}

/** A handle on a declared table, queue or counter. */
export interface HasDef<D> {
  readonly def: D;
}

type TxState = 'open' | 'committing' | 'committed' | 'failed' | 'aborted';

/** A number a transaction was given (a queue entry's, a counter's); readable once the transaction committed. */
export class Assigned {
  /** @internal set by the committer */
  v = 0;
  constructor(private readonly tx: Transaction) {}

  get value(): number {
    if (this.tx.state !== 'committed') {
      throw new StoreError('store_not_committed', `the number is known once the transaction commits (it is ${this.tx.state})`);
    }
    return this.v;
  }
}

export class Transaction {
  /** @internal */
  readonly intents: Intent[] = [];
  /** @internal */
  state: TxState = 'open';

  constructor(
    private readonly host: TxHost,
    readonly partition: number,
    /** The owner id the transaction was opened for, if any: its keys need no second hash. */
    private readonly owner: string | null = null,
  ) {}

  private open(): void {
    if (this.state !== 'open') throw new StoreError('store_tx_done', `transaction is ${this.state}`, { partition: this.partition });
  }

  private own(owner: string, what: string): void {
    if (owner === this.owner) return;
    if (typeof owner !== 'string') throw new StoreError('store_invalid', `${what}: owner must be a string`);
    const p = partitionOf(owner, this.host.partitions);
    if (p !== this.partition) {
      throw new StoreError('store_cross_partition', `${what}: ${owner} lives in partition ${p}, this transaction in ${this.partition}`, {
        partition: this.partition,
        key: owner,
      });
    }
  }

  private recordKey(def: TableDef, key: readonly KeyElement[]): Uint8Array {
    if (!Array.isArray(key) || key.length !== def.key.length) {
      throw new StoreError('store_invalid', `${def.name}: key must have ${def.key.length} elements`, { table: def.name });
    }
    this.own(key[0] as string, def.name);
    return encodeTuple(recordPrefix(def, this.partition), def.key, key);
  }

  put<K extends readonly KeyElement[], V>(table: HasDef<TableDef> & { readonly __types?: [K, V] }, key: K, value: V): this {
    this.open();
    const def = table.def;
    const k = this.recordKey(def, key);
    const expiresAt = def.ttlMs === null ? 0 : this.host.now() + def.ttlMs;
    const v = def.ttlMs === null ? encodeValue(value) : encodeExpiring(value, expiresAt);
    this.intents.push({ t: 'put', def, key: k, value: v, expiresAt, tuple: key });
    return this;
  }

  del<K extends readonly KeyElement[]>(table: HasDef<TableDef> & { readonly __types?: [K, unknown] }, key: K): this {
    this.open();
    const def = table.def;
    this.intents.push({ t: 'del', def, key: this.recordKey(def, key), tuple: key });
    return this;
  }

  /** Reads a record as this transaction would leave it: its own writes first, then committed state. */
  async get<K extends readonly KeyElement[], V>(table: HasDef<TableDef> & { readonly __types?: [K, V] }, key: K): Promise<V | undefined> {
    const def = table.def;
    const k = this.recordKey(def, key);
    for (let i = this.intents.length - 1; i >= 0; i--) {
      const it = this.intents[i]!;
      if ((it.t === 'put' || it.t === 'del') && it.def === def && Buffer.compare(it.key, k) === 0) {
        if (it.t === 'del') return undefined;
        return this.host.decodeRecord(def, it.value, showKey(it.tuple)) as V | undefined;
      }
    }
    return (await this.host.readRecord(def, k, showKey(key))) as V | undefined;
  }

  private queueState(def: QueueDef, owner: string, what: string): Uint8Array {
    this.own(owner, `${def.name}.${what}`);
    return encodeTuple(prefixOf(def.metaPrefixes, this.partition, SPACE.queueMeta, def.name), ['string'], [owner]);
  }

  private consumerName(consumer: string, def: QueueDef): void {
    if (typeof consumer !== 'string' || consumer.length === 0 || consumer.length > 128) {
      throw new StoreError('store_invalid', `${def.name}: consumer must be a string of 1-128 characters`, { table: def.name });
    }
  }

  /** Appends `value` to `owner`'s queue; its number is known after commit. */
  append<V>(queue: HasDef<QueueDef> & { readonly __types?: V }, owner: string, value: V): Assigned {
    this.open();
    const def = queue.def;
    const state = this.queueState(def, owner, 'append');
    const slot = new Assigned(this);
    // The expiry is stamped when the batch is built, in the 8 bytes reserved here.
    this.intents.push({ t: 'append', def, owner, state, value: encodeExpiring(value, 0), slot });
    return slot;
  }

  /** Acknowledges, for `consumer`, every entry of `owner`'s queue up to `seq` (cumulative; a lower `seq` than before is ignored). */
  ack(queue: HasDef<QueueDef>, owner: string, consumer: string, seq: number): this {
    this.open();
    const def = queue.def;
    this.consumerName(consumer, def);
    if (!Number.isSafeInteger(seq) || seq < 0) throw new StoreError('store_invalid', `${def.name}: ack of ${seq}`, { table: def.name, key: owner });
    this.intents.push({ t: 'ack', def, owner, state: this.queueState(def, owner, 'ack'), consumer, seq });
    return this;
  }

  /** Adds a consumer (e.g. a device) to `owner`'s queue; a consumer that exists keeps its cursor. */
  subscribe(queue: HasDef<QueueDef>, owner: string, consumer: string, from: StartAt = 'end'): this {
    this.open();
    const def = queue.def;
    this.consumerName(consumer, def);
    if (typeof from === 'number' && !(Number.isSafeInteger(from) && from >= 0)) {
      throw new StoreError('store_invalid', `${def.name}: subscribe from ${from}`, { table: def.name, key: owner });
    }
    this.intents.push({ t: 'subscribe', def, owner, state: this.queueState(def, owner, 'subscribe'), consumer, from });
    return this;
  }

  /** Removes a consumer; entries every remaining consumer has acknowledged are then trimmed. */
  unsubscribe(queue: HasDef<QueueDef>, owner: string, consumer: string): this {
    this.open();
    const def = queue.def;
    this.consumerName(consumer, def);
    this.intents.push({ t: 'unsubscribe', def, owner, state: this.queueState(def, owner, 'unsubscribe'), consumer });
    return this;
  }

  /** Adds `by` (default 1) to `owner`'s counter; the new value is known after commit. */
  increment(counter: HasDef<CounterDef>, owner: string, by = 1): Assigned {
    this.open();
    const def = counter.def;
    if (!Number.isSafeInteger(by) || by < 1) throw new StoreError('store_invalid', `${def.name}: increment by ${by}`, { table: def.name });
    this.own(owner, def.name);
    const state = encodeTuple(prefixOf(def.prefixes, this.partition, SPACE.counter, def.name), ['string'], [owner]);
    const slot = new Assigned(this);
    this.intents.push({ t: 'increment', def, owner, state, by, slot });
    return slot;
  }

  /** @internal used by the sweeper and replication */
  addIntent(intent: Intent): this {
    this.open();
    this.intents.push(intent);
    return this;
  }

  /** Commits; resolves once the writes are durable. A transaction with no writes resolves at once with the partition's current LSN. */
  commit(): Promise<CommitResult> {
    this.open();
    this.state = 'committing';
    return this.host.enqueue(this);
  }

  /** Drops the transaction's writes. */
  abort(): void {
    if (this.state === 'open') this.state = 'aborted';
  }
}
