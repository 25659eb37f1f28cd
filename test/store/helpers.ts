/**
 * Test helpers for the store suite: fresh temporary directories (deleted
 * after), stores on LevelDB or in memory, collecting async iterables.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { openStore, type Store, type StoreOptions } from '../../src/store/index.js';
import { MemoryAdapter, MemoryDisk } from '../../src/store/memory-adapter.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh directory under the OS's temp dir, removed when the test file ends. */
export function tmpDir(tag = 'store'): string {
  const d = mkdtempSync(path.join(os.tmpdir(), `parley-${tag}-`));
  dirs.push(d);
  return d;
}

export type Backend = 'level' | 'memory';

/** A store on a fresh LevelDB directory or a fresh memory disk; sweeper timer off unless asked. */
export async function freshStore(backend: Backend, opts: Partial<StoreOptions> = {}): Promise<Store> {
  const base: StoreOptions = backend === 'level' ? { location: path.join(tmpDir(), 'db') } : { adapter: new MemoryAdapter(new MemoryDisk()) };
  return openStore({ sweepIntervalMs: 0, ...base, ...opts });
}

export async function collect<T>(it: AsyncIterable<T>, max = Infinity): Promise<T[]> {
  const out: T[] = [];
  if (max <= 0) return out;
  for await (const x of it) {
    out.push(x);
    if (out.length >= max) break;
  }
  return out;
}

/** Owner ids that all hash to one partition (to build multi-owner transactions). */
export function ownersInOnePartition(store: Store, n: number, prefix = 'user:'): string[] {
  const byP = new Map<number, string[]>();
  for (let i = 0; ; i++) {
    const id = `${prefix}${i}`;
    const p = store.partitionOf(id);
    const list = byP.get(p) ?? [];
    list.push(id);
    byP.set(p, list);
    if (list.length === n) return list;
  }
}

/** Two owner ids in different partitions. */
export function ownersInTwoPartitions(store: Store): [string, string] {
  const a = 'user:a0';
  for (let i = 1; ; i++) {
    const b = `user:b${i}`;
    if (store.partitionOf(b) !== store.partitionOf(a)) return [a, b];
  }
}
