/**
 * `npm run bench:load [-- flags]`: the chat node under load, beside a raw
 * `ws` relay measured in the same run with the same driver (issue 4, §5).
 *
 * Processes, all on loopback: the server under test (bench/load/node-server.ts:
 * `createNode` with a fresh LevelDB directory, durability fsync, send rate
 * limit lifted; or bench/load/relay.ts, the in-memory relay), and driver
 * processes (bench/load/driver.ts, a lean raw-ws client, tokens signed with
 * the node's secret). Every phase starts a fresh server and fresh drivers and
 * removes them and the data directory afterwards.
 *
 * Phases (each for the node, then the relay):
 * - `sat`: U users online (--users 1000), S senders (--senders 500) each
 *   keeping W sends unanswered (--window 4) to a recipient of its own,
 *   100-byte bodies; warm-up (--warmup 10 s), then measured (--measure 20 s):
 *   delivered `msg` frames/s at the recipients, end-to-end latency (send
 *   written → msg read) p50/p90/p99. Everyone acks; the node's delivered
 *   receipts flow back to the senders, who ack them too.
 * - `paced`: the same users, sends offered at a fixed rate (--rate 10000/s,
 *   open loop), latency from the time each send was due; then again at
 *   --low-rate (1000/s; 0 skips it), below the node's capacity here.
 * - `group`: 1024 users online, one group of all of them, G senders
 *   (--group-senders 4, window --group-window 4) sending to it; copies/s =
 *   `msg` frames received by members.
 * - `idle`: N idle authenticated connections (--idle 15000) over several
 *   driver processes and source addresses 127.0.0.2…; server RSS delta / N
 *   and connects/s (connect + auth + ready, --connect-concurrency per driver).
 *   The baseline RSS is taken once a fresh server's RSS has stopped falling
 *   (its start-up garbage returned); then it is sampled 3 s after the last
 *   connect and again after --idle-settle (65 s: two of the node's
 *   heartbeats) of idleness; the settled figure is the one held against the
 *   goal, both are printed.
 *   Every process here is capped at 20,000 open files, so one server holds
 *   ~19k sockets at most: 50k cannot be measured on this box.
 * - `drain` (node only): 10 000 messages (--drain) queued for an offline
 *   device, time from its reconnect until it has received all of them.
 *
 * --runs N (default 3) repeats everything; figures are medians over runs.
 * --only sat,paced,… picks phases; --quick is a short smoke run; --profile
 * writes CPU profiles of the node (every thread) for sat and group and
 * prints their top functions (--profile-dir DIR keeps the files there); --keep-data keeps the node's data directories
 * (to read LevelDB's LOG of compactions and stalls); --workers N scheduler threads (default 2);
 * --drivers N driver processes for sat/paced (default 1); --json prints the
 * figures as JSON lines (notes go to stderr).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { report, note, median } from '../lib/report.js';
import { mergeHistograms, summarize, type LatencySummary } from './hist.js';
import { rssBytes, threadTimes, threadLoad, processCpu, machineCpu, countSyscalls, storageWriteBytes, type ThreadTimes } from './proc.js';
import { summarizeProfile } from './profile.js';
import type { DriverCmd, DriverReply, Snapshot } from './ipc.js';

const here = new URL('.', import.meta.url).pathname;

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: {
    users: { type: 'string', default: '1000' },
    senders: { type: 'string', default: '500' },
    window: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '10' },
    measure: { type: 'string', default: '20' },
    rate: { type: 'string', default: '10000' },
    'low-rate': { type: 'string', default: '1000' },
    workers: { type: 'string', default: '2' },
    drivers: { type: 'string', default: '1' },
    idle: { type: 'string', default: '15000' },
    'per-driver': { type: 'string', default: '7500' },
    'idle-settle': { type: 'string', default: '65' },
    'connect-concurrency': { type: 'string', default: '64' },
    drain: { type: 'string', default: '10000' },
    group: { type: 'string', default: '1024' },
    'group-senders': { type: 'string', default: '4' },
    'group-window': { type: 'string', default: '4' },
    runs: { type: 'string', default: process.env.PARLEY_BENCH_RUNS ?? '3' },
    only: { type: 'string', default: 'sat,paced,group,idle,drain' },
    durability: { type: 'string', default: 'fsync' },
    profile: { type: 'boolean', default: false },
    'profile-dir': { type: 'string' },
    quick: { type: 'boolean', default: false },
    'keep-data': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'quiet-wait': { type: 'string', default: '120' },
    'max-others': { type: 'string', default: '0.15' },
    attempts: { type: 'string', default: '2' },
  },
});

const num = (k: keyof typeof flags): number => Number(flags[k]);
const quick = flags.quick === true;
const O = {
  users: num('users'),
  senders: num('senders'),
  window: num('window'),
  warmupS: quick ? 2 : num('warmup'),
  measureS: quick ? 4 : num('measure'),
  rate: num('rate'),
  lowRate: num('low-rate'),
  workers: num('workers'),
  drivers: num('drivers'),
  idle: quick ? 2000 : num('idle'),
  perDriver: num('per-driver'),
  idleSettleS: quick ? 5 : num('idle-settle'),
  concurrency: num('connect-concurrency'),
  drain: quick ? 2000 : num('drain'),
  group: num('group'),
  groupSenders: num('group-senders'),
  groupWindow: num('group-window'),
  runs: quick ? 1 : num('runs'),
  only: new Set(String(flags.only).split(',')),
  durability: flags.durability === 'os' ? ('os' as const) : ('fsync' as const),
  profile: flags.profile === true,
  quietWaitS: num('quiet-wait'),
  keepData: flags['keep-data'] === true,
  maxOthers: num('max-others'),
  attempts: num('attempts'),
};
const SECRET = randomBytes(32).toString('base64url');

// ---- processes ---------------------------------------------------------------------------

const live = new Set<ChildProcess>();
const dirs = new Set<string>();

function cleanup(): void {
  for (const p of live) if (p.exitCode === null && p.pid !== undefined) process.kill(p.pid, 'SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

function exited(p: ChildProcess, ms: number): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      if (p.pid !== undefined && p.exitCode === null) process.kill(p.pid, 'SIGKILL');
    }, ms);
    p.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

interface Mem {
  mainHeap: number;
  external: number;
  workerHeap: number;
  actors: number;
}

interface Server {
  kind: 'node' | 'relay';
  url: string;
  pid: number;
  /** Linux thread id → main / sched-<n>; the node's other threads (libuv pool, V8 helpers, GC) are "other". */
  threads: Record<string, string>;
  /** Heap figures of the node (main thread, scheduler threads), actors; null for the relay. */
  mem(): Promise<Mem | null>;
  stop(): Promise<void>;
}

async function startServer(kind: 'node' | 'relay', profileDir?: string): Promise<Server> {
  const execArgv = ['--import', 'tsx', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  let data = '';
  let p: ChildProcess;
  if (kind === 'node') {
    data = mkdtempSync(join(tmpdir(), 'parley-load-'));
    dirs.add(data);
    p = fork(join(here, 'node-server.ts'), [JSON.stringify({ data, workers: O.workers, secret: SECRET, durability: O.durability })], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  } else {
    p = fork(join(here, 'relay.ts'), [SECRET], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  }
  live.add(p);
  const up = await new Promise<{ url: string; pid: number; threads?: Record<string, string> }>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${kind} did not start in 60 s`)), 60_000);
    p.once('message', (m: { t: string; url: string; pid: number; threads?: Record<string, string> }) => {
      clearTimeout(t);
      resolve(m);
    });
    p.once('exit', (code) => reject(new Error(`${kind} exited with ${code} before listening`)));
  });
  return {
    kind,
    url: up.url,
    pid: up.pid,
    threads: up.threads ?? { [String(up.pid)]: 'main' },
    mem: () =>
      kind === 'relay'
        ? Promise.resolve(null)
        : new Promise<Mem | null>((resolve) => {
            const t = setTimeout(() => resolve(null), 10_000);
            const on = (m: { t: string } & Mem): void => {
              if (m.t !== 'mem') return;
              clearTimeout(t);
              p.off('message', on);
              resolve(m);
            };
            p.on('message', on);
            p.send({ t: 'mem' });
          }),
    stop: async () => {
      if (p.connected) p.send({ t: 'stop' });
      await exited(p, 30_000);
      live.delete(p);
      if (data) {
        dirs.delete(data);
        if (O.keepData) note(`  data kept in ${data} (LevelDB LOG files under store/t*/)`);
        else rmSync(data, { recursive: true, force: true });
      }
    },
  };
}

class Driver {
  private n = 0;
  private readonly waiting = new Map<number, (r: DriverReply) => void>();
  readonly ready: Promise<void>;
  constructor(readonly proc: ChildProcess) {
    this.ready = new Promise<void>((resolve) => this.waiting.set(0, () => resolve()));
    proc.on('message', (m: DriverReply & { n: number }) => {
      const w = this.waiting.get(m.n);
      this.waiting.delete(m.n);
      w?.(m);
    });
    proc.on('exit', () => {
      for (const w of this.waiting.values()) w({ ok: false, error: 'driver exited' });
      this.waiting.clear();
    });
  }
  get pid(): number {
    return this.proc.pid!;
  }
  async rpc<R extends DriverReply = DriverReply>(cmd: DriverCmd): Promise<R> {
    const n = ++this.n;
    const r = await new Promise<DriverReply>((resolve) => {
      this.waiting.set(n, resolve);
      this.proc.send({ ...cmd, n });
    });
    if (!r.ok) throw new Error(`driver ${cmd.cmd}: ${r.error}`);
    return r as R;
  }
}

async function startDrivers(count: number, url: string): Promise<Driver[]> {
  const ds: Driver[] = [];
  for (let i = 0; i < count; i++) {
    const p = fork(join(here, 'driver.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    live.add(p);
    ds.push(new Driver(p));
  }
  await Promise.all(ds.map((d) => d.ready));
  await Promise.all(ds.map((d) => d.rpc({ cmd: 'init', url, secret: SECRET })));
  return ds;
}

async function stopDrivers(ds: Driver[]): Promise<void> {
  await Promise.all(ds.map((d) => d.rpc({ cmd: 'close_all' }).catch(() => undefined)));
  await Promise.all(
    ds.map(async (d) => {
      await d.rpc({ cmd: 'exit' }).catch(() => undefined);
      await exited(d.proc, 5000);
      live.delete(d.proc);
    }),
  );
}

/**
 * Source addresses for the idle phase: each driver connects from its own
 * 127.0.0.x (every phase takes fresh ones), so 50k stays under the ephemeral
 * port range per address, and sockets a previous phase left in TIME_WAIT
 * never hold a port this one needs.
 */
let nextAddr = 0;
function sourceAddress(): string {
  return `127.0.0.${2 + (nextAddr++ % 250)}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const user = (prefix: string, i: number): string => `${prefix}${String(i).padStart(5, '0')}`;

// ---- measuring a load ----------------------------------------------------------------------

interface LoadResult {
  perSec: number;
  e2e: LatencySummary;
  sentPerSec: number;
  sentLat: LatencySummary;
  receiptsPerSec: number;
  errors: Record<string, number>;
  threads: string;
  serverCpu: number;
  driverCpu: number;
  /** CPU (1 = one core) used on the machine by processes other than this benchmark's during the window. */
  othersCpu: number;
  /** CPU in interrupts (softirq: loopback TCP) and stolen by the hypervisor during the window. */
  irqCpu: number;
  stealCpu: number;
  /** Per second, over the window (perf stat on the server process): fdatasync = synced store commits; socket writes. */
  syscalls: Record<string, number> | null;
  /** Server CPU time per delivered message, µs, by thread name. */
  cpuPerMsg: string;
  /** Bytes written to storage by the server per delivered message (LevelDB log and compactions). */
  diskPerMsg: number;
}

/** CPU per named thread (1 = one core), the unnamed ones summed as "other". */
function describeThreads(names: Record<string, string>, a: ThreadTimes, b: ThreadTimes, s: number): string {
  const by = new Map<string, number>();
  for (const t of threadLoad(a, b, s, 0)) {
    const n = names[t.tid] ?? 'other';
    by.set(n, (by.get(n) ?? 0) + t.share);
  }
  return [...by]
    .sort((x, y) => (x[0] === 'other' ? 1 : y[0] === 'other' ? -1 : x[0] < y[0] ? -1 : 1))
    .map(([n, v]) => `${n} ${(v * 100).toFixed(0)}%`)
    .join(', ');
}

/** Starts the load on every driver, warms up, measures, stops it; the server stays up. */
async function measureLoad(server: Server, ds: Driver[], pairsOf: (d: number) => Array<[string, string]>, mode: 'window' | 'rate', window: number, rate: number): Promise<LoadResult> {
  await Promise.all(ds.map((d, i) => d.rpc({ cmd: 'load', pairs: pairsOf(i), mode, window, rate: rate / ds.length })));
  await sleep(O.warmupS * 1000);
  const marks = await Promise.all(ds.map((d) => d.rpc<DriverReply & { at: number }>({ cmd: 'mark' })));
  const t0 = threadTimes(server.pid);
  const c0 = ds.map((d) => processCpu(d.pid));
  const m0 = machineCpu();
  const io0 = storageWriteBytes(server.pid);
  const me0 = process.cpuUsage();
  const w0 = performance.now();
  const [sys] = await Promise.all([countSyscalls(server.pid, O.measureS, ['fdatasync', 'write', 'writev', 'read', 'pwrite64']), sleep(O.measureS * 1000)]);
  const snaps = await Promise.all(ds.map((d) => d.rpc<Snapshot>({ cmd: 'snap' })));
  const wall = (performance.now() - w0) / 1000;
  const t1 = threadTimes(server.pid);
  const c1 = ds.map((d) => processCpu(d.pid));
  const m1 = machineCpu();
  const io1 = storageWriteBytes(server.pid);
  const me = process.cpuUsage(me0);
  await Promise.all(ds.map((d) => d.rpc({ cmd: 'halt', timeoutMs: 15_000 })));
  const secs = median(snaps.map((s, i) => (s.at - marks[i]!.at) / 1000));
  const sum = (f: (s: Snapshot) => number): number => snaps.reduce((a, s) => a + f(s), 0);
  const errors: Record<string, number> = {};
  for (const s of snaps) for (const [k, v] of Object.entries(s.errorCodes)) errors[k] = (errors[k] ?? 0) + v;
  for (const s of snaps) for (const e of s.firstErrors) note(`  error: ${e}`);
  const serverCpu = (Object.values(t1).reduce((a, t) => a + t.cpu, 0) - Object.values(t0).reduce((a, t) => a + t.cpu, 0)) / wall;
  const driverCpu = c1.reduce((a, c, i) => a + c - c0[i]!, 0) / wall;
  return {
    perSec: sum((s) => s.delivered) / secs,
    e2e: summarize(mergeHistograms(snaps.map((s) => s.e2e))),
    sentPerSec: sum((s) => s.sent) / secs,
    sentLat: summarize(mergeHistograms(snaps.map((s) => s.sentLat))),
    receiptsPerSec: sum((s) => s.receipts) / secs,
    errors,
    threads: describeThreads(server.threads, t0, t1, wall),
    syscalls: sys === null ? null : Object.fromEntries(Object.entries(sys).map(([k, v]) => [k, v / O.measureS])),
    cpuPerMsg: perMessage(server.threads, t0, t1, sum((s) => s.delivered)),
    diskPerMsg: (io1 - io0) / Math.max(1, sum((s) => s.delivered)),
    serverCpu,
    driverCpu,
    othersCpu: Math.max(0, (m1.proc - m0.proc - (me.user + me.system) / 1e6) / wall - serverCpu - driverCpu),
    irqCpu: (m1.irq - m0.irq) / wall,
    stealCpu: (m1.steal - m0.steal) / wall,
  };
}

/** Server CPU µs per delivered message, per named thread and in all. */
function perMessage(names: Record<string, string>, a: ThreadTimes, b: ThreadTimes, delivered: number): string {
  const by = new Map<string, number>();
  let all = 0;
  for (const [tid, t] of Object.entries(b)) {
    const d = t.cpu - (a[tid]?.cpu ?? 0);
    const n = names[tid] ?? 'other';
    by.set(n, (by.get(n) ?? 0) + d);
    all += d;
  }
  const us = (s: number): string => ((s / Math.max(1, delivered)) * 1e6).toFixed(0);
  return `${us(all)} µs (${[...by].filter(([, v]) => v > 0).map(([n, v]) => `${n} ${us(v)}`).join(', ')})`;
}

function fmtLat(l: LatencySummary): string {
  return `p50 ${l.p50.toFixed(2)} p90 ${l.p90.toFixed(2)} p99 ${l.p99.toFixed(2)} max ${l.max.toFixed(1)} ms (n=${l.count})`;
}

function noteLoad(label: string, r: LoadResult): void {
  note(
    `${label}: delivered ${Math.round(r.perSec)}/s, sent ${Math.round(r.sentPerSec)}/s, receipts ${Math.round(r.receiptsPerSec)}/s; e2e ${fmtLat(r.e2e)}; send→sent ${fmtLat(r.sentLat)}` +
      `; cpu: server ${(r.serverCpu * 100).toFixed(0)}%, driver ${(r.driverCpu * 100).toFixed(0)}%, softirq ${(r.irqCpu * 100).toFixed(0)}%, steal ${(r.stealCpu * 100).toFixed(0)}%, other processes ${(r.othersCpu * 100).toFixed(0)}%` +
      (Object.keys(r.errors).length ? `; errors ${JSON.stringify(r.errors)}` : ''),
  );
  note(`  server threads: ${r.threads}; server CPU per delivered msg ${r.cpuPerMsg}`);
  if (r.syscalls) note(`  server syscalls/s: ${Object.entries(r.syscalls).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')}; written to storage ${Math.round(r.diskPerMsg)} B per delivered msg`);
}

async function withProfile<T>(kind: 'node' | 'relay', label: string, fn: (s: Server) => Promise<T>): Promise<T> {
  const keep = flags['profile-dir'];
  if (keep !== undefined) mkdirSync(keep, { recursive: true });
  const dir = O.profile && kind === 'node' ? (keep !== undefined ? mkdtempSync(join(keep, `${label.replace(/\W+/g, '-')}-`)) : mkdtempSync(join(tmpdir(), 'parley-prof-'))) : undefined;
  if (dir && keep === undefined) dirs.add(dir);
  const server = await startServer(kind, dir);
  try {
    return await fn(server);
  } finally {
    await server.stop();
    if (dir) {
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile')).sort()) {
        note(`  profile ${label} ${f}:`);
        for (const line of summarizeProfile(join(dir, f), 12)) note(`    ${line}`);
      }
      if (keep === undefined) {
        rmSync(dir, { recursive: true, force: true });
        dirs.delete(dir);
      } else note(`  profiles kept in ${dir}`);
    }
  }
}

/**
 * This machine may be shared: before a phase, wait (up to --quiet-wait s)
 * until other processes use less than a third of a core, and say how busy
 * it was.
 */
async function waitQuiet(phase: string): Promise<void> {
  const end = Date.now() + O.quietWaitS * 1000;
  for (;;) {
    const a = machineCpu().proc;
    await sleep(2000);
    const busy = (machineCpu().proc - a) / 2;
    if (busy < 0.33 || Date.now() >= end) {
      note(`${phase}: machine busy ${(busy * 100).toFixed(0)}% of a core before starting${busy >= 0.33 ? ' (not quiet: figures may be low)' : ''}`);
      return;
    }
  }
}

/**
 * Runs a measurement again (up to --attempts times) while other processes
 * used more than --max-others of a core during its window; keeps the least
 * disturbed one.
 */
async function undisturbed<T extends { othersCpu: number }>(label: string, fn: () => Promise<T>): Promise<T> {
  let best: T | null = null;
  for (let a = 1; ; a++) {
    const r = await fn();
    if (best === null || r.othersCpu < best.othersCpu) best = r;
    if (r.othersCpu <= O.maxOthers || a >= O.attempts) return best;
    note(`${label}: other processes used ${(r.othersCpu * 100).toFixed(0)}% of a core during the window; measuring again (${a + 1} of ${O.attempts})`);
  }
}

// ---- phases --------------------------------------------------------------------------------

/** One-to-one: users split over the drivers; in each driver's slice, sender i sends to user i + n/2. */
async function oneToOne(kind: 'node' | 'relay', mode: 'window' | 'rate', rate = O.rate): Promise<LoadResult> {
  await waitQuiet(`${mode === 'window' ? 'saturation' : `paced ${rate}/s`} ${kind}`);
  return withProfile(kind, `${mode} ${kind}`, async (server) => {
    const ds = await startDrivers(O.drivers, server.url);
    try {
      const per = Math.floor(O.users / ds.length);
      const slices = ds.map((_, d) => Array.from({ length: per }, (_x, i) => user('u', d * per + i)));
      const conn = await Promise.all(ds.map((d, i) => d.rpc<DriverReply & { failed: number }>({ cmd: 'connect', users: slices[i]!, addrs: [], concurrency: O.concurrency })));
      const failed = conn.reduce((a, c) => a + c.failed, 0);
      if (failed > 0) throw new Error(`${failed} of ${O.users} users could not connect`);
      const sPer = Math.floor(O.senders / ds.length);
      const pairsOf = (d: number): Array<[string, string]> => {
        const s = slices[d]!;
        return Array.from({ length: sPer }, (_x, i) => [s[i]!, `user:${s[(i + Math.floor(per / 2)) % per]!}`]);
      };
      const r = await measureLoad(server, ds, pairsOf, mode, O.window, rate);
      noteLoad(`${mode === 'window' ? 'saturation' : `paced ${rate}/s`} ${kind}`, r);
      return r;
    } finally {
      await stopDrivers(ds);
    }
  });
}

async function group(kind: 'node' | 'relay'): Promise<LoadResult> {
  await waitQuiet(`group ${kind}`);
  return withProfile(kind, `group ${kind}`, async (server) => {
    const ds = await startDrivers(1, server.url);
    try {
      const members = Array.from({ length: O.group }, (_x, i) => user('g', i));
      const c = await ds[0]!.rpc<DriverReply & { failed: number }>({ cmd: 'connect', users: members, addrs: [], concurrency: O.concurrency });
      if (c.failed > 0) throw new Error(`${c.failed} group members could not connect`);
      const g = await ds[0]!.rpc<DriverReply & { group: string }>({ cmd: 'group_create', owner: members[0]!, members: members.slice(1) });
      const pairs: Array<[string, string]> = members.slice(0, O.groupSenders).map((m) => [m, `group:${g.group}`]);
      const r = await measureLoad(server, ds, () => pairs, 'window', O.groupWindow, 0);
      noteLoad(`group of ${O.group} ${kind} (copies)`, r);
      return r;
    } finally {
      await stopDrivers(ds);
    }
  });
}

interface IdleResult {
  /** RSS delta per connection once idle for `idleSettleS` (the figure against the goal). */
  perConn: number;
  /** The same 3 s after the last connect, garbage of the connect burst included. */
  perConnFresh: number;
  connectsPerSec: number;
  connected: number;
  connectLat: LatencySummary;
}

/** The RSS once three samples 5 s apart agree within 1 MiB (at most 90 s; 15 s with --quick). */
async function steady(sample: () => Promise<number>): Promise<number> {
  const xs = [await sample()];
  for (const t0 = performance.now(); performance.now() - t0 < (quick ? 15_000 : 90_000); ) {
    await sleep(5000);
    xs.push(await sample());
    const last = xs.slice(-3);
    if (last.length === 3 && Math.max(...last) - Math.min(...last) < 2 ** 20) break;
  }
  return xs[xs.length - 1]!;
}

async function idle(kind: 'node' | 'relay'): Promise<IdleResult> {
  await waitQuiet(`idle ${kind}`);
  const server = await startServer(kind);
  const nd = Math.max(1, Math.ceil(O.idle / O.perDriver));
  const ds = await startDrivers(nd, server.url);
  try {
    await sleep(1500);
    const sample = async (): Promise<number> => {
      const xs: number[] = [];
      for (let i = 0; i < 5; i++) {
        xs.push(rssBytes(server.pid));
        await sleep(200);
      }
      return median(xs);
    };
    // A fresh server still holds its start-up garbage (the node ~60 MiB, the
    // relay ~10 MiB, returned within ~20 s of idleness): the baseline is
    // taken once the RSS has stopped falling, or the per-connection figure
    // would be short by that garbage over N.
    const rss0 = await steady(sample);
    const mem0 = await server.mem();
    const per = Math.ceil(O.idle / nd);
    const w0 = performance.now();
    const rs = await Promise.all(
      ds.map((d, k) => {
        const users = Array.from({ length: Math.min(per, O.idle - k * per) }, (_x, i) => user('i', k * per + i));
        return d.rpc<DriverReply & { failed: number; errors: string[]; hist: string }>({ cmd: 'connect', users, addrs: [sourceAddress()], concurrency: O.concurrency });
      }),
    );
    const secs = (performance.now() - w0) / 1000;
    const failed = rs.reduce((a, r) => a + r.failed, 0);
    for (const r of rs) for (const e of r.errors) note(`  connect error: ${e}`);
    const connected = O.idle - failed;
    await sleep(3000);
    const rssFresh = await sample();
    // Idle means idle for a while: the connect burst leaves garbage that the
    // node's first heartbeats (every 30 s) allocate enough to collect.
    await sleep(O.idleSettleS * 1000);
    const rss1 = await sample();
    const mem1 = await server.mem();
    const res: IdleResult = {
      perConn: (rss1 - rss0) / connected,
      perConnFresh: (rssFresh - rss0) / connected,
      connectsPerSec: connected / secs,
      connected,
      connectLat: summarize(mergeHistograms(rs.map((r) => r.hist))),
    };
    note(
      `idle ${kind}: ${connected} of ${O.idle} connected by ${nd} drivers in ${secs.toFixed(1)} s (${Math.round(res.connectsPerSec)}/s, connect ${fmtLat(res.connectLat)}); RSS ${(rss0 / 2 ** 20).toFixed(0)} → ${(rssFresh / 2 ** 20).toFixed(0)} MiB 3 s later (${(res.perConnFresh / 1024).toFixed(2)} KiB per connection) → ${(rss1 / 2 ** 20).toFixed(0)} MiB after ${O.idleSettleS} s idle, ${(res.perConn / 1024).toFixed(2)} KiB per connection`,
    );
    if (mem0 !== null && mem1 !== null) {
      const per = (bytes: number): string => (bytes / connected / 1024).toFixed(2);
      const heaps = mem1.mainHeap - mem0.mainHeap + (mem1.workerHeap - mem0.workerHeap) + (mem1.external - mem0.external);
      note(
        `  per connection: main-thread heap ${per(mem1.mainHeap - mem0.mainHeap)} KiB, scheduler-thread heaps ${per(mem1.workerHeap - mem0.workerHeap)} KiB, ` +
          `external ${per(mem1.external - mem0.external)} KiB, the rest of the RSS delta (native: sockets, LevelDB, allocator) ${per(rss1 - rss0 - heaps)} KiB; ` +
          `actors ${mem0.actors} → ${mem1.actors}`,
      );
    }
    return res;
  } finally {
    await stopDrivers(ds);
    await server.stop();
  }
}

async function drainPhase(): Promise<number> {
  await waitQuiet('drain');
  const server = await startServer('node');
  const ds = await startDrivers(1, server.url);
  try {
    const r = await ds[0]!.rpc<DriverReply & { ms: number; readyMs: number; got: number; fillMs: number }>({ cmd: 'drain', sender: 'dsender', receiver: 'dreceiver', count: O.drain });
    note(`drain: ${r.got} of ${O.drain} queued messages received in ${r.ms.toFixed(0)} ms after reconnecting (ready after ${r.readyMs.toFixed(0)} ms; queueing them took ${r.fillMs.toFixed(0)} ms)`);
    if (r.got < O.drain) throw new Error(`drain: only ${r.got} of ${O.drain} messages arrived`);
    return r.ms;
  } finally {
    await stopDrivers(ds);
    await server.stop();
  }
}

// ---- the runs ------------------------------------------------------------------------------

interface Run {
  sat?: { node: LoadResult; relay: LoadResult };
  paced?: { node: LoadResult; relay: LoadResult };
  low?: { node: LoadResult; relay: LoadResult };
  group?: { node: LoadResult; relay: LoadResult };
  idle?: { node: IdleResult; relay: IdleResult };
  drain?: number;
}

note(
  `load: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}; ${O.users} users, ${O.senders} senders, window ${O.window}, 100-byte bodies, ` +
    `warm-up ${O.warmupS} s + ${O.measureS} s measured; ${O.workers} scheduler threads, durability ${O.durability}; ${O.drivers} driver process(es); ${O.runs} run(s)`,
);
const runs: Run[] = [];
for (let i = 0; i < O.runs; i++) {
  note(`run ${i + 1} of ${O.runs}`);
  const r: Run = {};
  const one = (kind: 'node' | 'relay', mode: 'window' | 'rate', rate = O.rate): Promise<LoadResult> =>
    undisturbed(`${mode === 'window' ? 'saturation' : `paced ${rate}/s`} ${kind}`, () => oneToOne(kind, mode, rate));
  const grp = (kind: 'node' | 'relay'): Promise<LoadResult> => undisturbed(`group ${kind}`, () => group(kind));
  if (O.only.has('sat')) r.sat = { node: await one('node', 'window'), relay: await one('relay', 'window') };
  if (O.only.has('paced')) r.paced = { node: await one('node', 'rate'), relay: await one('relay', 'rate') };
  // Below the node's capacity too, so its latency when it keeps up is known.
  if (O.only.has('paced') && O.lowRate > 0) r.low = { node: await one('node', 'rate', O.lowRate), relay: await one('relay', 'rate', O.lowRate) };
  if (O.only.has('group')) r.group = { node: await grp('node'), relay: await grp('relay') };
  if (O.only.has('idle')) r.idle = { node: await idle('node'), relay: await idle('relay') };
  if (O.only.has('drain')) r.drain = await drainPhase();
  runs.push(r);
}

const med = <T>(pick: (r: Run) => T | undefined, f: (x: T) => number): number => median(runs.map(pick).filter((x): x is T => x !== undefined).map(f));

if (O.only.has('sat')) {
  const n = med((r) => r.sat?.node, (x) => x.perSec);
  const b = med((r) => r.sat?.relay, (x) => x.perSec);
  report({ name: 'load.1to1 delivered (durable, receipts)', value: n, unit: 'msg/s', baseline: b, baselineName: 'raw ws relay', goal: '>= 0.5 of relay' });
  for (const p of ['p50', 'p90', 'p99'] as const) {
    report({ name: `load.1to1 e2e ${p} at saturation`, value: med((r) => r.sat?.node, (x) => x.e2e[p]), unit: 'ms', baseline: med((r) => r.sat?.relay, (x) => x.e2e[p]), baselineName: 'raw ws relay' });
  }
}
if (O.only.has('paced')) {
  for (const p of ['p50', 'p90', 'p99'] as const) {
    report({
      name: `load.1to1 e2e ${p} at ${O.rate / 1000}k msg/s`,
      value: med((r) => r.paced?.node, (x) => x.e2e[p]),
      unit: 'ms',
      baseline: med((r) => r.paced?.relay, (x) => x.e2e[p]),
      baselineName: 'raw ws relay',
      ...(p === 'p99' ? { goal: '<= 10 ms' } : {}),
    });
  }
}
if (O.only.has('paced') && O.lowRate > 0) {
  for (const p of ['p50', 'p99'] as const) {
    report({
      name: `load.1to1 e2e ${p} at ${O.lowRate / 1000}k msg/s`,
      value: med((r) => r.low?.node, (x) => x.e2e[p]),
      unit: 'ms',
      baseline: med((r) => r.low?.relay, (x) => x.e2e[p]),
      baselineName: 'raw ws relay',
    });
  }
}
if (O.only.has('group')) {
  report({ name: `load.group${O.group} copies`, value: med((r) => r.group?.node, (x) => x.perSec), unit: 'copies/s', baseline: med((r) => r.group?.relay, (x) => x.perSec), baselineName: 'raw ws relay', goal: '>= 150k/s' });
  report({ name: `load.group${O.group} copy e2e p99`, value: med((r) => r.group?.node, (x) => x.e2e.p99), unit: 'ms', baseline: med((r) => r.group?.relay, (x) => x.e2e.p99), baselineName: 'raw ws relay' });
}
if (O.only.has('idle')) {
  report({
    name: `load.idle RSS per authenticated conn at ${O.idle / 1000}k`,
    value: med((r) => r.idle?.node, (x) => x.perConn / 1024),
    unit: 'KiB',
    baseline: med((r) => r.idle?.relay, (x) => x.perConn / 1024),
    baselineName: 'raw ws relay',
    goal: '<= 10 KB at 50k (20k-open-files cap per process here)',
  });
  report({
    name: `load.idle RSS per conn at ${O.idle / 1000}k, 3 s after connecting`,
    value: med((r) => r.idle?.node, (x) => x.perConnFresh / 1024),
    unit: 'KiB',
    baseline: med((r) => r.idle?.relay, (x) => x.perConnFresh / 1024),
    baselineName: 'raw ws relay',
  });
  report({ name: 'load.connects (connect+auth+ready)', value: med((r) => r.idle?.node, (x) => x.connectsPerSec), unit: 'conn/s', baseline: med((r) => r.idle?.relay, (x) => x.connectsPerSec), baselineName: 'raw ws relay' });
}
if (O.only.has('drain')) {
  report({ name: `load.drain ${O.drain / 1000}k queued to a reconnecting device`, value: med((r) => r.drain, (x) => x), unit: 'ms' });
}
