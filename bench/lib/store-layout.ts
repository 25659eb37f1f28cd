/**
 * The layout question: one LevelDB per partition, or one per store (per
 * worker) with every key prefixed by its partition. Both are measured
 * through the store itself, so the only difference is how many databases
 * (and so how many logs, fsyncs and open files) there are.
 *
 * - Durable writes/s: the same records over all 256 partitions, from the
 *   same number of concurrent writers, into 1 store or into 256 stores (each
 *   with its own group committer, as a per-partition layout would have).
 * - Handoff of one partition holding `n` records to a new owner:
 *   shared: `snapshot(p)` on the old store, `restore` on the new one, then
 *   `dropPartition(p)` on the old one, with both stores open and serving;
 *   per partition: close that partition's database, copy its directory,
 *   open the copy (the cheapest a file-level move can be on one machine).
 */
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../src/store/index.js';
import type { Message, Rec } from './store-raw.js';

const P = 256;

function fresh(tag: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `parley-bench-${tag}-`));
}

async function drive(recs: Rec[], writers: number, put: (r: Rec) => Promise<unknown>): Promise<number> {
  let i = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (i < recs.length) await put(recs[i++]!);
    }),
  );
  return (recs.length / (performance.now() - t0)) * 1000;
}

/** Durable writes/s with one store for all partitions, or one store (one LevelDB) per partition. */
export async function layoutWrites(kind: 'shared' | 'per-partition', recs: Rec[], writers: number): Promise<number> {
  const dir = fresh(kind);
  try {
    if (kind === 'shared') {
      const s = await openStore({ location: path.join(dir, 'db'), sweepIntervalMs: 0 });
      const t = s.table<[string, number], Message>('convlog', { key: ['string', 'uint'] });
      const rate = await drive(recs, writers, (r) => s.transaction(r.owner).put(t, [r.owner, r.seq], r.value).commit());
      await s.close();
      return rate;
    }
    const stores: Store[] = [];
    for (let p = 0; p < P; p++) stores.push(await openStore({ location: path.join(dir, `p${p}`), sweepIntervalMs: 0 }));
    const tables = stores.map((s) => s.table<[string, number], Message>('convlog', { key: ['string', 'uint'] }));
    const rate = await drive(recs, writers, (r) => {
      const p = stores[0]!.partitionOf(r.owner);
      return stores[p]!.transaction(r.owner).put(tables[p]!, [r.owner, r.seq], r.value).commit();
    });
    await Promise.all(stores.map((s) => s.close()));
    return rate;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function fill(s: Store, owner: string, n: number, value: Message): Promise<void> {
  const t = s.table<[string, number], Message>('convlog', { key: ['string', 'uint'] });
  for (let i = 0; i < n; i += 1000) {
    const tx = s.transaction(owner);
    for (let j = i; j < Math.min(n, i + 1000); j++) tx.put(t, [owner, j], value);
    await tx.commit();
  }
}

export interface HandoffResult {
  ms: number;
  /** Files the layout keeps open for 256 partitions (per partition: LevelDB's own handful, times 256). */
  files: number;
}

/** Moves one partition holding `n` records (and, in the shared layout, `others` records of other partitions beside it). */
export async function handoff(kind: 'shared' | 'per-partition', n: number, others: number): Promise<HandoffResult> {
  const dir = fresh(`handoff-${kind}`);
  const value: Message = { from: 'user:u1', text: 'x'.repeat(64), at: 1_700_000_000_000 };
  const owner = 'conv:dm:handoff';
  try {
    if (kind === 'shared') {
      const a = await openStore({ location: path.join(dir, 'a'), sweepIntervalMs: 0 });
      const b = await openStore({ location: path.join(dir, 'b'), sweepIntervalMs: 0 });
      const p = a.partitionOf(owner);
      await fill(a, owner, n, value);
      for (let k = 0; k < others / 1000; k++) await fill(a, `conv:other:${k}`, 1000, value);
      const t0 = performance.now();
      const snap = await a.snapshot(p);
      await b.restore(p, snap);
      await snap.close();
      await a.dropPartition(p);
      const ms = performance.now() - t0;
      const files = readdirSync(path.join(dir, 'a')).length;
      await a.close();
      await b.close();
      return { ms, files };
    }
    const src = path.join(dir, 'src');
    const a = await openStore({ location: src, sweepIntervalMs: 0 });
    await fill(a, owner, n, value);
    const files = readdirSync(src).length * P;
    const t0 = performance.now();
    await a.close();
    cpSync(src, path.join(dir, 'dst'), { recursive: true });
    const b = await openStore({ location: path.join(dir, 'dst'), sweepIntervalMs: 0 });
    const ms = performance.now() - t0;
    await b.close();
    return { ms, files };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
