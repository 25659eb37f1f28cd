/**
 * CpuPool: a piscina pool for stateless CPU-bound jobs (hashing today; media
 * work later), so they never block a scheduler thread or the gateway.
 *
 * This is where piscina fits: any idle worker may take any job, and jobs
 * share no state. It is not used for actors (see docs/architecture.md).
 * Defaults: at most `max(1, cores - 1)` threads, started on first use, idle
 * threads ended after 30 s.
 */
import os from 'node:os';
import { Piscina } from 'piscina';

export class CpuPool {
  private pool: Piscina | null = null;

  constructor(private readonly maxThreads = Math.max(1, os.availableParallelism() - 1)) {}

  private get p(): Piscina {
    this.pool ??= new Piscina({
      filename: new URL('./cpu-tasks.mjs', import.meta.url).href,
      minThreads: 0,
      maxThreads: this.maxThreads,
      idleTimeout: 30_000,
    });
    return this.pool;
  }

  /** SHA-256 of `data`, hex. */
  sha256(data: Uint8Array): Promise<string> {
    return this.p.run({ op: 'sha256', data });
  }

  async close(): Promise<void> {
    const p = this.pool;
    this.pool = null;
    await p?.destroy();
  }
}
