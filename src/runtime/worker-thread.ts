/**
 * WorkerThread: the actor (on the main thread) that owns one scheduler
 * worker, so that a worker is an ordinary supervised child.
 *
 * - init starts the worker and waits until its modules are loaded (a start
 *   failure is a start failure of this child).
 * - Heartbeat: a ping every `heartbeatMs` (default 1000) while none is
 *   outstanding; a ping unanswered for `hangTimeoutMs` (default 5000) means
 *   the worker is hung (an endless loop, a deadlock on Atomics): it is
 *   terminated and this actor exits with `worker_hung`. A scheduler never
 *   runs longer than its slice between answers, so only a handler that
 *   blocks its thread that long trips it. Pongs are recorded as they arrive,
 *   not through this actor's mailbox, and the clock runs from the ping: when
 *   the main thread itself stalls (a GC pause, a long synchronous task), the
 *   beat timer fires before the queued pongs would be handled, and every
 *   healthy worker would otherwise be taken for hung.
 * - A worker that exits (uncaught error, out of memory under
 *   `resourceLimits`, killed) makes this actor exit with `worker_exit`; its
 *   supervisor restarts it, with the next generation.
 * - terminate('shutdown') stops the worker gracefully: its virtual actors are
 *   passivated (save hooks run), its modules' stop hooks run, then the
 *   thread ends; after `stopTimeoutMs` (default 10 000) it is terminated.
 */
import type { ActorContext, Behaviour } from '../actors/behaviour.js';
import type { ExitReason } from '../actors/exit-reason.js';
import type { Worker } from 'node:worker_threads';
import type { SchedulerPool, WorkerEvent } from './scheduler-pool.js';

export interface WorkerThreadOptions {
  heartbeatMs: number;
  hangTimeoutMs: number;
  stopTimeoutMs: number;
  onCrashReport?: (thread: number, id: string, reason: string) => void;
}

type Msg = WorkerEvent | { t: 'beat' };

export class WorkerThread implements Behaviour<Msg> {
  private worker: Worker | null = null;
  private pingSeq = 0;
  private pongSeq = 0;
  private pingSentAt = 0;
  private stopped: (() => void) | null = null;
  private exited = false;

  constructor(
    private readonly pool: SchedulerPool,
    private readonly k: number,
    private readonly o: WorkerThreadOptions,
  ) {}

  async init(ctx: ActorContext<Msg>): Promise<void> {
    const self = ctx.self;
    this.worker = await this.pool.start(this.k, (e) => {
      if (e.t === 'stopped') this.stopped?.();
      else if (e.t === 'exit') {
        this.exited = true;
        this.stopped?.();
        self.send(e);
      } else if (e.t === 'pong') this.pongSeq = Math.max(this.pongSeq, e.n);
      else if (e.t === 'crash') self.send(e);
    });
    ctx.sendAfter(this.o.heartbeatMs, { t: 'beat' });
  }

  handle(m: Msg, ctx: ActorContext<Msg>): void {
    switch (m.t) {
      case 'beat': {
        const now = Date.now();
        if (this.pongSeq < this.pingSeq) {
          if (now - this.pingSentAt > this.o.hangTimeoutMs) {
            ctx.stop({ error: 'WorkerHung', code: 'worker_hung', message: `scheduler ${this.k} did not answer for ${this.o.hangTimeoutMs} ms` });
            return;
          }
        } else {
          this.pool.post(this.k, { t: 'ping', n: ++this.pingSeq });
          this.pingSentAt = now;
        }
        ctx.sendAfter(this.o.heartbeatMs, { t: 'beat' });
        return;
      }
      case 'crash':
        this.o.onCrashReport?.(this.k, m.id, m.reason);
        return;
      case 'exit':
        ctx.stop({ error: 'WorkerExited', code: 'worker_exit', message: `scheduler ${this.k} exited with code ${m.code}${m.error ? ` (${m.error})` : ''}` });
        return;
    }
  }

  async terminate(reason: ExitReason): Promise<void> {
    const w = this.worker;
    if (w === null) return;
    this.worker = null;
    const graceful = (reason === 'shutdown' || reason === 'normal') && !this.exited;
    if (graceful) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.o.stopTimeoutMs);
        this.stopped = () => {
          clearTimeout(timer);
          resolve();
        };
        if (!this.pool.post(this.k, { t: 'stop', timeoutMs: Math.max(100, this.o.stopTimeoutMs - 1000) })) resolve();
      });
    }
    await this.pool.down(this.k, true);
  }
}
