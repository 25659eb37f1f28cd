/**
 * SchedulerPool: the worker threads of a node and the channels between them.
 *
 * Threads are numbered: 0 is the main thread, 1..N the schedulers. Partition
 * p is owned by thread 1 + (p mod N) (by the main thread when N = 0). Every
 * pair of threads has its own MessageChannel; when worker k is (re)started it
 * gets a fresh channel to the main thread and to every other live worker, and
 * those are told to use it. Each start bumps k's generation, so replies and
 * pinned refs meant for the dead thread are recognised and dropped. Workers
 * get the main process's `execArgv` without the flags a worker refuses
 * (V8 and process-wide ones, see worker-argv.ts).
 *
 * Scheduler threads are plain `worker_threads`, not a piscina pool: piscina
 * routes each task to any idle worker (no affinity) and, with atomics,
 * parks a worker's event loop between tasks; an actor's state must stay on
 * one thread whose event loop is always running. See docs/architecture.md.
 */
import { MessageChannel, Worker, type ResourceLimits } from 'node:worker_threads';
import type { Host } from '../actors/host.js';
import type { ThreadTransport } from '../transport/thread-link.js';
import type { LinkFaultConfig } from '../transport/link-faults.js';
import type { FromWorker, ThreadStats, ToWorker, WorkerInit } from './control.js';
import { ParleyError } from '../actors/errors.js';
import { workerExecArgv } from './worker-argv.js';

export interface PoolConfig {
  node: string;
  workers: number;
  partitions: number;
  modules: string[];
  moduleConfig: unknown;
  throughput: number;
  sliceMs: number;
  sweepMs: number;
  startTimeoutMs: number;
  resourceLimits?: ResourceLimits;
}

export type WorkerEvent = { t: 'exit'; code: number; error: string | null } | FromWorker;

const here = import.meta.url;
const fromSource = here.endsWith('.ts');

/** The partition table: partition → owning thread. */
export function defaultTable(partitions: number, workers: number): number[] {
  return Array.from({ length: partitions }, (_, p) => (workers === 0 ? 0 : 1 + (p % workers)));
}

export class SchedulerPool {
  readonly table: number[];
  private readonly workers: Array<Worker | null>;
  private readonly generations: number[];
  private linkFaults: LinkFaultConfig | null = null;
  private statsSeq = 0;

  constructor(
    readonly cfg: PoolConfig,
    private readonly mainHost: Host,
    private readonly mainTransport: ThreadTransport,
  ) {
    this.table = defaultTable(cfg.partitions, cfg.workers);
    this.workers = new Array(cfg.workers + 1).fill(null);
    this.generations = new Array(cfg.workers + 1).fill(0);
  }

  get size(): number {
    return this.cfg.workers;
  }

  generation(thread: number): number {
    return this.generations[thread] ?? 0;
  }

  worker(thread: number): Worker | null {
    return this.workers[thread] ?? null;
  }

  /**
   * Starts worker `k` and resolves once its modules are loaded. `onEvent`
   * receives its control messages and its exit.
   */
  async start(k: number, onEvent: (e: WorkerEvent) => void): Promise<Worker> {
    const gen = ++this.generations[k]!;
    const ports: WorkerInit['ports'] = {};
    const transfer: import('node:worker_threads').MessagePort[] = [];
    for (let j = 0; j < this.workers.length; j++) {
      if (j === k || (j !== 0 && this.workers[j] === null)) continue;
      const ch = new MessageChannel();
      ports[j] = ch.port2;
      transfer.push(ch.port2);
      if (j === 0) this.mainTransport.addPeer(k, ch.port1);
      else this.workers[j]!.postMessage({ t: 'peer', thread: k, port: ch.port1 } satisfies ToWorker, [ch.port1]);
    }
    const init: WorkerInit = {
      node: this.cfg.node,
      thread: k,
      generation: gen,
      partitions: this.cfg.partitions,
      table: this.table,
      modules: this.cfg.modules,
      config: this.cfg.moduleConfig,
      ports,
      throughput: this.cfg.throughput,
      sliceMs: this.cfg.sliceMs,
      sweepMs: this.cfg.sweepMs,
      linkFaults: this.linkFaults,
      ...(fromSource ? { entry: new URL('./worker-entry.ts', here).href } : {}),
    };
    const script = fromSource ? new URL('./tsx-worker.mjs', here) : new URL('./worker-entry.js', here);
    const w = new Worker(script, {
      workerData: init,
      transferList: transfer,
      name: `parley-scheduler-${k}`,
      // The main process's flags, minus V8 and process-wide ones, which a worker refuses.
      execArgv: workerExecArgv(process.execArgv),
      ...(this.cfg.resourceLimits ? { resourceLimits: this.cfg.resourceLimits } : {}),
    });
    this.workers[k] = w;
    let lastError: string | null = null;
    w.on('error', (e) => {
      lastError = `${(e as { code?: string }).code ?? e.name}: ${e.message}`;
    });
    w.on('exit', (code) => onEvent({ t: 'exit', code, error: lastError }));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        w.off('message', first);
        reject(new ParleyError('start_timeout', `scheduler ${k} did not start within ${this.cfg.startTimeoutMs} ms`));
      }, this.cfg.startTimeoutMs);
      const first = (m: FromWorker): void => {
        if (m.t !== 'ready' && m.t !== 'start_failed') return;
        clearTimeout(timer);
        w.off('message', first);
        if (m.t === 'ready') resolve();
        else reject(new ParleyError('start_failed', `scheduler ${k} failed to start: ${m.message}`));
      };
      w.on('message', first);
      w.once('exit', (code) => {
        clearTimeout(timer);
        reject(new ParleyError('start_failed', `scheduler ${k} exited with code ${code} while starting${lastError ? `: ${lastError}` : ''}`));
      });
    }).catch(async (e) => {
      await this.down(k, true);
      throw e;
    });
    w.on('message', (m: FromWorker) => onEvent(m));
    return w;
  }

  /**
   * Worker `k` is gone (or going): everyone forgets its port and fires
   * `noconnection` for links, monitors and calls into it.
   */
  async down(k: number, terminate: boolean): Promise<void> {
    const w = this.workers[k];
    this.workers[k] = null;
    if (w !== null && w !== undefined) {
      w.removeAllListeners('message');
      if (terminate) await w.terminate();
    }
    this.mainTransport.peerDown(k);
    this.mainHost.threadDown(k);
    for (let j = 1; j < this.workers.length; j++) {
      this.workers[j]?.postMessage({ t: 'peer_down', thread: k } satisfies ToWorker);
    }
  }

  post(k: number, m: ToWorker): boolean {
    const w = this.workers[k];
    if (w === null || w === undefined) return false;
    w.postMessage(m);
    return true;
  }

  setLinkFaults(c: LinkFaultConfig | null): void {
    this.linkFaults = c;
    this.mainTransport.setFaults(c);
    for (let j = 1; j < this.workers.length; j++) this.post(j, { t: 'faults', link: c });
  }

  /** Stats of every live worker (a worker that does not answer in 2 s is left out). */
  async stats(): Promise<ThreadStats[]> {
    const out: ThreadStats[] = [];
    await Promise.all(
      this.workers.map((w, k) => {
        if (k === 0 || w === null) return undefined;
        const n = ++this.statsSeq;
        return new Promise<void>((resolve) => {
          const timer = setTimeout(done, 2000);
          function on(m: FromWorker): void {
            if (m.t === 'stats' && m.n === n) {
              out.push(m.stats);
              done();
            }
          }
          function done(): void {
            clearTimeout(timer);
            w!.off('message', on);
            resolve();
          }
          w.on('message', on);
          w.postMessage({ t: 'stats', n } satisfies ToWorker);
        });
      }),
    );
    return out.sort((a, b) => a.thread - b.thread);
  }
}
