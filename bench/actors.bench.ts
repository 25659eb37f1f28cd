/**
 * The actor runtime's figures (issue 2, section 6), each beside a baseline
 * measured in the same run. Every figure is the median of PARLEY_BENCH_RUNS
 * runs (default 3); each kind of run is warmed up once first, unmeasured.
 *
 * 1. In-thread send + handle: main-thread code casts to an actor of a Host on
 *    the same thread, 10 000 at a time (each chunk awaited until handled, so
 *    the mailbox stays small). Baseline: the same handler called directly,
 *    in the same chunks.
 * 2. Cross-worker one-way: a virtual actor `src:*` on worker 1 streams
 *    payloads to `sink:*` on worker 2 (ids picked so that their partitions
 *    are owned by those workers) in a Runtime with two scheduler workers.
 *    Timed from the main thread's `run` call until the source has the
 *    sink's last credit. Memory stays bounded by credit-based flow control:
 *    at most 32 768 messages unacknowledged (about 2 MB of payloads), the
 *    sink sends a credit back every 4096 handled. (A smaller window limits
 *    the runtime more than the raw baseline: the credits come back at the
 *    end of the sink's slice, so at 8192 the two workers overlap less; see
 *    docs/benchmarks.md.) Baselines, with the same payloads,
 *    window and credits, between two plain worker threads over one
 *    MessageChannel: arrays of 100 objects per postMessage (structured
 *    clone), and one msgpackr buffer per 100 (the runtime's codec options),
 *    copied out of msgpackr's arena and transferred. Beside the rate, the
 *    CPU time each side's thread spent per message (/proc/thread-self),
 *    against the packed baseline's: a figure the machine's other load
 *    barely moves.
 * 3. Call round trip: p50/p99 of sequential calls and calls/s, sequential
 *    and with 64 in flight. In-thread: main-thread code calls an echo actor
 *    of a Host on the same thread; baseline an awaited plain async function.
 *    Cross-worker: `caller:*` on worker 1 calls `echo:*` on worker 2;
 *    baseline a raw postMessage round trip between two plain worker threads.
 * 4. Activation and memory per idle virtual actor at 100k and 1M actors, each
 *    in a fresh process (see lib/actors-memory.ts); baseline a Map holding an
 *    empty object per id.
 */
import { report, note, median, percentile, repeat } from './lib/report.js';
import { inThreadSend, directCalls, inThreadCalls, asyncFnCalls } from './lib/actors-inthread.js';
import { startActorPair, startRawPair, type StreamTimes } from './lib/actors-cross.js';
import { measureInChild, type MemoryResult } from './lib/actors-memory.js';
import type { CallerResult } from './fixtures/actors-kinds.js';
import type { StreamSpec } from './fixtures/actors-payload.js';

const RUNS = Number(process.env.PARLEY_BENCH_RUNS ?? 3);
const SEND_N = 5_000_000;
const STREAM: StreamSpec = { n: 1_000_000, window: 32_768, credit: 4096 };
const RAW_BATCH = 100;
const SEQ_CALLS = 10_000;
const PIPE_CALLS = 100_000;
const IN_FLIGHT = 64;
const COUNTS = [100_000, 1_000_000];

interface Latency {
  p50: number;
  p99: number;
  perSec: number;
}

function latency(r: CallerResult, k: number): Latency {
  return { p50: percentile(r.lat, 50), p99: percentile(r.lat, 99), perSec: (k / r.totalMs) * 1000 };
}

function med<T>(xs: T[], f: (x: T) => number): number {
  return median(xs.map(f));
}

/** CPU seconds of a stream → µs per message. */
function us(cpuS: number): number {
  return (cpuS * 1e6) / STREAM.n;
}

// ---- 1. in-thread send + handle ---------------------------------------------------

async function inThread(): Promise<void> {
  note(`in-thread send + handle: ${SEND_N} casts, ${RUNS} runs`);
  await inThreadSend(SEND_N / 5);
  await directCalls(SEND_N / 5);
  const runs = await repeat(async () => ({ actor: await inThreadSend(SEND_N), direct: await directCalls(SEND_N) }), RUNS);
  report({
    name: 'actors.in-thread send+handle',
    value: med(runs, (r) => r.actor),
    unit: 'msgs/s',
    baseline: med(runs, (r) => r.direct),
    baselineName: 'handler called directly',
    goal: '>= 5M msgs/s',
  });
}

// ---- 2 and 3 (cross-worker), with the runtime up ------------------------------------

async function crossWorker(): Promise<void> {
  const raw = await startRawPair();
  const pair = await startActorPair();
  try {
    note(`cross-worker one-way: ${STREAM.n} payloads, window ${STREAM.window}, credit every ${STREAM.credit}, ${RUNS} runs`);
    const warm = { ...STREAM, n: STREAM.n / 4 };
    await raw.stream(warm, RAW_BATCH, false);
    await raw.stream(warm, RAW_BATCH, true);
    await pair.stream(warm);
    const runs = await repeat(async () => {
      const objects = await raw.stream(STREAM, RAW_BATCH, false);
      const packed = await raw.stream(STREAM, RAW_BATCH, true);
      const actors = await pair.stream(STREAM);
      const rate = (t: StreamTimes): number => (STREAM.n / t.ms) * 1000;
      const cpu = (t: StreamTimes): string => `CPU ${us(t.senderCpuS).toFixed(2)}+${us(t.receiverCpuS).toFixed(2)} µs/msg`;
      note(`  run: actors ${(rate(actors) / 1e6).toFixed(2)}M/s ${cpu(actors)}; raw objects ${(rate(objects) / 1e6).toFixed(2)}M/s ${cpu(objects)}; raw packed ${(rate(packed) / 1e6).toFixed(2)}M/s ${cpu(packed)}`);
      return { actors, objects, packed };
    }, RUNS);
    const rate = (t: StreamTimes): number => (STREAM.n / t.ms) * 1000;
    const value = med(runs, (r) => rate(r.actors));
    report({
      name: 'actors.cross-worker one-way',
      value,
      unit: 'msgs/s',
      baseline: med(runs, (r) => rate(r.objects)),
      baselineName: `raw postMessage, ${RAW_BATCH} objects each`,
      goal: '>= 0.70 of raw',
    });
    report({
      name: 'actors.cross-worker one-way (vs packed)',
      value,
      unit: 'msgs/s',
      baseline: med(runs, (r) => rate(r.packed)),
      baselineName: `raw postMessage, ${RAW_BATCH} msgpackr-packed, transferred`,
      goal: '>= 0.70 of raw',
    });
    // CPU time per message of each side's thread: what the wall-clock rate
    // costs, and much less sensitive to other load on the machine.
    report({
      name: 'actors.cross-worker sender CPU',
      value: med(runs, (r) => us(r.actors.senderCpuS)),
      unit: 'µs/msg',
      baseline: med(runs, (r) => us(r.packed.senderCpuS)),
      baselineName: 'raw packed sender',
    });
    report({
      name: 'actors.cross-worker receiver CPU',
      value: med(runs, (r) => us(r.actors.receiverCpuS)),
      unit: 'µs/msg',
      baseline: med(runs, (r) => us(r.packed.receiverCpuS)),
      baselineName: 'raw packed receiver',
    });

    note(`in-thread calls: ${SEQ_CALLS} sequential, ${PIPE_CALLS} with ${IN_FLIGHT} in flight, ${RUNS} runs`);
    const inSeq = await repeat(async () => ({ actor: latency(await inThreadCalls(SEQ_CALLS, 1), SEQ_CALLS), fn: latency(await asyncFnCalls(SEQ_CALLS, 1), SEQ_CALLS) }), RUNS);
    const inPipe = await repeat(async () => ({ actor: latency(await inThreadCalls(PIPE_CALLS, IN_FLIGHT), PIPE_CALLS), fn: latency(await asyncFnCalls(PIPE_CALLS, IN_FLIGHT), PIPE_CALLS) }), RUNS);
    reportCalls('in-thread', inSeq, inPipe, 'async function');

    note(`cross-worker calls: ${SEQ_CALLS} sequential, ${PIPE_CALLS} with ${IN_FLIGHT} in flight, ${RUNS} runs`);
    await raw.ping(SEQ_CALLS / 5, 1);
    await pair.calls(SEQ_CALLS / 5, 1);
    const xSeq = await repeat(async () => ({ actor: latency(await pair.calls(SEQ_CALLS, 1), SEQ_CALLS), fn: latency(await raw.ping(SEQ_CALLS, 1), SEQ_CALLS) }), RUNS);
    const xPipe = await repeat(async () => ({ actor: latency(await pair.calls(PIPE_CALLS, IN_FLIGHT), PIPE_CALLS), fn: latency(await raw.ping(PIPE_CALLS, IN_FLIGHT), PIPE_CALLS) }), RUNS);
    reportCalls('cross-worker', xSeq, xPipe, 'raw postMessage round trip');
  } finally {
    await raw.stop();
    const t = performance.now();
    await pair.stop();
    note(`runtime stopped in ${(performance.now() - t).toFixed(0)} ms`);
  }
}

function reportCalls(where: string, seq: Array<{ actor: Latency; fn: Latency }>, pipe: Array<{ actor: Latency; fn: Latency }>, baselineName: string): void {
  for (const p of ['p50', 'p99'] as const) {
    report({ name: `actors.call ${where} ${p}`, value: med(seq, (r) => r.actor[p]), unit: 'µs', baseline: med(seq, (r) => r.fn[p]), baselineName });
  }
  report({ name: `actors.call ${where} sequential`, value: med(seq, (r) => r.actor.perSec), unit: 'calls/s', baseline: med(seq, (r) => r.fn.perSec), baselineName });
  report({ name: `actors.call ${where} ${IN_FLIGHT} in flight`, value: med(pipe, (r) => r.actor.perSec), unit: 'calls/s', baseline: med(pipe, (r) => r.fn.perSec), baselineName });
}

// ---- 4. activation and memory -----------------------------------------------------------

async function memory(): Promise<void> {
  for (const count of COUNTS) {
    note(`activation and memory at ${count} actors: ${RUNS} runs, a fresh process each`);
    const runs = await repeat(async () => {
      const map = await measureInChild('map', count);
      const actors = await measureInChild('actors', count);
      note(`  run: ${actors.usEach.toFixed(2)} µs/activation, heap ${actors.heapEach.toFixed(0)} B (${actors.heapEachBusy?.toFixed(0)} B before mailbox release), RSS ${actors.rssEach.toFixed(0)} B each`);
      return { map, actors };
    }, RUNS);
    const k = count >= 1e6 ? `${count / 1e6}M` : `${count / 1e3}k`;
    const fig = (f: (m: MemoryResult) => number) => ({ value: med(runs, (r) => f(r.actors)), baseline: med(runs, (r) => f(r.map)) });
    report({ name: `actors.activation @${k}`, ...fig((m) => m.usEach), unit: 'µs each', baselineName: 'Map.set of an empty object' });
    report({ name: `actors.idle memory heap @${k}`, ...fig((m) => m.heapEach), unit: 'B each', baselineName: 'Map entry, empty object', goal: '<= 1024 B' });
    report({ name: `actors.idle memory RSS @${k}`, ...fig((m) => m.rssEach), unit: 'B each', baselineName: 'Map entry, empty object', goal: '<= 1024 B' });
  }
}

const t0 = performance.now();
await inThread();
await crossWorker();
await memory();
note(`actors bench done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
