/**
 * Fault hooks: a running node can be told to hurt itself, so that tests and
 * the fault-injection harness can show that nothing is lost when it does.
 *
 * Off unless the runtime was started with `faults: true`; every hook then
 * throws `faults_disabled`, so a production node cannot be hurt by mistake.
 *
 * | hook                    | what happens                                                        |
 * |-------------------------|---------------------------------------------------------------------|
 * | `crashActor(id or ref)` | the actor crashes as if its handler threw (`injected_crash`)        |
 * | `killWorker(k)`         | scheduler k is terminated at once (like kill -9 of a thread)        |
 * | `crashWorker(k)`        | scheduler k throws an uncaught error                                |
 * | `hangWorker(k)`         | scheduler k spins for ever; the heartbeat finds it and restarts it  |
 * | `linkFaults(cfg)`       | batches between threads are dropped, duplicated or delayed (FIFO)   |
 *
 * Disk faults belong to the store and are injected through it.
 */
import type { Host } from '../actors/host.js';
import type { ActorRef } from '../actors/ref.js';
import { ConfigError } from '../actors/errors.js';
import type { SchedulerPool } from './scheduler-pool.js';
import { validateLinkFaults, type LinkFaultConfig } from '../transport/link-faults.js';

export class FaultHooks {
  constructor(
    readonly enabled: boolean,
    private readonly host: Host,
    private readonly pool: SchedulerPool,
  ) {}

  crashActor(target: string | ActorRef, message?: string): void {
    this.check();
    this.host.injectCrash(typeof target === 'string' ? this.host.ref(target) : target, message);
  }

  async killWorker(k: number): Promise<void> {
    this.check();
    const w = this.pool.worker(this.thread(k));
    if (w !== null) await w.terminate();
  }

  crashWorker(k: number): void {
    this.check();
    this.pool.post(this.thread(k), { t: 'crash' });
  }

  hangWorker(k: number): void {
    this.check();
    this.pool.post(this.thread(k), { t: 'hang' });
  }

  linkFaults(c: LinkFaultConfig | null): void {
    this.check();
    this.pool.setLinkFaults(c === null ? null : validateLinkFaults(c));
  }

  private thread(k: number): number {
    if (!Number.isInteger(k) || k < 1 || k > this.pool.size) throw new ConfigError('invalid_thread', `scheduler threads are 1..${this.pool.size}, got ${k}`);
    return k;
  }

  private check(): void {
    if (!this.enabled) throw new ConfigError('faults_disabled', 'fault hooks are off; start the runtime with faults: true');
  }
}
