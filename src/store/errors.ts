/**
 * Store errors: one class, a stable `code` from a closed set.
 *
 * Callers branch on `code`, never on message text. Where an error concerns a
 * record it names the `table` and a printable `key`; where it concerns a
 * partition, the `partition`. `injected` is true when a fault hook (see
 * faults.ts) raised it rather than the disk. A StoreError is a ParleyError,
 * as every error Parley raises. docs/store.md has the table of codes; keep it
 * (and docs/errors.md) in step with {@link StoreErrorCode}.
 */

import { ParleyError } from '../actors/errors.js';

export type StoreErrorCode =
  /** The store (or the iterator, snapshot or follower) was closed. */
  | 'store_closed'
  /** Another process (or another Store in this one) holds the database's lock. */
  | 'store_locked'
  /** The disk refused a read or write. */
  | 'store_io'
  /** The disk is full (ENOSPC). */
  | 'store_full'
  /** The database's own files are damaged (LevelDB reported corruption). */
  | 'store_corrupt'
  /** A stored record's bytes are not a value this store wrote. */
  | 'store_decode'
  /** A bad argument: a key that does not fit the schema, an ack past the head, a value of `undefined`... */
  | 'store_invalid'
  /** A table or queue declared with a key schema or kind other than the one on disk. */
  | 'store_schema'
  /** A transaction touched a record of another partition. */
  | 'store_cross_partition'
  /** `follow` asked for log entries that retention already removed: catch up from a snapshot. */
  | 'store_log_trimmed'
  /** A replicated batch does not follow the partition's last LSN. */
  | 'store_lsn_gap'
  /** A counter or queue number was read before its transaction committed. */
  | 'store_not_committed'
  /** A transaction was used after `commit()` or `abort()`. */
  | 'store_tx_done';

export interface StoreErrorDetails {
  table?: string;
  key?: string;
  partition?: number;
  injected?: boolean;
  cause?: unknown;
}

export class StoreError extends ParleyError {
  declare readonly code: StoreErrorCode;
  readonly table: string | undefined;
  readonly key: string | undefined;
  readonly partition: number | undefined;
  readonly injected: boolean;

  constructor(code: StoreErrorCode, message: string, details: StoreErrorDetails = {}) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'StoreError';
    this.table = details.table;
    this.key = details.key;
    this.partition = details.partition;
    this.injected = details.injected ?? false;
  }

  /** A copy of this error that also names a record (for a batch error reported to each of its callers). */
  about(details: StoreErrorDetails): StoreError {
    const where = describe(details);
    return new StoreError(this.code, where ? `${this.message} (${where})` : this.message, {
      table: details.table ?? this.table,
      key: details.key ?? this.key,
      partition: details.partition ?? this.partition,
      injected: this.injected,
      cause: this,
    });
  }
}

function describe(d: StoreErrorDetails): string {
  const parts: string[] = [];
  if (d.table !== undefined) parts.push(`table ${d.table}`);
  if (d.key !== undefined) parts.push(`key ${d.key}`);
  if (d.partition !== undefined) parts.push(`partition ${d.partition}`);
  return parts.join(', ');
}

/**
 * Turns whatever a storage backend threw into a StoreError. LevelDB reports
 * a full disk as a generic I/O error whose text carries the OS's words, so
 * the text is the only way to tell `store_full` from `store_io`.
 */
export function toStoreError(err: unknown, context: string): StoreError {
  if (err instanceof StoreError) return err;
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } } | undefined;
  const code = e?.code;
  const causeCode = e?.cause?.code;
  const text = `${e?.message ?? String(err)} ${e?.cause?.message ?? ''}`;
  if (code === 'LEVEL_LOCKED' || causeCode === 'LEVEL_LOCKED') {
    return new StoreError('store_locked', `${context}: database is locked by another process or store`, { cause: err });
  }
  if (/no space left|ENOSPC|disk full/i.test(text)) {
    return new StoreError('store_full', `${context}: disk full`, { cause: err });
  }
  if (code === 'LEVEL_CORRUPTION' || causeCode === 'LEVEL_CORRUPTION') {
    return new StoreError('store_corrupt', `${context}: database files are corrupt`, { cause: err });
  }
  if (code === 'LEVEL_DATABASE_NOT_OPEN' && causeCode === undefined) {
    return new StoreError('store_closed', `${context}: database is not open`, { cause: err });
  }
  return new StoreError('store_io', `${context}: ${e?.message ?? String(err)}`, { cause: err });
}
