/**
 * Store options: every option with its default, normalised once at open,
 * one validator each, failing with `store_invalid` and the option's name.
 */

import { DEFAULT_PARTITIONS } from '../actors/partition.js';
import type { StorageAdapter } from './adapter.js';
import { StoreError } from './errors.js';
import { MAX_PARTITIONS } from './keys.js';
import type { LevelAdapterOptions } from './level-adapter.js';

export type Durability = 'fsync' | 'os';

export type LogMode = 'ops' | 'lsn';

export interface StoreOptions {
  /** LevelDB directory. Required unless `adapter` is given. */
  location?: string;
  /** A storage adapter to use instead of LevelDB at `location` (tests: MemoryAdapter). */
  adapter?: StorageAdapter;
  /** LevelDB tuning, when the store opens LevelDB itself. */
  level?: LevelAdapterOptions;
  /** Number of partitions, fixed for the life of the data; default 256 (src/actors/partition.ts). */
  partitions?: number;
  /**
   * `fsync` (default): a commit resolves once its batch is synced to disk.
   * `os`: once the OS has the batch; a process crash loses nothing, but a
   * power loss or kernel crash loses every batch of the last few seconds
   * that the OS had not yet written back, although their commits resolved.
   */
  durability?: Durability;
  /** Most intents in one group-commit batch; default 4096. */
  maxBatchOps?: number;
  /** Milliseconds since the epoch; default Date.now. Injectable for TTL tests. */
  clock?: () => number;
  /** Background sweep period; default 60,000 ms; 0: no timer (call `sweep()`). */
  sweepIntervalMs?: number;
  /** Queue expiry index bucket; default 60,000 ms. */
  expiryGranularityMs?: number;
  /** Log entries (batches) kept per partition; default 10,000. */
  logRetain?: number;
  /**
   * What the partition log keeps of each batch. `ops` (default): the batch's
   * ops, byte for byte, so replicas can `follow` the partition. `lsn`: only
   * the batch's number (LSNs stay durable and gap-free), for a store nobody
   * follows: every write then reaches LevelDB once instead of twice.
   * `follow` on such a store fails with `store_invalid`; snapshots,
   * `restore` and `apply` work as with `ops`.
   */
  log?: LogMode;
  /** Queue and counter states kept in memory; default 100,000. */
  stateCacheSize?: number;
}

export interface NormalizedOptions {
  location: string | undefined;
  adapter: StorageAdapter | undefined;
  level: LevelAdapterOptions;
  partitions: number;
  durability: Durability;
  maxBatchOps: number;
  clock: () => number;
  sweepIntervalMs: number;
  expiryGranularityMs: number;
  logRetain: number;
  log: LogMode;
  stateCacheSize: number;
}

function bad(option: string, why: string): StoreError {
  return new StoreError('store_invalid', `option ${option}: ${why}`);
}

function int(o: StoreOptions, name: keyof StoreOptions, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw bad(name, `${String(v)} is not an integer in [${min}, ${max}]`);
  return v;
}

export function normalize(o: StoreOptions): NormalizedOptions {
  if (o.adapter === undefined && (typeof o.location !== 'string' || o.location.length === 0)) throw bad('location', 'a directory is required unless an adapter is given');
  const durability = o.durability ?? 'fsync';
  if (durability !== 'fsync' && durability !== 'os') throw bad('durability', `${String(durability)} is not "fsync" or "os"`);
  const log = o.log ?? 'ops';
  if (log !== 'ops' && log !== 'lsn') throw bad('log', `${String(log)} is not "ops" or "lsn"`);
  if (o.clock !== undefined && typeof o.clock !== 'function') throw bad('clock', 'must be a function returning milliseconds');
  return {
    location: o.location,
    adapter: o.adapter,
    level: o.level ?? {},
    partitions: int(o, 'partitions', DEFAULT_PARTITIONS, 1, MAX_PARTITIONS),
    durability,
    maxBatchOps: int(o, 'maxBatchOps', 4096, 1),
    clock: o.clock ?? Date.now,
    sweepIntervalMs: int(o, 'sweepIntervalMs', 60_000, 0),
    expiryGranularityMs: int(o, 'expiryGranularityMs', 60_000, 1),
    logRetain: int(o, 'logRetain', 10_000, 1),
    log,
    stateCacheSize: int(o, 'stateCacheSize', 100_000, 1),
  };
}
