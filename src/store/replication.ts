/**
 * Replication primitives: follow a partition's log, snapshot a partition,
 * restore a snapshot, apply followed batches, drop a partition.
 *
 * A replica catches up from zero with `snapshot(p)` on the primary (a
 * consistent copy of the partition and the LSN it reflects), `restore` on
 * the replica, then `follow(p, snapshot.lsn + 1)` on the primary and `apply`
 * on the replica for each batch. A replica that fell behind further than the
 * log's retention gets `store_log_trimmed` from `follow` and starts over from
 * a snapshot. Handoff of a partition to another store is the same path,
 * followed by `drop` on the old owner.
 *
 * Guarantees:
 * - `follow` yields only durable batches, each exactly once, in LSN order
 *   with no gaps; it waits for new batches until the store closes or the
 *   signal aborts, then ends.
 * - `apply` accepts only the next LSN (`store_lsn_gap` otherwise), writes the
 *   batch's ops and its log entry atomically, so a replica's log matches the
 *   primary's and it can itself be followed.
 * - `restore` is not atomic: it marks the partition as restoring first, and
 *   a store that opens with the mark set drops the half-restored partition.
 * - Ram tables are node-local: not in snapshots, not in the log.
 * - Only a store opened with `log: "ops"` (the default) can be followed; a
 *   batch written under `log: "lsn"` has its LSN but no ops, and `follow`
 *   reaching one fails with `store_log_trimmed` (catch up from a snapshot).
 */

import type { Bytes, StorageAdapter, WriteOp } from './adapter.js';
import type { Committer } from './committer.js';
import { StoreError, toStoreError } from './errors.js';
import { GLOBAL_SPACE, SPACE, globalKey, logKey, prefixEnd, readUint, spacePrefix } from './keys.js';
import { decodeLogEntry, encodeLogEntry, type LogBatch } from './log.js';
import type { PartitionLsns } from './lsn.js';
import type { LogMode } from './options.js';
import type { StateCache } from './state.js';

export interface ReplicationHost {
  readonly adapter: StorageAdapter;
  readonly partitions: number;
  readonly lsns: PartitionLsns;
  /** `lsn`: the log numbers batches without their ops, and cannot be followed. */
  readonly log: LogMode;
  readonly committer: Committer;
  readonly cache: StateCache;
  isClosed(): boolean;
}

export interface FollowOptions {
  /** Ends the stream when aborted. */
  signal?: AbortSignal;
  /** Log entries read per disk read; default 64. */
  batchSize?: number;
}

/** A consistent copy of one partition. */
export interface PartitionSnapshot {
  partition: number;
  /** The LSN of the last batch the copy includes (0 for an empty partition). */
  lsn: number;
  /** The partition's records, queue states, counters and TTL index, in key order. */
  entries(batchSize?: number): AsyncGenerator<Array<[Bytes, Bytes]>>;
  close(): Promise<void>;
}

/** What `restore` needs: a snapshot from this store or another, or the same data from the wire. */
export interface SnapshotSource {
  lsn: number;
  entries(batchSize?: number): AsyncIterable<Array<[Bytes, Bytes]>>;
}

export function checkPartition(host: { partitions: number }, p: number): void {
  if (!Number.isInteger(p) || p < 0 || p >= host.partitions) throw new StoreError('store_invalid', `no partition ${p} (the store has ${host.partitions})`);
}

export async function* follow(host: ReplicationHost, p: number, fromLsn: number, opts: FollowOptions = {}): AsyncGenerator<LogBatch> {
  checkPartition(host, p);
  if (!Number.isSafeInteger(fromLsn) || fromLsn < 1) throw new StoreError('store_invalid', `follow from ${fromLsn}: LSNs start at 1`);
  if (host.log !== 'ops') throw new StoreError('store_invalid', `follow of partition ${p}: this store was opened with log: "lsn", which records no ops to follow; open it with log: "ops" to replicate`, { partition: p });
  const size = opts.batchSize ?? 64;
  let next = fromLsn;
  let wake: (() => void) | null = null;
  const onAbort = (): void => wake?.();
  opts.signal?.addEventListener('abort', onAbort);
  try {
    while (!host.isClosed() && !opts.signal?.aborted) {
      const last = host.lsns.last[p]!;
      if (next > last) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          void host.lsns.wait(p).then(resolve);
        });
        wake = null;
        continue;
      }
      if (next < host.lsns.first[p]!) throw trimmed(p, next, host.lsns.first[p]!);
      const it = host.adapter.iterate({ gte: logKey(p, next), lte: logKey(p, last) });
      try {
        for (;;) {
          let rows: Array<[Bytes, Bytes]>;
          try {
            rows = await it.nextv(size);
          } catch (err) {
            throw toStoreError(err, `following partition ${p}`).about({ partition: p });
          }
          if (rows.length === 0) break;
          for (const [k, v] of rows) {
            const lsn = readUint(k, 3);
            // The sweeper may have trimmed the entries we were about to read.
            if (lsn !== next) throw trimmed(p, next, lsn);
            yield { partition: p, lsn, ops: decodeLogEntry(v) };
            next++;
          }
        }
      } finally {
        await it.close().catch(() => undefined);
      }
      if (next <= last) throw trimmed(p, next, host.lsns.first[p]!);
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

function trimmed(p: number, wanted: number, first: number): StoreError {
  return new StoreError('store_log_trimmed', `partition ${p}: log entry ${wanted} was trimmed (the log starts at ${first}); catch up from a snapshot`, { partition: p });
}

export async function snapshot(host: ReplicationHost, p: number): Promise<PartitionSnapshot> {
  checkPartition(host, p);
  const snap = host.adapter.snapshot();
  try {
    const it = host.adapter.iterate({ gte: logKey(p, 0), lt: prefixEnd(spacePrefix(p, SPACE.log))!, reverse: true, limit: 1 }, snap);
    const [last] = await it.nextv(1).finally(() => it.close());
    const lsn = last ? readUint(last[0], 3) : 0;
    return {
      partition: p,
      lsn,
      async *entries(batchSize = 512) {
        const it = host.adapter.iterate({ gte: spacePrefix(p, SPACE.record), lt: spacePrefix(p, SPACE.snapshotEnd) }, snap);
        try {
          for (;;) {
            const rows = await it.nextv(batchSize);
            if (rows.length === 0) return;
            yield rows;
          }
        } finally {
          await it.close();
        }
      },
      close: () => snap.close(),
    };
  } catch (err) {
    await snap.close();
    throw toStoreError(err, `snapshot of partition ${p}`).about({ partition: p });
  }
}

function restoringKey(p: number): Uint8Array {
  return globalKey(GLOBAL_SPACE.restoring, Uint8Array.of(p >>> 8, p & 0xff));
}

function wholePartition(p: number): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: spacePrefix(p, 0), lt: spacePrefix(p, SPACE.end) };
}

/** Replaces partition `p` with a snapshot's contents. Runs between batches; the partition must not be written meanwhile. */
export function restore(host: ReplicationHost, p: number, source: SnapshotSource): Promise<void> {
  checkPartition(host, p);
  return host.committer.exclusive(async () => {
    const a = host.adapter;
    try {
      await a.write([{ key: restoringKey(p), value: new Uint8Array(0) }], true);
      await a.clear(wholePartition(p));
      for await (const rows of source.entries(512)) {
        const ops: WriteOp[] = [];
        for (const [key, value] of rows) {
          if (key[0] !== p >>> 8 || key[1] !== (p & 0xff) || key[2]! < SPACE.record || key[2]! >= SPACE.snapshotEnd) {
            throw new StoreError('store_invalid', `restore of partition ${p}: a snapshot entry lies outside the partition`, { partition: p });
          }
          ops.push({ key, value });
        }
        await a.write(ops, false);
      }
      // The LSN marker: an empty log entry, so `follow(p, lsn + 1)` continues from here.
      await a.write([{ key: logKey(p, source.lsn), value: encodeLogEntry([]) }, { key: restoringKey(p), value: null }], true);
    } catch (err) {
      throw toStoreError(err, `restoring partition ${p}`).about({ partition: p });
    } finally {
      host.cache.dropPartition(p);
      await host.lsns.loadOne(a, p);
    }
  });
}

/** Removes everything of partition `p` (after it was handed off). */
export function drop(host: ReplicationHost, p: number): Promise<void> {
  checkPartition(host, p);
  return host.committer.exclusive(async () => {
    try {
      await host.adapter.clear(wholePartition(p));
    } catch (err) {
      throw toStoreError(err, `dropping partition ${p}`).about({ partition: p });
    } finally {
      host.cache.dropPartition(p);
      await host.lsns.loadOne(host.adapter, p);
    }
  });
}

/** On open: partitions whose restore a crash interrupted are dropped. */
export async function dropHalfRestored(adapter: StorageAdapter, lsns: PartitionLsns): Promise<number[]> {
  const it = adapter.iterate({ gte: globalKey(GLOBAL_SPACE.restoring), lt: globalKey(GLOBAL_SPACE.restoring + 1) });
  const rows = await it.nextv(65536).finally(() => it.close());
  const dropped: number[] = [];
  for (const [k] of rows) {
    const p = (k[3]! << 8) | k[4]!;
    await adapter.clear(wholePartition(p));
    await adapter.write([{ key: k, value: null }], true);
    if (p < lsns.partitions) await lsns.loadOne(adapter, p);
    dropped.push(p);
  }
  return dropped;
}
