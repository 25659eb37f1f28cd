/**
 * Fault hooks: the store's part of the node's fault-injection API.
 *
 * Off unless enabled: with no fault armed every check is one branch on a
 * null field. Each hook raises the same StoreError a real disk would cause,
 * with `injected: true`, and goes through the same paths: a failed batch
 * rejects its callers, reopens the backend and reloads the store's counters.
 *
 * - `failWrites({code, times, partition})`: the next `times` batches (default
 *   1, `Infinity` until cleared) fail with `code` (`store_io` default, or
 *   `store_full`). With `partition`, only that partition's transactions fail
 *   (as if its disk were bad) and the rest of each batch is written: other
 *   partitions keep serving.
 * - `failReads({code, times, table})`: the next reads (of `table`, or any) fail.
 * - `delayWrites(ms)`: every batch waits `ms` before it goes to disk (a slow
 *   disk); group commit keeps batching behind it.
 * - `corrupt(table, key)`: overwrites one record with bytes that do not
 *   decode, so reads of it fail with `store_decode`.
 * - `clear()`: disarms everything.
 */

import { StoreError } from './errors.js';

export type InjectedCode = 'store_io' | 'store_full';

export interface WriteFault {
  code?: InjectedCode;
  times?: number;
  partition?: number;
}

export interface ReadFault {
  code?: InjectedCode;
  times?: number;
  table?: string;
}

interface Armed<T> {
  spec: T;
  left: number;
}

function injected(code: InjectedCode, what: string): StoreError {
  return new StoreError(code, `${what} failed: ${code === 'store_full' ? 'disk full' : 'I/O error'} (injected)`, { injected: true });
}

export class StoreFaults {
  private writes: Armed<WriteFault> | null = null;
  private reads: Armed<ReadFault> | null = null;
  /** Milliseconds every batch waits before it is written; 0 when off. */
  writeDelayMs = 0;

  constructor(private readonly corruptFn: (table: string, key: readonly unknown[]) => Promise<void>) {}

  failWrites(spec: WriteFault = {}): void {
    this.writes = { spec, left: spec.times ?? 1 };
  }

  failReads(spec: ReadFault = {}): void {
    this.reads = { spec, left: spec.times ?? 1 };
  }

  delayWrites(ms: number): void {
    if (!(ms >= 0)) throw new StoreError('store_invalid', `delayWrites: ${ms} is not a duration`);
    this.writeDelayMs = ms;
  }

  corrupt(table: string, key: readonly unknown[]): Promise<void> {
    return this.corruptFn(table, key);
  }

  clear(): void {
    this.writes = null;
    this.reads = null;
    this.writeDelayMs = 0;
  }

  get armed(): boolean {
    return this.writes !== null || this.reads !== null || this.writeDelayMs > 0;
  }

  /** The error for this whole batch, if a batch-wide write fault fires. */
  takeBatchFault(): StoreError | null {
    const w = this.writes;
    if (!w || w.spec.partition !== undefined) return null;
    this.consume('writes');
    return injected(w.spec.code ?? 'store_io', 'write');
  }

  /** The partitions of this batch whose transactions fail, each with its error. */
  takePartitionFaults(partitions: Iterable<number>): Map<number, StoreError> | null {
    const w = this.writes;
    if (!w || w.spec.partition === undefined) return null;
    for (const p of partitions) {
      if (p === w.spec.partition) {
        this.consume('writes');
        return new Map([[p, injected(w.spec.code ?? 'store_io', `write to partition ${p}`)]]);
      }
    }
    return null;
  }

  /** Throws if a read fault fires for this table. */
  checkRead(table: string): void {
    const r = this.reads;
    if (!r || (r.spec.table !== undefined && r.spec.table !== table)) return;
    this.consume('reads');
    throw injected(r.spec.code ?? 'store_io', `read of ${table}`);
  }

  private consume(which: 'writes' | 'reads'): void {
    const a = this[which];
    if (!a) return;
    a.left--;
    if (a.left <= 0) this[which] = null;
  }
}
