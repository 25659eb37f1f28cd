/**
 * Cross-thread measurements for bench/actors.bench.ts: the runtime (two
 * scheduler workers, virtual actors placed by partition) and the raw
 * baseline (two plain worker threads and a MessageChannel).
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { Runtime } from '../../src/runtime/index.js';
import type { CallerMsg, CallerResult, SinkMsg, SourceMsg, StreamResult } from '../fixtures/actors-kinds.js';
import type { FromRawPeer, ToRawPeer } from '../fixtures/actors-raw-peer.js';
import type { StreamSpec } from '../fixtures/actors-payload.js';

const fixtures = new URL('../fixtures/', import.meta.url);

/** One stream: wall time, and the CPU time of the sending and the receiving thread. */
export interface StreamTimes {
  ms: number;
  senderCpuS: number;
  receiverCpuS: number;
}

// ---- the runtime -----------------------------------------------------------------

export interface ActorPair {
  rt: Runtime;
  /** Ids whose partitions live on worker 1 and worker 2. */
  on1: (kind: string) => string;
  on2: (kind: string) => string;
  /** Streams `spec.n` payloads from a `src` on worker 1 to a `sink` on worker 2, timed until all are handled and credited. */
  stream(spec: StreamSpec): Promise<StreamTimes>;
  /** `k` calls from a `caller` on worker 1 to an `echo` on worker 2. */
  calls(k: number, concurrency: number): Promise<CallerResult>;
  stop(): Promise<void>;
}

export async function startActorPair(): Promise<ActorPair> {
  // stopTimeoutMs bounds `stop()`: it waits up to twice that for the root
  // supervisor to exit before it terminates the workers.
  const rt = await Runtime.start({ node: 'bench', workers: 2, stopTimeoutMs: 2000, modules: [new URL('actors-kinds.ts', fixtures)] });
  const pick = (kind: string, thread: number): string => {
    for (let i = 0; ; i++) {
      const id = `${kind}:${i}`;
      if (rt.ownerOf(rt.ref(id).partition) === thread) return id;
    }
  };
  const src = rt.ref<SourceMsg>(pick('src', 1));
  const sink = rt.ref<SinkMsg>(pick('sink', 2));
  const caller = rt.ref<CallerMsg>(pick('caller', 1));
  const echo = pick('echo', 2);
  return {
    rt,
    on1: (kind) => pick(kind, 1),
    on2: (kind) => pick(kind, 2),
    async stream(spec) {
      await sink.call({ start: { ...spec, from: src.id } });
      const t0 = performance.now();
      const r = await src.call<StreamResult>({ run: { ...spec, to: sink.id } }, { timeout: 120_000 });
      const ms = performance.now() - t0;
      if (r.acked !== spec.n) throw new Error(`stream ended at ${r.acked} of ${spec.n}`);
      return { ms, senderCpuS: r.sourceCpu, receiverCpuS: r.sinkCpu };
    },
    calls(k, concurrency) {
      return caller.call<CallerResult>({ to: echo, k, concurrency }, { timeout: 120_000 });
    },
    stop: () => rt.stop(),
  };
}

// ---- the raw baseline ----------------------------------------------------------------

export interface RawPair {
  /** Timed from `send` until the receiver has handled all `spec.n`. */
  stream(spec: StreamSpec, batch: number, packed: boolean): Promise<StreamTimes>;
  ping(k: number, concurrency: number): Promise<CallerResult>;
  stop(): Promise<void>;
}

function startPeer(): Worker {
  return new Worker(new URL('actors-tsx-worker.mjs', fixtures), {
    workerData: { entry: new URL('actors-raw-peer.ts', fixtures).href },
    name: 'bench-raw-peer',
  });
}

function next(w: Worker, t: FromRawPeer['t']): Promise<FromRawPeer> {
  return new Promise((resolve, reject) => {
    const on = (m: FromRawPeer): void => {
      if (m.t !== t) return;
      w.off('message', on);
      w.off('error', reject);
      resolve(m);
    };
    w.on('message', on);
    w.once('error', reject);
  });
}

function post(w: Worker, m: ToRawPeer, transfer?: Array<import('node:worker_threads').MessagePort>): void {
  w.postMessage(m, transfer);
}

export async function startRawPair(): Promise<RawPair> {
  const a = startPeer();
  const b = startPeer();
  const ch = new MessageChannel();
  const ready = Promise.all([next(a, 'ready'), next(b, 'ready')]);
  post(a, { t: 'port', port: ch.port1 }, [ch.port1]);
  post(b, { t: 'port', port: ch.port2 }, [ch.port2]);
  await ready;
  return {
    async stream(spec, batch, packed) {
      const r = next(b, 'ready');
      post(b, { t: 'expect', n: spec.n, credit: spec.credit, packed });
      await r;
      const done = next(b, 'done');
      const sent = next(a, 'sent');
      const t0 = performance.now();
      post(a, { t: 'send', n: spec.n, batch, window: spec.window, packed });
      const d = (await done) as Extract<FromRawPeer, { t: 'done' }>;
      const ms = performance.now() - t0;
      const s = (await sent) as Extract<FromRawPeer, { t: 'sent' }>;
      return { ms, senderCpuS: s.cpu, receiverCpuS: d.cpu };
    },
    async ping(k, concurrency) {
      const r = next(a, 'pinged');
      post(a, { t: 'ping', k, concurrency });
      const m = (await r) as Extract<FromRawPeer, { t: 'pinged' }>;
      return { lat: m.lat, totalMs: m.totalMs };
    },
    async stop() {
      await Promise.all([a.terminate(), b.terminate()]);
    },
  };
}
