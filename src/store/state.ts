/**
 * Hot state: queue heads and counters, as the committer keeps them.
 *
 * Queue numbers and counter values are assigned when a batch is built, from
 * these in-memory copies, and each changed state is written in the same batch
 * as the entries it numbered: the number on disk moves only with a durable
 * batch, so after any crash the next number follows the last one written and
 * none is ever handed out twice. Only the committer reads or changes them,
 * one batch at a time, so they need no locks.
 *
 * The cache holds at most `stateCacheSize` states (default 100,000, about
 * 10 MB), least recently used first out; an evicted state is reread from disk
 * when next needed. After a failed batch the whole cache is dropped, because
 * the failed batch may or may not have reached the disk.
 */

import { packMeta, unpackMeta } from './codec.js';
import { SPACE, keyId, partitionOfKey } from './keys.js';
import { SmallMap } from '../actors/small-map.js';

/** One queue: next number to assign, lowest number that may still be stored, consumers' acknowledged numbers. */
export class QueueState {
  readonly kind = 'queue';
  readonly id: string;
  readonly partition: number;
  next = 1;
  first = 1;
  /** End of the last expiry bucket indexed for this queue (see sweeper.ts); 0 when none. */
  bucket = 0;
  /** Consumer -> acknowledged number; a queue has one consumer per device, usually one (SmallMap). */
  cursors = new SmallMap<string, number>();
  /** `[p][0x10][queue\0][owner\0]`: entry keys are this plus the number (the state key in the record space). */
  readonly entryPrefix: Uint8Array;

  constructor(readonly key: Uint8Array) {
    this.id = keyId(key);
    this.partition = partitionOfKey(key);
    const pre = Buffer.from(key);
    pre[2] = SPACE.record;
    this.entryPrefix = pre;
  }

  static decode(key: Uint8Array, bytes: Uint8Array | undefined): QueueState {
    const s = new QueueState(key);
    if (bytes) {
      const [next, first, bucket, cursors] = unpackMeta<[number, number, number, Record<string, number>]>(bytes, 'queue state');
      s.next = next;
      s.first = first;
      s.bucket = bucket;
      s.cursors = SmallMap.from(Object.entries(cursors));
    }
    return s;
  }

  encode(): Uint8Array {
    return packMeta([this.next, this.first, this.bucket, Object.fromEntries(this.cursors)]);
  }

  /** The lowest acknowledged number over all consumers, or null when there are none. */
  minCursor(): number | null {
    let m: number | null = null;
    for (const c of this.cursors.values()) if (m === null || c < m) m = c;
    return m;
  }

  save(): () => void {
    const { next, first, bucket } = this;
    const cursors = SmallMap.from(this.cursors);
    return () => {
      this.next = next;
      this.first = first;
      this.bucket = bucket;
      this.cursors = cursors;
    };
  }
}

export class CounterState {
  readonly kind = 'counter';
  readonly id: string;
  readonly partition: number;
  value = 0;

  constructor(readonly key: Uint8Array) {
    this.id = keyId(key);
    this.partition = partitionOfKey(key);
  }

  static decode(key: Uint8Array, bytes: Uint8Array | undefined): CounterState {
    const s = new CounterState(key);
    if (bytes) s.value = unpackMeta<number>(bytes, 'counter');
    return s;
  }

  encode(): Uint8Array {
    return packMeta(this.value);
  }

  save(): () => void {
    const v = this.value;
    return () => {
      this.value = v;
    };
  }
}

export type HotState = QueueState | CounterState;

export class StateCache {
  private readonly map = new Map<string, HotState>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  get(id: string): HotState | undefined {
    const s = this.map.get(id);
    if (s) {
      // Map keeps insertion order: re-inserting makes it the most recent.
      this.map.delete(id);
      this.map.set(id, s);
    }
    return s;
  }

  add(s: HotState): void {
    this.map.set(s.id, s);
  }

  /** Drops the least recently used states beyond capacity (between batches only). */
  trim(): void {
    let over = this.map.size - this.capacity;
    if (over <= 0) return;
    for (const id of this.map.keys()) {
      if (over-- <= 0) break;
      this.map.delete(id);
    }
  }

  clear(): void {
    this.map.clear();
  }

  dropPartition(p: number): void {
    for (const [id, s] of this.map) if (s.partition === p) this.map.delete(id);
  }
}
