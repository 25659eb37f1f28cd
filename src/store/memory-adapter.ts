/**
 * MemoryAdapter: the storage adapter in memory, over a {@link MemoryDisk}
 * that can lose power.
 *
 * The disk keeps what LevelDB's log would: batches in write order, each
 * either synced (survives a power loss) or still in the page cache. A synced
 * write makes itself and every batch before it durable, as an fsync of an
 * append-only log does. `disk.powerLoss()` returns the disk as it would be
 * found after the power came back: the durable batches, plus (if asked) a
 * prefix of the unsynced ones, since the page cache may have written some of
 * them back on its own. A batch is never half there: LevelDB checksums log
 * records and drops a torn one.
 *
 * It serves three purposes: ram tables (no disk at all), fast tests, and the
 * power-loss property tests, which a real disk cannot give (kill -9 never
 * loses a LevelDB write on Linux; see test/store/power-loss.test.ts).
 *
 * Differences from LevelDB: iterators see writes made while they run (no
 * implicit snapshot; `snapshot()` is a real copy); inserts are O(n).
 */

import type { AdapterIterator, AdapterSnapshot, Bytes, KeyRange, StorageAdapter, WriteOp } from './adapter.js';
import { StoreError } from './errors.js';
import { SortedBytesMap } from './sorted-map.js';

interface DiskWriteFault {
  times: number;
  /** The batch reaches the disk although the write reports an error (a failed fsync after the data landed). */
  applied: boolean;
  code: 'store_io' | 'store_full';
}

export class MemoryDisk {
  /** What reads see. */
  visible: SortedBytesMap;
  /** What survives a power loss. */
  private durable: SortedBytesMap;
  /** Batches written but not yet synced, oldest first. */
  private unsynced: WriteOp[][] = [];
  /** The adapter holding this disk's lock, as LevelDB's LOCK file. */
  holder: object | null = null;
  private fault: DiskWriteFault | null = null;
  /** Counts, for tests. */
  writes = 0;
  syncs = 0;

  constructor(durable: SortedBytesMap = new SortedBytesMap()) {
    this.durable = durable;
    this.visible = durable.clone();
  }

  /** The next `times` writes fail with `code`; with `applied`, their batches still land (durably, if synced). */
  injectWriteError(fault: Partial<DiskWriteFault> = {}): void {
    this.fault = { times: fault.times ?? 1, applied: fault.applied ?? false, code: fault.code ?? 'store_io' };
  }

  /** Appends a batch to the log (page cache). Returns the error to raise, if a fault fires. */
  append(ops: readonly WriteOp[], faultable = true): StoreError | null {
    this.writes++;
    const f = this.fault;
    if (faultable && f && f.times > 0) {
      f.times--;
      if (f.times === 0) this.fault = null;
      if (f.applied) this.unsynced.push(copyOps(ops));
      return new StoreError(f.code, f.code === 'store_full' ? 'No space left on device (simulated)' : 'I/O error (simulated)');
    }
    this.unsynced.push(copyOps(ops));
    return null;
  }

  /** Makes every batch appended so far durable. */
  sync(): void {
    this.syncs++;
    for (const b of this.unsynced) apply(this.durable, b);
    this.unsynced = [];
  }

  /** Applies a batch to what reads see. */
  expose(ops: readonly WriteOp[]): void {
    apply(this.visible, ops);
  }

  /** What a reopen finds: every batch appended to the log, synced or not (a process restart loses nothing). */
  replay(): void {
    const v = this.durable.clone();
    for (const b of this.unsynced) apply(v, b);
    this.visible = v;
  }

  get unsyncedBatches(): number {
    return this.unsynced.length;
  }

  /**
   * The disk after a power loss: durable batches, plus the first
   * `keepUnsynced` unsynced ones (default 0: every unsynced write is lost).
   */
  powerLoss(keepUnsynced = 0): MemoryDisk {
    const d = this.durable.clone();
    for (const b of this.unsynced.slice(0, keepUnsynced)) apply(d, b);
    return new MemoryDisk(d);
  }
}

function copyOps(ops: readonly WriteOp[]): WriteOp[] {
  return ops.map((o) => ({ key: Buffer.from(o.key), value: o.value === null ? null : Buffer.from(o.value) }));
}

function apply(map: SortedBytesMap, ops: readonly WriteOp[]): void {
  for (const o of ops) {
    if (o.value === null) map.delete(o.key);
    else map.set(o.key, o.value);
  }
}

class MemorySnapshot implements AdapterSnapshot {
  constructor(public map: SortedBytesMap | null) {}
  async close(): Promise<void> {
    this.map = null;
  }
}

export interface MemoryAdapterOptions {
  /** Awaited between appending a synced batch and making it durable: the simulated fsync. Default: none. */
  syncDelay?: () => Promise<void>;
  /** Name for messages; default "memory". */
  location?: string;
}

export class MemoryAdapter implements StorageAdapter {
  readonly location: string;
  private isOpen = false;
  /** Set after a failed write, as LevelDB's sticky background error; cleared by recover(). */
  private broken: StoreError | null = null;

  constructor(
    readonly disk: MemoryDisk = new MemoryDisk(),
    private readonly options: MemoryAdapterOptions = {},
  ) {
    this.location = options.location ?? 'memory';
  }

  async open(): Promise<void> {
    if (this.disk.holder && this.disk.holder !== this) {
      throw new StoreError('store_locked', `${this.location}: already open`);
    }
    this.disk.holder = this;
    this.isOpen = true;
  }

  async close(): Promise<void> {
    if (this.disk.holder === this) this.disk.holder = null;
    this.isOpen = false;
  }

  async recover(): Promise<void> {
    this.broken = null;
    // As LevelDB replays its log on reopen: a failed write that reached the log is now visible.
    this.disk.replay();
  }

  private check(): void {
    if (!this.isOpen) throw new StoreError('store_closed', `${this.location}: not open`);
  }

  private read(snapshot?: AdapterSnapshot): SortedBytesMap {
    this.check();
    if (!snapshot) return this.disk.visible;
    const m = (snapshot as MemorySnapshot).map;
    if (!m) throw new StoreError('store_closed', `${this.location}: snapshot closed`);
    return m;
  }

  async get(key: Bytes, snapshot?: AdapterSnapshot): Promise<Bytes | undefined> {
    return this.read(snapshot).get(key);
  }

  getSync(key: Bytes): Bytes | undefined {
    return this.read().get(key);
  }

  async getMany(keys: readonly Bytes[], snapshot?: AdapterSnapshot): Promise<Array<Bytes | undefined>> {
    const m = this.read(snapshot);
    return keys.map((k) => m.get(k));
  }

  async write(ops: readonly WriteOp[], sync: boolean): Promise<void> {
    this.check();
    if (this.broken) throw this.broken;
    const err = this.disk.append(ops);
    if (err) {
      this.broken = err;
      if (sync) this.disk.sync();
      throw err;
    }
    if (sync) {
      if (this.options.syncDelay) await this.options.syncDelay();
      this.disk.sync();
    }
    this.disk.expose(ops);
  }

  /** Applies a batch at once, in memory only (ram tables: there is nothing to wait for). */
  writeNow(ops: readonly WriteOp[]): void {
    this.disk.expose(ops);
  }

  iterate(range: KeyRange, snapshot?: AdapterSnapshot): AdapterIterator {
    const m = this.read(snapshot);
    let last: Bytes | null = null;
    let left = range.limit ?? Infinity;
    let done = false;
    return {
      nextv: async (size) => {
        if (done) return [];
        const r: KeyRange = { ...range };
        if (last) {
          if (range.reverse) {
            r.lt = last;
            delete r.lte;
          } else {
            r.gt = last;
            delete r.gte;
          }
        }
        const [from, to] = m.bounds(r);
        const n = Math.min(size, left, to - from);
        const out: Array<[Bytes, Bytes]> = [];
        for (let j = 0; j < n; j++) {
          const i = range.reverse ? to - 1 - j : from + j;
          out.push([m.keyAt(i)!, m.valueAt(i)!]);
        }
        left -= n;
        if (out.length > 0) last = out[out.length - 1]![0];
        if (out.length === 0 || left === 0) done = true;
        return out;
      },
      close: async () => {
        done = true;
      },
    };
  }

  snapshot(): AdapterSnapshot {
    this.check();
    return new MemorySnapshot(this.disk.visible.clone());
  }

  async clear(range: KeyRange): Promise<void> {
    this.check();
    const ops: WriteOp[] = this.disk.visible.keysIn(range).map((key) => ({ key, value: null }));
    if (ops.length === 0) return;
    this.disk.append(ops, false);
    this.disk.expose(ops);
  }
}
