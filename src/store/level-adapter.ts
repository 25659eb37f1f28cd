/**
 * LevelAdapter: the storage adapter over LevelDB (`level` 10, classic-level
 * underneath), keys and values as Buffers with no transcoding.
 *
 * Defaults: LevelDB's own (8 MiB block cache, snappy), except
 * - `writeBufferSize` 16 MiB (LevelDB: 4 MiB): with the log doubling the
 *   bytes of every write, 4 MiB memtables fill every few hundred
 *   milliseconds under load, level-0 files pile up and LevelDB stalls
 *   writers (bench/store.bench.ts). LevelDB may hold two memtables, so
 *   count up to 32 MiB per store.
 * - `maxOpenFiles` 500 (LevelDB: 1000): a process here may hold at most
 *   20,000 files, and the store shares it with every socket of the gateway.
 *
 * LevelDB keeps a failed log write as a sticky error that fails every later
 * write until the database is reopened, so `recover()` closes and reopens it.
 * Reopening replays the log, drops a torn last record, and writes what it
 * recovered to a synced table file: a batch whose write failed is then
 * either durably present or absent.
 */

import { Level } from 'level';
import type { AdapterIterator, AdapterSnapshot, Bytes, KeyRange, StorageAdapter, WriteOp } from './adapter.js';

export interface LevelAdapterOptions {
  /** Bytes of memtable before LevelDB writes a table file; default 16 MiB. */
  writeBufferSize?: number;
  /** Bytes of uncompressed block cache; default 8 MiB (LevelDB's). */
  cacheSize?: number;
  /** Table files LevelDB keeps open; default 500. */
  maxOpenFiles?: number;
}

type Db = Level<Buffer, Buffer>;
type LevelSnapshot = ReturnType<Db['snapshot']>;

class LevelSnapshotHandle implements AdapterSnapshot {
  constructor(readonly inner: LevelSnapshot) {}
  close(): Promise<void> {
    return this.inner.close();
  }
}

function asBuffer(b: Bytes): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length);
}

function rangeOptions(range: KeyRange, snapshot?: AdapterSnapshot): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (range.gt) o.gt = asBuffer(range.gt);
  if (range.gte) o.gte = asBuffer(range.gte);
  if (range.lt) o.lt = asBuffer(range.lt);
  if (range.lte) o.lte = asBuffer(range.lte);
  if (range.reverse) o.reverse = true;
  if (range.limit !== undefined) o.limit = range.limit;
  if (snapshot) o.snapshot = (snapshot as LevelSnapshotHandle).inner;
  return o;
}

export class LevelAdapter implements StorageAdapter {
  private db: Db;

  constructor(
    readonly location: string,
    private readonly options: LevelAdapterOptions = {},
  ) {
    this.db = this.make();
  }

  private make(): Db {
    return new Level<Buffer, Buffer>(this.location, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      ...({
        writeBufferSize: this.options.writeBufferSize ?? 16 * 2 ** 20,
        cacheSize: this.options.cacheSize,
        maxOpenFiles: this.options.maxOpenFiles ?? 500,
      } as object),
    });
  }

  open(): Promise<void> {
    return this.db.open();
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async recover(): Promise<void> {
    await this.db.close().catch(() => undefined);
    this.db = this.make();
    await this.db.open();
  }

  get(key: Bytes, snapshot?: AdapterSnapshot): Promise<Bytes | undefined> {
    const opts = snapshot ? { snapshot: (snapshot as LevelSnapshotHandle).inner } : undefined;
    return opts ? this.db.get(asBuffer(key), opts) : this.db.get(asBuffer(key));
  }

  getSync(key: Bytes): Bytes | undefined {
    return this.db.getSync(asBuffer(key));
  }

  getMany(keys: readonly Bytes[], snapshot?: AdapterSnapshot): Promise<Array<Bytes | undefined>> {
    const ks = keys.map(asBuffer);
    const opts = snapshot ? { snapshot: (snapshot as LevelSnapshotHandle).inner } : undefined;
    return (opts ? this.db.getMany(ks, opts) : this.db.getMany(ks)) as Promise<Array<Bytes | undefined>>;
  }

  write(ops: readonly WriteOp[], sync: boolean): Promise<void> {
    // A chained batch hands each op to LevelDB as it is added; one array
    // handed over at the end costs an extra pass and an object per op.
    const batch = this.db.batch();
    for (const op of ops) {
      if (op.value === null) batch.del(asBuffer(op.key));
      else batch.put(asBuffer(op.key), asBuffer(op.value));
    }
    return batch.write({ sync } as object);
  }

  iterate(range: KeyRange, snapshot?: AdapterSnapshot): AdapterIterator {
    const it = this.db.iterator(rangeOptions(range, snapshot));
    return {
      nextv: (size) => it.nextv(size) as Promise<Array<[Bytes, Bytes]>>,
      close: () => it.close(),
    };
  }

  snapshot(): AdapterSnapshot {
    return new LevelSnapshotHandle(this.db.snapshot());
  }

  clear(range: KeyRange): Promise<void> {
    return this.db.clear(rangeOptions(range));
  }
}
