/**
 * Declarations: tables, queues and counters, and the catalog that keeps them
 * honest across restarts.
 *
 * A name is declared once per store with its kind and key schema; the
 * catalog (in the store's global keyspace) remembers the first declaration
 * and a later one that disagrees (another kind, another key schema, another
 * storage) fails with `store_schema`, because reading old keys under a new
 * schema returns nonsense rather than an error. TTLs may change: they apply
 * to records written from then on.
 *
 * Names: 1 to 64 characters of `[a-z0-9_.-]`, starting with a letter.
 */

import type { WriteOp } from './adapter.js';
import { packMeta, unpackMeta } from './codec.js';
import { StoreError } from './errors.js';
import { GLOBAL_SPACE, SPACE, globalKey, namePrefix, type KeyPart } from './keys.js';

export type Storage = 'disc' | 'ram';

export interface TableDef {
  readonly kind: 'table';
  readonly name: string;
  readonly key: readonly KeyPart[];
  readonly storage: Storage;
  /** Records expire this long after they were written; null: never. */
  readonly ttlMs: number | null;
  /** `[p][0x10][name\0]`, one per partition, built on first use. */
  readonly prefixes: Array<Uint8Array | undefined>;
}

export interface QueueDef {
  readonly kind: 'queue';
  readonly name: string;
  readonly ttlMs: number | null;
  readonly prefixes: Array<Uint8Array | undefined>;
  readonly metaPrefixes: Array<Uint8Array | undefined>;
}

export interface CounterDef {
  readonly kind: 'counter';
  readonly name: string;
  readonly prefixes: Array<Uint8Array | undefined>;
}

export type Def = TableDef | QueueDef | CounterDef;

/** What the catalog stores for a name. */
interface CatalogEntry {
  kind: Def['kind'];
  key?: KeyPart[];
  storage?: Storage;
}

const NAME = /^[a-z][a-z0-9_.-]{0,63}$/;
const PARTS: readonly KeyPart[] = ['string', 'uint', 'int', 'bytes'];

export function checkName(name: string): void {
  if (!NAME.test(name)) throw new StoreError('store_invalid', `bad name ${JSON.stringify(name)}: use 1-64 of [a-z0-9_.-], starting with a letter`);
}

export function checkTtl(ttlMs: number | null | undefined, what: string): number | null {
  if (ttlMs === null || ttlMs === undefined) return null;
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new StoreError('store_invalid', `${what}: ttlMs must be a positive integer of milliseconds or null`);
  return ttlMs;
}

export function checkKeySchema(key: readonly KeyPart[], name: string): void {
  if (!Array.isArray(key) || key.length === 0 || key[0] !== 'string') {
    throw new StoreError('store_invalid', `table ${name}: the key schema must start with 'string' (the owner id, which picks the partition)`);
  }
  for (const p of key) if (!PARTS.includes(p)) throw new StoreError('store_invalid', `table ${name}: unknown key part ${String(p)}`);
}

/** `[p][space][name\0]` for a definition, cached per partition. */
export function prefixOf(cache: Array<Uint8Array | undefined>, partition: number, space: number, name: string): Uint8Array {
  let p = cache[partition];
  if (!p) {
    p = namePrefix(partition, space, name);
    cache[partition] = p;
  }
  return p;
}

export function recordPrefix(def: TableDef | QueueDef, partition: number): Uint8Array {
  return prefixOf(def.prefixes, partition, SPACE.record, def.name);
}

function entryOf(def: Def): CatalogEntry {
  if (def.kind === 'table') return { kind: 'table', key: [...def.key], storage: def.storage };
  return { kind: def.kind };
}

function same(a: CatalogEntry, b: CatalogEntry): boolean {
  return a.kind === b.kind && JSON.stringify(a.key ?? null) === JSON.stringify(b.key ?? null) && (a.storage ?? null) === (b.storage ?? null);
}

export class Catalog {
  private readonly onDisk = new Map<string, CatalogEntry>();
  private readonly defs = new Map<string, Def>();
  /** Declarations not yet on disk; the committer writes them with its next batch. */
  private unsaved: WriteOp[] = [];

  load(entries: Array<[Uint8Array, Uint8Array]>): void {
    for (const [k, v] of entries) {
      const name = Buffer.from(k.subarray(3)).toString('utf8');
      this.onDisk.set(name, unpackMeta<CatalogEntry>(v, `catalog ${name}`));
    }
  }

  /** Registers a definition; returns the one already registered under that name if it is the same. */
  declare<D extends Def>(def: D): D {
    const mine = entryOf(def);
    const known = this.defs.get(def.name);
    if (known) {
      if (!same(entryOf(known), mine)) throw schemaError(def.name, entryOf(known), mine);
      return known as D;
    }
    const disk = this.onDisk.get(def.name);
    if (disk) {
      if (!same(disk, mine)) throw schemaError(def.name, disk, mine);
    } else if (!(def.kind === 'table' && def.storage === 'ram')) {
      this.unsaved.push({ key: globalKey(GLOBAL_SPACE.catalog, Buffer.from(def.name, 'utf8')), value: packMeta(mine) });
      this.onDisk.set(def.name, mine);
    }
    this.defs.set(def.name, def);
    return def;
  }

  get(name: string): Def | undefined {
    return this.defs.get(name);
  }

  /** Takes the declarations to write; `restore` puts them back if the batch failed. */
  takeUnsaved(): WriteOp[] {
    const u = this.unsaved;
    this.unsaved = [];
    return u;
  }

  restore(ops: WriteOp[]): void {
    this.unsaved = ops.concat(this.unsaved);
  }
}

function schemaError(name: string, was: CatalogEntry, now: CatalogEntry): StoreError {
  return new StoreError('store_schema', `${name} is declared as ${JSON.stringify(was)}, not ${JSON.stringify(now)}`, { table: name });
}
