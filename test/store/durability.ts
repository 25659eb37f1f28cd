/**
 * The durability workload and its checker, shared by the power-loss property
 * test (memory disk) and the kill -9 test (LevelDB, real processes).
 *
 * Every transaction, for one owner: puts (owner, w, i) in table `pair_a` and
 * in table `pair_b`, appends {w, i} to the owner's queue `inbox`, and
 * increments the owner's counter `ids`. So after any crash, for every owner:
 *
 * - acknowledged:  every acknowledged transaction is present, its queue entry
 *                  at the number it was given, its counter value equal to
 *                  that number;
 * - atomic:        pair_a, pair_b and the queue hold the same transactions
 *                  (a half-written transaction would be in one and not another);
 * - gap-free:      queue numbers are 1..n with no hole, the counter is n;
 * - never reused:  a number given to one transaction is never found holding
 *                  another (checked through the acknowledged ones);
 * - log:           each partition's LSNs run without a hole up to the last
 *                  one, which is at least every acknowledged LSN; with
 *                  `replayLog`, replaying the log from LSN 1 rebuilds the
 *                  partition byte for byte.
 *
 * `check` returns the violations as text (empty when all hold), so a test
 * can also assert that a broken store is caught.
 */

import type { Counter, Queue, Store, Table } from '../../src/store/index.js';
import { MemoryAdapter, MemoryDisk } from '../../src/store/memory-adapter.js';
import { openStore } from '../../src/store/index.js';

export interface Rec {
  w: number;
  i: number;
}

export interface Workload {
  a: Table<[string, number, number], Rec>;
  b: Table<[string, number, number], Rec>;
  inbox: Queue<Rec>;
  ids: Counter;
}

export interface Ack {
  owner: string;
  w: number;
  i: number;
  seq: number;
  id: number;
  partition: number;
  lsn: number;
}

export function declare(s: Store): Workload {
  return {
    a: s.table<[string, number, number], Rec>('pair_a', { key: ['string', 'uint', 'uint'] }),
    b: s.table<[string, number, number], Rec>('pair_b', { key: ['string', 'uint', 'uint'] }),
    inbox: s.queue<Rec>('inbox', { ttlMs: null }),
    ids: s.counter('ids'),
  };
}

export async function writeOne(s: Store, wl: Workload, owner: string, w: number, i: number): Promise<Ack> {
  const tx = s.transaction(owner);
  tx.put(wl.a, [owner, w, i], { w, i });
  tx.put(wl.b, [owner, w, i], { w, i });
  const seq = tx.append(wl.inbox, owner, { w, i });
  const id = tx.increment(wl.ids, owner);
  const r = await tx.commit();
  return { owner, w, i, seq: seq.value, id: id.value, partition: r.partition, lsn: r.lsn };
}

async function rows(t: Table<[string, number, number], Rec>, owner: string): Promise<string[]> {
  const out: string[] = [];
  for await (const [[, w, i]] of t.range({ prefix: [owner] })) out.push(`${w}:${i}`);
  return out.sort();
}

export interface CheckOptions {
  /** Replay each partition's log from LSN 1 into a fresh store and compare (needs the whole log retained). */
  replayLog?: boolean;
}

export async function check(s: Store, acks: readonly Ack[], owners: readonly string[], opts: CheckOptions = {}): Promise<string[]> {
  const wl = declare(s);
  const bad: string[] = [];
  const byOwner = new Map<string, Map<number, string>>();
  for (const owner of owners) {
    const a = await rows(wl.a, owner);
    const b = await rows(wl.b, owner);
    if (a.join() !== b.join()) bad.push(`${owner}: pair_a has ${a.length} rows, pair_b ${b.length}: a transaction is half visible`);
    const entries = await wl.inbox.read(owner, { limit: 1_000_000 });
    const seqs = entries.map((e) => e.seq);
    const n = entries.length;
    if (seqs.some((q, k) => q !== k + 1)) bad.push(`${owner}: queue numbers ${seqs.slice(0, 20).join(',')}... are not 1..${n}`);
    const info = await wl.inbox.info(owner);
    if (info.next !== n + 1) bad.push(`${owner}: queue head ${info.next} but ${n} entries`);
    const counter = await wl.ids.get(owner);
    if (counter !== n) bad.push(`${owner}: counter ${counter} but ${n} transactions`);
    const inQueue = entries.map((e) => `${e.value.w}:${e.value.i}`);
    if ([...inQueue].sort().join() !== a.join()) bad.push(`${owner}: the queue and the tables hold different transactions`);
    if (new Set(inQueue).size !== inQueue.length) bad.push(`${owner}: a transaction appears twice in the queue`);
    byOwner.set(owner, new Map(entries.map((e) => [e.seq, `${e.value.w}:${e.value.i}`])));
  }
  const lastAcked = new Map<number, number>();
  for (const ack of acks) {
    const q = byOwner.get(ack.owner);
    const at = q?.get(ack.seq);
    if (at !== `${ack.w}:${ack.i}`) bad.push(`${ack.owner}: acknowledged ${ack.w}:${ack.i} as number ${ack.seq}, found ${at ?? 'nothing'} there`);
    if (ack.id !== ack.seq) bad.push(`${ack.owner}: counter value ${ack.id} and queue number ${ack.seq} of one transaction differ`);
    lastAcked.set(ack.partition, Math.max(lastAcked.get(ack.partition) ?? 0, ack.lsn));
  }
  const partitions = new Set(owners.map((o) => s.partitionOf(o)));
  for (const p of partitions) {
    const last = s.lastLsn(p);
    if ((lastAcked.get(p) ?? 0) > last) bad.push(`partition ${p}: LSN ${lastAcked.get(p)} was acknowledged, the log ends at ${last}`);
    let expect = 0;
    let replica: Store | null = null;
    if (opts.replayLog) replica = await openStore({ adapter: new MemoryAdapter(new MemoryDisk()), partitions: s.partitions, sweepIntervalMs: 0 });
    try {
      if (last > 0) {
        for await (const batch of s.follow(p, opts.replayLog ? 1 : Math.max(1, last - 50))) {
          if (expect !== 0 && batch.lsn !== expect) bad.push(`partition ${p}: LSN ${batch.lsn} follows ${expect - 1}`);
          expect = batch.lsn + 1;
          if (replica) await replica.apply(batch);
          if (batch.lsn >= last) break;
        }
      }
      if (replica && (await dump(replica, p)) !== (await dump(s, p))) bad.push(`partition ${p}: replaying the log does not rebuild the partition`);
    } catch (err) {
      bad.push(`partition ${p}: reading the log failed: ${(err as Error).message}`);
    } finally {
      await replica?.close();
    }
  }
  return bad;
}

async function dump(s: Store, p: number): Promise<string> {
  const snap = await s.snapshot(p);
  const out: string[] = [];
  try {
    for await (const batch of snap.entries()) for (const [k, v] of batch) out.push(`${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`);
  } finally {
    await snap.close();
  }
  return out.join('\n');
}
