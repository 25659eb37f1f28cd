/**
 * Runtime: one node's actor system — the main thread's Host, N scheduler
 * worker threads, and the supervision tree that keeps them running.
 *
 * ```
 * root (one_for_one)
 * ├── schedulers (one_for_one, intensity 10 in 10 s)
 * │   ├── scheduler-1   WorkerThread → worker thread 1
 * │   └── scheduler-N
 * └── …children given in `children` (store, gateway, …), started in order after the schedulers
 * ```
 *
 * Defaults: `workers` = available cores, `partitions` 256, heartbeat 1000 ms,
 * hang timeout 5000 ms, restart intensity 10 restarts per 10 000 ms for
 * schedulers (OTP's 1 in 5 s would give up on the second fault a test
 * injects), root 1 in 5000 ms. When the root gives up, `down` fires: the
 * node cannot heal itself any more and the process should exit.
 *
 * Nothing is global: two runtimes in one process are independent (tests do
 * this); they only need different node names.
 */
import os from 'node:os';
import { EventEmitter } from 'node:events';
import type { ResourceLimits } from 'node:worker_threads';
import { Host, type HostStats } from '../actors/host.js';
import { ActorRef } from '../actors/ref.js';
import type { ActorContext, Behaviour, SpawnOptions } from '../actors/behaviour.js';
import { ConfigError } from '../actors/errors.js';
import { formatReason, type ExitReason } from '../actors/exit-reason.js';
import { ThreadTransport } from '../transport/thread-link.js';
import { supervisor, type SupervisorEvent } from '../supervisor/supervisor.js';
import type { ChildSpec } from '../supervisor/spec.js';
import { SchedulerPool } from './scheduler-pool.js';
import { WorkerThread } from './worker-thread.js';
import { loadThreadModules } from './thread-module.js';
import { FaultHooks } from './faults.js';
import type { ThreadStats } from './control.js';

export interface RuntimeOptions {
  /** Node name, used in refs and logs; default `parley@<hostname>`. */
  node?: string;
  /** Scheduler worker threads; default os.availableParallelism(). 0 runs every actor on the main thread. */
  workers?: number;
  /** Partitions (fixed for a deployment); default 256. */
  partitions?: number;
  /** Thread modules (file URLs or paths) that define virtual actor kinds; see thread-module.ts. */
  modules?: Array<string | URL>;
  /** Passed to every thread module's setup (must be structured-cloneable). */
  moduleConfig?: unknown;
  /** Messages an actor handles per turn; default 300. */
  throughput?: number;
  /** Scheduler slice before yielding to the event loop, ms; default 4. */
  sliceMs?: number;
  /** How often idle virtual actors are looked for, ms; default 1000. */
  sweepMs?: number;
  heartbeatMs?: number;
  hangTimeoutMs?: number;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
  /** Limits for each worker (heap sizes); a worker over them is restarted. */
  resourceLimits?: ResourceLimits;
  /** Restart intensity of the schedulers supervisor; default 10 in 10 000 ms. */
  schedulerRestarts?: { intensity: number; period: number };
  /** More children for the root supervisor, started after the schedulers. */
  children?: ChildSpec[];
  /** Enables the fault hooks (`runtime.faults`); default false. */
  faults?: boolean;
  /** Where crash and supervisor reports go; default: one line each on stderr. */
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export interface RuntimeStats {
  node: string;
  threads: Array<HostStats | ThreadStats>;
  totals: { actors: number; processed: number; deadLetters: number; crashes: number };
}

const defaultLog: NonNullable<RuntimeOptions['log']> = (level, msg, fields) => {
  if (level === 'info') return;
  process.stderr.write(`${new Date().toISOString()} ${level} ${msg}${fields ? ' ' + JSON.stringify(fields) : ''}\n`);
};

function positiveInt(name: string, v: unknown, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || (v as number) < min) throw new ConfigError(`invalid_${name}`, `${name} must be an integer >= ${min}, got ${String(v)}`);
  return v as number;
}

function moduleHref(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (/^[a-z]+:/.test(m)) return m;
  return new URL(m, `file://${process.cwd()}/`).href;
}

export class Runtime extends EventEmitter {
  readonly host: Host;
  readonly node: string;
  readonly faults: FaultHooks;
  private readonly pool: SchedulerPool;
  private readonly transport: ThreadTransport;
  private rootRef: ActorRef | null = null;
  private keeper: ActorRef | null = null;
  private mainStops: Array<() => void | Promise<void>> = [];
  private stopped = false;
  readonly log: NonNullable<RuntimeOptions['log']>;

  private constructor(private readonly o: RuntimeOptions, workers: number, partitions: number) {
    super();
    this.node = o.node ?? `parley@${os.hostname()}`;
    this.log = o.log ?? defaultLog;
    this.host = new Host({
      node: this.node,
      thread: 0,
      generation: 1,
      partitions,
      throughput: positiveInt('throughput', o.throughput, 300),
      sliceMs: o.sliceMs ?? 4,
      sweepMs: o.sweepMs ?? 1000,
    });
    this.transport = new ThreadTransport(this.host);
    this.host.setTransport(this.transport);
    this.pool = new SchedulerPool(
      {
        node: this.node,
        workers,
        partitions,
        modules: (o.modules ?? []).map(moduleHref),
        moduleConfig: o.moduleConfig ?? null,
        throughput: positiveInt('throughput', o.throughput, 300),
        sliceMs: o.sliceMs ?? 4,
        sweepMs: o.sweepMs ?? 1000,
        startTimeoutMs: positiveInt('startTimeoutMs', o.startTimeoutMs, 30_000),
        ...(o.resourceLimits ? { resourceLimits: o.resourceLimits } : {}),
      },
      this.host,
      this.transport,
    );
    this.host.setTable(this.pool.table);
    this.host.onCrash((id, reason) => this.log('warn', `actor ${id} crashed: ${formatReason(reason)}`, { thread: 0 }));
    this.faults = new FaultHooks(o.faults === true, this.host, this.pool);
  }

  /** Starts the schedulers and the supervision tree; resolves when all have started. */
  static async start(o: RuntimeOptions = {}): Promise<Runtime> {
    const workers = positiveInt('workers', o.workers, os.availableParallelism(), 0);
    const partitions = positiveInt('partitions', o.partitions, 256);
    const rt = new Runtime(o, workers, partitions);
    try {
      await rt.boot(workers);
    } catch (e) {
      await rt.stop().catch(() => undefined);
      throw e;
    }
    return rt;
  }

  private async boot(workers: number): Promise<void> {
    const o = this.o;
    if (workers === 0) {
      const owned = Array.from({ length: this.host.partitions }, (_, p) => p);
      this.mainStops = await loadThreadModules(this.pool.cfg.modules, {
        node: this.node, thread: 0, generation: 1, partitions: this.host.partitions, owned, config: o.moduleConfig ?? null, host: this.host,
      });
    }
    const wt = {
      heartbeatMs: positiveInt('heartbeatMs', o.heartbeatMs, 1000),
      hangTimeoutMs: positiveInt('hangTimeoutMs', o.hangTimeoutMs, 5000),
      stopTimeoutMs: positiveInt('stopTimeoutMs', o.stopTimeoutMs, 10_000),
      onCrashReport: (thread: number, id: string, reason: string) => this.log('warn', `actor ${id} crashed: ${reason}`, { thread }),
    };
    const report = (e: SupervisorEvent): void => {
      if (e.event === 'child_restarted') this.emit('restart', e.child);
      this.log(e.event === 'child_exited' || e.event === 'child_restarted' ? 'info' : 'warn', `supervisor ${e.event}`, e as unknown as Record<string, unknown>);
    };
    const r = o.schedulerRestarts ?? { intensity: 10, period: 10_000 };
    const schedulers: ChildSpec = {
      id: 'schedulers',
      type: 'supervisor',
      start: () =>
        supervisor(
          {
            strategy: 'one_for_one',
            intensity: r.intensity,
            period: r.period,
            children: Array.from({ length: workers }, (_, i) => ({
              id: `scheduler-${i + 1}`,
              start: () => new WorkerThread(this.pool, i + 1, wt),
              shutdown: 'infinity' as const,
            })),
          },
          { report },
        ),
    };
    const rootSpec = { strategy: 'one_for_one' as const, intensity: 1, period: 5000, children: [schedulers, ...(o.children ?? [])] };
    // The keeper links to the root and traps its exit: when the root gives
    // up, the node can no longer heal itself and says so with `down`.
    let rootReady!: (r: ActorRef) => void;
    let rootFailed!: (e: unknown) => void;
    const ready = new Promise<ActorRef>((res, rej) => ((rootReady = res), (rootFailed = rej)));
    const keeper: Behaviour<'stop'> = {
      init: async (ctx: ActorContext) => {
        ctx.trapExits(true);
        ctx
          .spawn(supervisor(rootSpec, { report }), { link: true, name: 'root' })
          .then(rootReady, rootFailed);
      },
      handle: () => undefined,
      info: (sig) => {
        if (sig.type === 'exit' && !this.stopped) {
          this.log('error', `root supervisor exited: ${formatReason(sig.reason)}`);
          this.emit('down', sig.reason);
        }
      },
    };
    this.keeper = await this.host.spawn(keeper, { name: 'keeper' });
    this.rootRef = await ready;
  }

  get workers(): number {
    return this.pool.size;
  }

  /** The root supervisor (for `Supervisor.whichChildren` and the like). */
  get root(): ActorRef {
    if (this.rootRef === null) throw new ConfigError('not_started', 'the runtime has not started');
    return this.rootRef;
  }

  /** A ref to a virtual actor, usable from outside any actor. */
  ref<T = unknown>(id: string): ActorRef<T> {
    return this.host.ref<T>(id);
  }

  /** Spawns an actor on the main thread. */
  spawn<T>(b: Behaviour<T>, o?: SpawnOptions): Promise<ActorRef<T>> {
    return this.host.spawn(b, o);
  }

  /** The thread that owns `partition` (0 is the main thread). */
  ownerOf(partition: number): number {
    return this.host.ownerOf(partition);
  }

  generation(thread: number): number {
    return thread === 0 ? 1 : this.pool.generation(thread);
  }

  async stats(): Promise<RuntimeStats> {
    const threads: Array<HostStats | ThreadStats> = [this.host.getStats(), ...(await this.pool.stats())];
    const totals = { actors: 0, processed: 0, deadLetters: 0, crashes: 0 };
    for (const t of threads) {
      totals.actors += t.actors;
      totals.processed += t.processed;
      totals.crashes += t.crashes;
      for (const v of Object.values(t.deadLetters)) totals.deadLetters += v;
    }
    return { node: this.node, threads, totals };
  }

  /**
   * Stops the node: the root supervisor stops its children in reverse order
   * (workers passivate their actors, run their modules' stop hooks and end),
   * then the main thread's own actors. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const root = this.rootRef;
    if (root !== null && this.keeper !== null) {
      const keeperCell = this.host;
      await new Promise<ExitReason | 'timeout'>((resolve) => {
        // Ask the root to stop, and wait (bounded) until it has.
        const watcher: Behaviour = {
          init: (ctx) => {
            const done = ctx.waitExit(root, (this.o.stopTimeoutMs ?? 10_000) * 2);
            ctx.exit(root, 'shutdown');
            void done.then(resolve);
          },
          handle: () => undefined,
        };
        keeperCell.spawn(watcher, { name: 'stopper' }).catch(() => resolve('timeout'));
      });
    }
    await this.host.shutdown(this.o.stopTimeoutMs ?? 5000);
    for (const s of this.mainStops.reverse()) await s();
    for (let k = 1; k <= this.pool.size; k++) {
      if (this.pool.worker(k) !== null) await this.pool.down(k, true);
      this.transport.removePeer(k);
    }
  }
}
