/**
 * Reads: what tables, queues and counters share to read committed state.
 *
 * Reads see what is on disk (or in memory, for ram tables): the effects of
 * transactions whose batch has been written, never a part of one. A record
 * past its expiry reads as absent even before the sweeper removes it.
 * Failures surface as StoreErrors naming the table and key.
 */

import type { AdapterIterator, Bytes, KeyRange, StorageAdapter } from './adapter.js';
import { decodeValue, expiryOf } from './codec.js';
import { toStoreError } from './errors.js';
import type { StoreFaults } from './faults.js';
import type { MemoryAdapter } from './memory-adapter.js';
import type { Def, TableDef } from './schema.js';
import type { Transaction, TxHost } from './transaction.js';

/** What the table, queue and counter handles need from their store. */
export interface StoreCore extends TxHost {
  readonly adapter: StorageAdapter;
  readonly ram: MemoryAdapter;
  readonly faults: StoreFaults;
  checkOpen(): void;
  /** A transaction on an owner's partition (or a partition number). */
  transaction(owner: string | number): Transaction;
}

export function adapterOf(core: StoreCore, def: Def): StorageAdapter {
  return def.kind === 'table' && def.storage === 'ram' ? core.ram : core.adapter;
}

/** A record's value from its stored bytes, or undefined if it has expired. */
export function decodeRecord<V>(core: StoreCore, def: TableDef, bytes: Bytes, show: () => string): V | undefined {
  if (def.ttlMs === null) return decodeValue<V>(bytes, 0, def.name, show);
  const exp = expiryOf(bytes);
  if (exp !== 0 && exp <= core.now()) return undefined;
  return decodeValue<V>(bytes, 8, def.name, show);
}

/**
 * One read of `def`'s storage, sync or async: refused while the store is
 * closed or a read fault is injected; a failure becomes a StoreError naming
 * the table (and the key, when there is one).
 */
function guarded<T>(core: StoreCore, def: Def, key: string | undefined, read: (a: StorageAdapter) => T): T {
  core.checkOpen();
  core.faults.checkRead(def.name);
  const fail = (err: unknown): never => {
    throw toStoreError(err, `reading ${def.name}`).about(key === undefined ? { table: def.name } : { table: def.name, key });
  };
  try {
    const r = read(adapterOf(core, def));
    return (r instanceof Promise ? r.catch(fail) : r) as T;
  } catch (err) {
    return fail(err);
  }
}

export function readBytes(core: StoreCore, def: Def, key: Bytes, show: string): Promise<Bytes | undefined> {
  return guarded(core, def, show, (a) => a.get(key));
}

/** {@link readBytes} on the calling thread (see StorageAdapter.getSync). */
export function readBytesNow(core: StoreCore, def: Def, key: Bytes, show: string): Bytes | undefined {
  return guarded(core, def, show, (a) => a.getSync(key));
}

export function readManyBytes(core: StoreCore, def: Def, keys: Bytes[]): Promise<Array<Bytes | undefined>> {
  return guarded(core, def, undefined, (a) => a.getMany(keys));
}

/** Iterates a key range in batches of `batchSize` (LevelDB's nextv), closing the iterator however the loop ends. */
export async function* scan(
  core: StoreCore,
  adapter: StorageAdapter,
  table: string,
  range: KeyRange,
  batchSize: number,
): AsyncGenerator<Array<[Bytes, Bytes]>> {
  core.checkOpen();
  core.faults.checkRead(table);
  let it: AdapterIterator;
  try {
    it = adapter.iterate(range);
  } catch (err) {
    throw toStoreError(err, `scanning ${table}`).about({ table });
  }
  try {
    for (;;) {
      let rows: Array<[Bytes, Bytes]>;
      try {
        rows = await it.nextv(batchSize);
      } catch (err) {
        throw toStoreError(err, `scanning ${table}`).about({ table });
      }
      if (rows.length === 0) return;
      yield rows;
    }
  } finally {
    await it.close().catch(() => undefined);
  }
}
