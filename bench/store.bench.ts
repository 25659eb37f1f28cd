/**
 * The store's figures (issue 3, section 3), each beside a baseline measured
 * in the same run, on fresh LevelDB directories under the OS temp dir. Every
 * figure is the median of PARLEY_BENCH_RUNS runs (default 3), store and
 * baseline runs interleaved so that a noisy moment on this shared machine
 * hits both; each kind of run is warmed up once first, unmeasured.
 *
 * 1. Durable transactional writes/s: 100k one-record transactions (a chat
 *    message, about 100 bytes, into `(conv, seq)` over 5000 conversations
 *    and so over all 256 partitions) from 2000 concurrent writers, each
 *    awaiting `commit()` (durability "fsync"). Baseline: raw classic-level
 *    synced chained batches of 100 of the same records (keys and msgpack
 *    values encoded beforehand), one at a time; also chained batches as
 *    large as the store's median batch, to show what the store costs on top
 *    of the disk. Also the CPU time per write (this process, all threads),
 *    which other processes on a shared machine disturb less than rates. The
 *    same writes again with `log: "lsn"` (the partition log keeps LSNs only,
 *    as a chat node opens its stores), against the same raw baseline.
 * 2. Commit latency at 20k and 50k offered writes/s, open loop for 3 s,
 *    latency from the scheduled start (so a late generator counts against
 *    us). Baseline: the bare group-commit loop on classic-level (one synced
 *    chained batch whenever the previous one is done) at the same pacing.
 * 3. Queue cycles/s: 1000 inbox queues, one loop each: append an entry
 *    (transaction), read it back for the consumer, acknowledge it
 *    (transaction, which trims it). Baseline: the same keys and values on
 *    classic-level with the bare group commit and an iterator read.
 * 4. Range scan rows/s: 200k rows of one conversation, through
 *    `table.range` (decoding keys and values). Baseline: a classic-level
 *    iterator with nextv over the same keys, no decoding.
 * 5. Memory while queues hold 2M entries (10k queues, nothing acknowledged),
 *    in a child process: RSS and heap after GC, at 20% and at 100% of the
 *    fill (the first fifth warms LevelDB's buffers up).
 * 6. Layout (docs/store.md): durable writes/s into one LevelDB for all
 *    partitions vs one LevelDB per partition, and the time to hand one
 *    partition of 20k records to a new owner.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type LogMode, type Store } from '../src/store/index.js';
import { SPACE, encodeTuple, namePrefix, prefixEnd } from '../src/store/keys.js';
import { median, note, percentile, repeat, report } from './lib/report.js';
import { handoff, layoutWrites } from './lib/store-layout.js';
import type { MemoryResult } from './lib/store-memory.js';
import { RawGroupCommit, encodeRecords, makeRecords, openRaw, rawBatches, rawScan, type Message, type Rec } from './lib/store-raw.js';

const RUNS = Number(process.env.PARLEY_BENCH_RUNS ?? 3);
const WRITES = 100_000;
const WRITERS = 2000;
const RATES = [20_000, 50_000];
const LATENCY_SECONDS = 3;
const QUEUES = 1000;
const CYCLES = 30_000;
const SCAN_ROWS = 200_000;
const MEMORY_ENTRIES = 2_000_000;
const MEMORY_QUEUES = 10_000;

function fresh(tag: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `parley-bench-${tag}-`));
}

async function withDir<T>(tag: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = fresh(tag);
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function open(dir: string, log: LogMode = 'ops'): Promise<Store> {
  return openStore({ location: path.join(dir, 'db'), sweepIntervalMs: 0, log });
}

// ---- 1. durable writes ------------------------------------------------------------

/** CPU time of this process (all threads, LevelDB's included) per item, in microseconds. */
function cpuPer(since: NodeJS.CpuUsage, items: number): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / items;
}

async function storeWrites(recs: Rec[], log: LogMode = 'ops'): Promise<{ perSec: number; batch: number; cpu: number }> {
  return withDir('writes', async (dir) => {
    const s = await open(dir, log);
    const t = s.table<[string, number], Message>('convlog', { key: ['string', 'uint'] });
    let i = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        while (i < recs.length) {
          const r = recs[i++]!;
          await s.transaction(r.owner).put(t, [r.owner, r.seq], r.value).commit();
        }
      }),
    );
    const perSec = (recs.length / (performance.now() - t0)) * 1000;
    const cpu = cpuPer(c0, recs.length);
    const st = s.stats();
    await s.close();
    return { perSec, batch: st.transactions / st.batches, cpu };
  });
}

async function raw(enc: Array<[Buffer, Buffer]>, size: number): Promise<{ perSec: number; cpu: number }> {
  return withDir('raw', async (dir) => {
    const db = await openRaw(path.join(dir, 'db'));
    const c0 = process.cpuUsage();
    const perSec = await rawBatches(db, enc, size);
    const cpu = cpuPer(c0, enc.length);
    await db.close();
    return { perSec, cpu };
  });
}

async function writes(): Promise<void> {
  note(`durable writes: ${WRITES} transactions from ${WRITERS} writers, ${RUNS} runs`);
  const recs = makeRecords(WRITES);
  const enc = encodeRecords(recs);
  await storeWrites(recs.slice(0, 20_000));
  await raw(enc.slice(0, 20_000), 100);
  const runs = await repeat(async () => {
    const raw100 = await raw(enc, 100);
    const store = await storeWrites(recs);
    const rawSame = await raw(enc, Math.round(store.batch));
    // The same writes with the partition log keeping LSNs only (what a chat node uses).
    const lsn = await storeWrites(recs, 'lsn');
    return { raw100, store, rawSame, lsn };
  }, RUNS);
  const value = median(runs.map((r) => r.store.perSec));
  const batch = median(runs.map((r) => r.store.batch));
  note(`store median batch: ${batch.toFixed(0)} transactions`);
  report({ name: 'store.durable tx writes/s (group commit)', value, unit: 'writes/s', baseline: median(runs.map((r) => r.raw100.perSec)), baselineName: 'raw synced chained batches of 100', goal: '>= 0.8 of raw' });
  report({ name: 'store.durable tx writes/s vs raw at same batch', value, unit: 'writes/s', baseline: median(runs.map((r) => r.rawSame.perSec)), baselineName: `raw synced chained batches of ${batch.toFixed(0)}` });
  // CPU time is less at the mercy of other processes on a shared machine than wall-clock rates.
  report({ name: 'store.CPU per durable tx write', value: median(runs.map((r) => r.store.cpu)), unit: 'µs', baseline: median(runs.map((r) => r.raw100.cpu)), baselineName: 'raw, batches of 100' });
  report({ name: 'store.durable tx writes/s, log: lsn', value: median(runs.map((r) => r.lsn.perSec)), unit: 'writes/s', baseline: median(runs.map((r) => r.raw100.perSec)), baselineName: 'raw synced chained batches of 100', goal: '>= 0.8 of raw' });
  report({ name: 'store.CPU per durable tx write, log: lsn', value: median(runs.map((r) => r.lsn.cpu)), unit: 'µs', baseline: median(runs.map((r) => r.raw100.cpu)), baselineName: 'raw, batches of 100' });
  report({ name: 'store.CPU per durable tx write vs raw at same batch', value: median(runs.map((r) => r.store.cpu)), unit: 'µs', baseline: median(runs.map((r) => r.rawSame.cpu)), baselineName: `raw, batches of ${batch.toFixed(0)}` });
}

// ---- 2. latency -----------------------------------------------------------------

/** Issues `rate`/s calls of `fn` for `seconds`, open loop; returns each latency from its scheduled time, in ms. */
async function openLoop(rate: number, seconds: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const total = rate * seconds;
  const lat = new Float64Array(total);
  let issued = 0;
  let finished = 0;
  const start = performance.now();
  await new Promise<void>((done) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000));
      while (issued < due) {
        const i = issued++;
        const scheduled = start + (i * 1000) / rate;
        void fn(i).then(() => {
          lat[i] = performance.now() - scheduled;
          if (++finished === total) done();
        });
      }
      if (issued < total) setTimeout(tick, 1);
    };
    tick();
  });
  return Array.from(lat);
}

async function storeLatency(recs: Rec[], rate: number): Promise<number[]> {
  return withDir('latency', async (dir) => {
    const s = await open(dir);
    const t = s.table<[string, number], Message>('convlog', { key: ['string', 'uint'] });
    const lat = await openLoop(rate, LATENCY_SECONDS, (i) => {
      const r = recs[i % recs.length]!;
      return s.transaction(r.owner).put(t, [r.owner, i], r.value).commit();
    });
    await s.close();
    return lat;
  });
}

async function rawLatency(enc: Array<[Buffer, Buffer]>, rate: number): Promise<number[]> {
  return withDir('latency-raw', async (dir) => {
    const db = await openRaw(path.join(dir, 'db'));
    const gc = new RawGroupCommit(db);
    const lat = await openLoop(rate, LATENCY_SECONDS, (i) => gc.write([enc[i % enc.length]!]));
    await db.close();
    return lat;
  });
}

async function latency(): Promise<void> {
  const recs = makeRecords(50_000);
  const enc = encodeRecords(recs);
  for (const rate of RATES) {
    note(`commit latency at ${rate} writes/s offered, ${LATENCY_SECONDS} s open loop, ${RUNS} runs`);
    await storeLatency(recs, rate);
    const runs = await repeat(async () => {
      const r = await rawLatency(enc, rate);
      const s = await storeLatency(recs, rate);
      return { s: [percentile(s, 50), percentile(s, 99)], r: [percentile(r, 50), percentile(r, 99)] };
    }, RUNS);
    const k = `${rate / 1000}k`;
    report({ name: `store.commit latency p50 @ ${k}/s`, value: median(runs.map((x) => x.s[0]!)), unit: 'ms', baseline: median(runs.map((x) => x.r[0]!)), baselineName: 'bare group commit on classic-level' });
    report({ name: `store.commit latency p99 @ ${k}/s`, value: median(runs.map((x) => x.s[1]!)), unit: 'ms', baseline: median(runs.map((x) => x.r[1]!)), baselineName: 'bare group commit on classic-level' });
  }
}

// ---- 3. queue cycles ------------------------------------------------------------

const ENTRY = { conv: 'conv:dm:alice:bob', seq: 17 };

async function storeCycles(): Promise<number> {
  return withDir('queue', async (dir) => {
    const s = await open(dir);
    const inbox = s.queue<typeof ENTRY>('inbox');
    const owners = Array.from({ length: QUEUES }, (_, k) => `user:q${k}`);
    await Promise.all(owners.map((o) => inbox.subscribe(o, 'phone')));
    let left = CYCLES;
    const t0 = performance.now();
    await Promise.all(
      owners.map(async (o) => {
        while (left-- > 0) {
          await inbox.append(o, ENTRY);
          const got = await inbox.readFor(o, 'phone', 10);
          await inbox.ack(o, 'phone', got[got.length - 1]!.seq);
        }
      }),
    );
    const perSec = (CYCLES / (performance.now() - t0)) * 1000;
    await s.close();
    return perSec;
  });
}

async function rawCycles(): Promise<number> {
  return withDir('queue-raw', async (dir) => {
    const db = await openRaw(path.join(dir, 'db'));
    const gc = new RawGroupCommit(db);
    const { Packr } = await import('msgpackr');
    const packr = new Packr({ useRecords: false });
    const value = Buffer.from(packr.pack(ENTRY));
    const key = (o: number, kind: number, seq: number): Buffer => {
      const k = Buffer.alloc(13);
      k.writeUInt16BE(o % 256, 0);
      k[2] = kind;
      k.writeUInt16BE(o, 3);
      k.writeUInt32BE(seq, 9);
      return k;
    };
    let left = CYCLES;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: QUEUES }, async (_, o) => {
        let head = 0;
        while (left-- > 0) {
          head++;
          await gc.write([[key(o, 1, head), value], [key(o, 2, 0), Buffer.from(packr.pack([head + 1, head, 0, { phone: head - 1 }]))]]);
          const it = db.iterator({ gte: key(o, 1, head), lt: key(o, 1, 0xffffffff), limit: 10 });
          const got = await it.nextv(10);
          await it.close();
          if (got.length === 0) throw new Error('raw queue lost an entry');
          await gc.write([[key(o, 1, head), null], [key(o, 2, 0), Buffer.from(packr.pack([head + 1, head + 1, 0, { phone: head }]))]]);
        }
      }),
    );
    const perSec = (CYCLES / (performance.now() - t0)) * 1000;
    await db.close();
    return perSec;
  });
}

async function queues(): Promise<void> {
  note(`queue append -> read -> ack: ${CYCLES} cycles over ${QUEUES} queues, ${RUNS} runs`);
  await storeCycles();
  const runs = await repeat(async () => ({ r: await rawCycles(), s: await storeCycles() }), RUNS);
  report({ name: 'store.queue append->read->ack cycles/s', value: median(runs.map((x) => x.s)), unit: 'cycles/s', baseline: median(runs.map((x) => x.r)), baselineName: 'same ops on classic-level, bare group commit' });
}

// ---- 4. range scan --------------------------------------------------------------

async function scans(): Promise<void> {
  note(`range scan: ${SCAN_ROWS} rows of one conversation, ${RUNS} runs`);
  await withDir('scan', async (dir) => {
    const owner = 'conv:dm:scan';
    let s = await open(dir);
    const t = s.table<[string, number], Message>('convlog', { key: ['string', 'uint'] });
    const value: Message = { from: 'user:alice', text: 'x'.repeat(64), at: 1_700_000_000_000 };
    for (let i = 0; i < SCAN_ROWS; i += 2000) {
      const tx = s.transaction(owner);
      for (let j = i; j < i + 2000; j++) tx.put(t, [owner, j], value);
      await tx.commit();
    }
    const p = s.partitionOf(owner);
    await s.close();
    const prefix = encodeTuple(namePrefix(p, SPACE.record, 'convlog'), ['string'], [owner]);
    const storeScan = async (): Promise<number> => {
      s = await open(dir);
      const tab = s.table<[string, number], Message>('convlog', { key: ['string', 'uint'] });
      const t0 = performance.now();
      let rows = 0;
      for await (const batch of tab.rangeBatches({ prefix: [owner] })) rows += batch.length;
      const perSec = (rows / (performance.now() - t0)) * 1000;
      await s.close();
      if (rows !== SCAN_ROWS) throw new Error(`scanned ${rows} rows`);
      return perSec;
    };
    const rawRun = async (): Promise<number> => {
      const db = await openRaw(path.join(dir, 'db'));
      const r = await rawScan(db, Buffer.from(prefix), Buffer.from(prefixEnd(prefix)!));
      await db.close();
      if (r.rows !== SCAN_ROWS) throw new Error(`raw scanned ${r.rows} rows`);
      return r.perSec;
    };
    await storeScan();
    await rawRun();
    const runs = await repeat(async () => ({ r: await rawRun(), s: await storeScan() }), RUNS);
    report({ name: 'store.range scan rows/s (decoded)', value: median(runs.map((x) => x.s)), unit: 'rows/s', baseline: median(runs.map((x) => x.r)), baselineName: 'classic-level nextv, not decoded' });
  });
}

// ---- 5. memory ------------------------------------------------------------------

function memory(): void {
  note(`memory: ${MEMORY_ENTRIES} queue entries over ${MEMORY_QUEUES} queues, in a child process, ${RUNS} runs`);
  const file = new URL('./lib/store-memory.ts', import.meta.url).pathname;
  const runs: MemoryResult[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', file, String(MEMORY_ENTRIES), String(MEMORY_QUEUES)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`memory child failed: ${r.stderr}`);
    runs.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as MemoryResult);
  }
  const at = (r: MemoryResult, frac: number): { rss: number; heap: number } => r.samples.find((x) => x.entries >= MEMORY_ENTRIES * frac)!;
  const mb = (b: number): number => b / 2 ** 20;
  note(`fill rate (median): ${median(runs.map((r) => r.appendsPerSec)).toFixed(0)} appends/s; tail read ${runs[0]!.tailRead} entries`);
  report({ name: 'store.memory RSS with 2M queued entries', value: median(runs.map((r) => mb(at(r, 1).rss))), unit: 'MB', baseline: median(runs.map((r) => mb(at(r, 0.2).rss))), baselineName: 'RSS at 400k entries', goal: 'flat (ratio ~1)' });
  report({ name: 'store.memory heap with 2M queued entries', value: median(runs.map((r) => mb(at(r, 1).heap))), unit: 'MB', baseline: median(runs.map((r) => mb(at(r, 0.2).heap))), baselineName: 'heap at 400k entries', goal: 'flat (ratio ~1)' });
}

// ---- 6. layout ------------------------------------------------------------------

async function layout(): Promise<void> {
  note(`layout: 50k writes from ${WRITERS} writers into 1 LevelDB vs 256; handoff of a 20k-record partition, ${RUNS} runs`);
  const recs = makeRecords(50_000);
  const runs = await repeat(async () => ({
    per: await layoutWrites('per-partition', recs, WRITERS),
    shared: await layoutWrites('shared', recs, WRITERS),
    hPer: await handoff('per-partition', 20_000, 0),
    hShared: await handoff('shared', 20_000, 200_000),
  }), RUNS);
  report({ name: 'store.layout writes/s, one LevelDB for all partitions', value: median(runs.map((x) => x.shared)), unit: 'writes/s', baseline: median(runs.map((x) => x.per)), baselineName: 'one LevelDB per partition (256)' });
  report({ name: 'store.layout handoff of a 20k-record partition', value: median(runs.map((x) => x.hShared.ms)), unit: 'ms', baseline: median(runs.map((x) => x.hPer.ms)), baselineName: 'close + copy dir + open (per-partition)' });
  note(`files in the database directory: shared ${runs[0]!.hShared.files}; per partition ${runs[0]!.hPer.files} (256 databases)`);
}

const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const parts: Array<[string, () => Promise<void> | void]> = [
  ['writes', writes],
  ['latency', latency],
  ['queues', queues],
  ['scan', scans],
  ['memory', memory],
  ['layout', layout],
];
for (const [name, fn] of parts) if (only.length === 0 || only.includes(name)) await fn();
