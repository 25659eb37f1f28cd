/**
 * Queue: one durable, numbered queue per owner (a user's inbox, a
 * conversation's log), with one acknowledgement cursor per consumer.
 *
 * Guarantees:
 * - `append` numbers entries 1, 2, 3... per owner with no gaps, in commit
 *   order, and never hands out a number twice, across crashes too: the head
 *   is stored in the same batch as the entry (see state.ts).
 * - An entry, once its append is acknowledged, stays readable until every
 *   consumer has acknowledged it or it expires.
 * - Acknowledgements are cumulative per consumer (`ack(owner, device, 41)`
 *   covers 1..41); an ack below the consumer's cursor is ignored, an ack past
 *   the head fails with `store_invalid`.
 * - Entries every consumer has acknowledged are deleted in the same batch as
 *   the ack, subscribe or unsubscribe that made it so (a consumer that
 *   subscribes at the end has acknowledged everything before it). A queue
 *   with no consumer is trimmed only by expiry.
 * - Entries expire `ttlMs` after their append (default 30 days; null for
 *   never): they read as absent at once, and the sweeper deletes them within
 *   one sweep interval plus the expiry granularity (default 60 s each).
 *
 * Entries are stored as records of a table named after the queue with the
 * key `(owner, seq)`, so they sort by number and a read is one range scan.
 * Only the queue's small state (head, trim point, cursors) is ever held in
 * memory; entries stay on disk however many there are.
 */

import { partitionOf } from '../actors/partition.js';
import { decodeValue, expiryOf, unpackMeta } from './codec.js';
import { StoreError } from './errors.js';
import { SPACE, encodeTuple, prefixEnd, readUint, showKey } from './keys.js';
import { readBytes, scan, type StoreCore } from './reads.js';
import { prefixOf, recordPrefix, type QueueDef } from './schema.js';
import type { CommitResult, StartAt } from './transaction.js';

export const DEFAULT_QUEUE_TTL_MS = 30 * 24 * 3600 * 1000;

export interface QueueEntry<V> {
  seq: number;
  value: V;
  /** Milliseconds since the epoch; 0 for never. */
  expiresAt: number;
}

export interface QueueInfo {
  /** The number the next append will get. */
  next: number;
  /** The lowest number that may still be stored (entries below were acknowledged by all or expired). */
  first: number;
  /** Each consumer's cursor: the highest number it acknowledged. */
  consumers: Record<string, number>;
}

export class Queue<V> {
  /** Type carrier for transaction methods; never set. */
  declare readonly __types?: V;

  constructor(
    private readonly core: StoreCore,
    /** @internal */
    readonly def: QueueDef,
  ) {}

  get name(): string {
    return this.def.name;
  }

  private partition(owner: string): number {
    if (typeof owner !== 'string') throw new StoreError('store_invalid', `${this.def.name}: owner must be a string`, { table: this.def.name });
    return partitionOf(owner, this.core.partitions);
  }

  /** Appends one entry (a one-entry transaction); resolves with its number once durable. */
  async append(owner: string, value: V): Promise<number> {
    this.partition(owner);
    const tx = this.core.transaction(owner);
    const slot = tx.append(this, owner, value);
    await tx.commit();
    return slot.value;
  }

  /** Entries numbered after `after` (default 0), oldest first, at most `limit` (default 100). */
  async read(owner: string, opts: { after?: number; limit?: number } = {}): Promise<Array<QueueEntry<V>>> {
    const after = opts.after ?? 0;
    let left = opts.limit ?? 100;
    const p = this.partition(owner);
    const owned = encodeTuple(recordPrefix(this.def, p), ['string'], [owner]);
    const range = { gte: encodeTuple(recordPrefix(this.def, p), ['string', 'uint'], [owner, after + 1]), lt: prefixEnd(owned)! };
    const out: Array<QueueEntry<V>> = [];
    if (left <= 0) return out;
    const now = this.core.now();
    for await (const rows of scan(this.core, this.core.adapter, this.def.name, range, Math.min(left, 256))) {
      for (const [k, v] of rows) {
        const seq = readUint(k, k.length - 8);
        const expiresAt = expiryOf(v);
        if (expiresAt !== 0 && expiresAt <= now) continue;
        out.push({ seq, value: decodeValue<V>(v, 8, this.def.name, () => showKey([owner, seq])), expiresAt });
        if (--left === 0) return out;
      }
    }
    return out;
  }

  /** The entries after `consumer`'s cursor. */
  async readFor(owner: string, consumer: string, limit = 100): Promise<Array<QueueEntry<V>>> {
    const info = await this.info(owner);
    const c = info.consumers[consumer];
    if (c === undefined) throw new StoreError('store_invalid', `${this.def.name}: ${consumer} is not a consumer of ${owner}`, { table: this.def.name, key: owner });
    return this.read(owner, { after: c, limit });
  }

  /** The queue's durable state. */
  async info(owner: string): Promise<QueueInfo> {
    const p = this.partition(owner);
    const key = encodeTuple(prefixOf(this.def.metaPrefixes, p, SPACE.queueMeta, this.def.name), ['string'], [owner]);
    const bytes = await readBytes(this.core, this.def, key, owner);
    if (!bytes) return { next: 1, first: 1, consumers: {} };
    const [next, first, , consumers] = unpackMeta<[number, number, number, Record<string, number>]>(bytes, `${this.def.name} state of ${owner}`);
    return { next, first, consumers };
  }

  async ack(owner: string, consumer: string, seq: number): Promise<CommitResult> {
    this.partition(owner);
    return this.core.transaction(owner).ack(this, owner, consumer, seq).commit();
  }

  async subscribe(owner: string, consumer: string, from: StartAt = 'end'): Promise<CommitResult> {
    this.partition(owner);
    return this.core.transaction(owner).subscribe(this, owner, consumer, from).commit();
  }

  async unsubscribe(owner: string, consumer: string): Promise<CommitResult> {
    this.partition(owner);
    return this.core.transaction(owner).unsubscribe(this, owner, consumer).commit();
  }
}
