/**
 * Sweeper: the background pass that deletes what expired and trims the
 * partition logs.
 *
 * Every `sweepIntervalMs` (default 60 s; 0 turns the timer off, `sweep()`
 * still works) it walks each partition's TTL index up to the clock's now:
 *
 * - A record's index entry (one per TTL'd write) names the record. The
 *   record is deleted if it is still expired when the delete is built; a
 *   record rewritten since the sweep read it keeps its new life (the
 *   committer tracks TTL keys written while a sweep runs).
 * - A queue's index entry (one per queue per expiry bucket of
 *   `expiryGranularityMs`, default 60 s, so a queue appended to all day costs
 *   one index write a minute) names the queue; its expired prefix is deleted
 *   and its trim point moved, as one transaction through the committer.
 *
 * Expired data reads as absent at once; the sweeper only reclaims the space,
 * within one interval plus one bucket of the expiry. Deletes go through the
 * committer, so they are in the partition log and replicas expire the same
 * records. Ram tables are swept in memory.
 *
 * Log trim: each partition keeps its last `logRetain` batches (default
 * 10,000); older entries are cleared. A follower further behind starts over
 * from a snapshot (`store_log_trimmed`).
 *
 * The clock is the store's (`clock` option), so tests move time by hand.
 */

import type { Bytes, StorageAdapter } from './adapter.js';
import { expiryOf } from './codec.js';
import type { Committer } from './committer.js';
import { SPACE, TTL_KIND, logKey, readUint, spacePrefix, ttlKey } from './keys.js';
import type { PartitionLsns } from './lsn.js';
import type { MemoryAdapter } from './memory-adapter.js';
import { QueueState } from './state.js';
import type { Intent, Transaction } from './transaction.js';

export interface SweepReport {
  /** Expired records deleted. */
  records: number;
  /** Queues whose expired prefix was deleted. */
  queues: number;
  /** Log entries cleared by retention. */
  logEntries: number;
}

export interface SweeperHost {
  readonly adapter: StorageAdapter;
  readonly ram: MemoryAdapter;
  readonly partitions: number;
  readonly lsns: PartitionLsns;
  readonly committer: Committer;
  now(): number;
  transaction(partition: number): Transaction;
}

const CHUNK = 1000;

export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SweepReport> | null = null;
  private stopped = false;

  constructor(
    private readonly host: SweeperHost,
    private readonly intervalMs: number,
    private readonly logRetain: number,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      // A failed sweep (disk error, store closing) is retried at the next tick.
      this.sweep().catch(() => undefined);
    }, this.intervalMs);
    // The sweeper alone must not keep a process alive.
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One full pass; concurrent calls share the pass in progress. */
  sweep(): Promise<SweepReport> {
    if (!this.running) {
      this.running = this.pass().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  private async pass(): Promise<SweepReport> {
    const report: SweepReport = { records: 0, queues: 0, logEntries: 0 };
    for (let p = 0; p < this.host.partitions && !this.stopped; p++) {
      await this.expireDisc(p, report);
      this.expireRam(p, report);
      report.logEntries += await this.trimLog(p);
    }
    return report;
  }

  private async expireDisc(p: number, report: SweepReport): Promise<void> {
    const now = this.host.now();
    const a = this.host.adapter;
    const range = { gte: spacePrefix(p, SPACE.ttl), lt: ttlKey(p, now + 1, 0, new Uint8Array(0)) };
    const tracking = this.host.committer.startTracking();
    try {
      const it = a.iterate(range);
      let rows: Array<[Bytes, Bytes]>;
      try {
        rows = await it.nextv(CHUNK);
      } finally {
        await it.close();
      }
      while (rows.length > 0) {
        const intents: Intent[] = [];
        const records = rows.filter(([k]) => k[11] === TTL_KIND.record).map(([k]) => k);
        const recordKeys = records.map((k) => recordKeyOf(k, p));
        const values = recordKeys.length > 0 ? await a.getMany(recordKeys) : [];
        records.forEach((index, i) => {
          const v = values[i];
          const expired = v !== undefined && expiryOf(v) !== 0 && expiryOf(v) <= now;
          // A record deleted, or rewritten with a later expiry (which wrote its own index entry), only loses this entry.
          if (expired && !tracking.has(idOf(recordKeys[i]!))) {
            intents.push({ t: 'ttl_delete', key: recordKeys[i]!, index });
            report.records++;
          } else {
            intents.push({ t: 'index_delete', index });
          }
        });
        for (const [index] of rows) {
          if (index[11] !== TTL_KIND.queue) continue;
          const upTo = await this.expiredPrefix(index, p, now);
          intents.push({ t: 'expire', state: upTo.state, upTo: upTo.seq, bucket: readUint(index, 3), index });
          report.queues++;
        }
        if (intents.length > 0) {
          const tx = this.host.transaction(p);
          for (const i of intents) tx.addIntent(i);
          await tx.commit();
        }
        if (rows.length < CHUNK) break;
        const more = a.iterate({ ...range, gt: rows[rows.length - 1]![0] });
        try {
          rows = await more.nextv(CHUNK);
        } finally {
          await more.close();
        }
      }
    } finally {
      this.host.committer.stopTracking();
    }
  }

  /** The queue named by an index entry, and the last number of its expired prefix. */
  private async expiredPrefix(index: Uint8Array, p: number, now: number): Promise<{ state: Uint8Array; seq: number }> {
    const a = this.host.adapter;
    const state = Buffer.concat([Uint8Array.of(p >>> 8, p & 0xff, SPACE.queueMeta), index.subarray(12)]);
    const q = QueueState.decode(state, await a.get(state));
    let seq = q.first - 1;
    const end = Buffer.from(q.entryPrefix);
    const it = a.iterate({ gte: entryKeyOf(q, q.first), lt: entryKeyOf(q, q.next) });
    try {
      for (;;) {
        const rows = await it.nextv(CHUNK);
        if (rows.length === 0) break;
        for (const [k, v] of rows) {
          const exp = expiryOf(v);
          if (exp === 0 || exp > now) return { state, seq };
          seq = readUint(k, end.length);
        }
      }
    } finally {
      await it.close();
    }
    return { state, seq };
  }

  private expireRam(p: number, report: SweepReport): void {
    const now = this.host.now();
    const map = this.host.ram.disk.visible;
    const index = map.keysIn({ gte: spacePrefix(p, SPACE.ttl), lt: ttlKey(p, now + 1, 0, new Uint8Array(0)) });
    if (index.length === 0) return;
    const ops = [];
    for (const k of index) {
      const rk = recordKeyOf(k, p);
      const v = map.get(rk);
      if (v !== undefined && expiryOf(v) !== 0 && expiryOf(v) <= now) {
        ops.push({ key: rk, value: null });
        report.records++;
      }
      ops.push({ key: k, value: null });
    }
    this.host.ram.writeNow(ops);
  }

  private async trimLog(p: number): Promise<number> {
    const l = this.host.lsns;
    const last = l.last[p]!;
    const first = l.first[p]!;
    const keepFrom = last - this.logRetain + 1;
    if (keepFrom <= first) return 0;
    await this.host.adapter.clear({ gte: logKey(p, first), lt: logKey(p, keepFrom) });
    l.first[p] = keepFrom;
    return keepFrom - first;
  }
}

function recordKeyOf(index: Uint8Array, p: number): Uint8Array {
  return Buffer.concat([Uint8Array.of(p >>> 8, p & 0xff, SPACE.record), index.subarray(12)]);
}

function entryKeyOf(q: QueueState, seq: number): Uint8Array {
  const out = Buffer.alloc(q.entryPrefix.length + 8);
  out.set(q.entryPrefix, 0);
  const hi = Math.floor(seq / 2 ** 32);
  out.writeUInt32BE(hi, q.entryPrefix.length);
  out.writeUInt32BE(seq >>> 0, q.entryPrefix.length + 4);
  return out;
}

function idOf(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
}
