/**
 * CpuPool: a piscina pool for stateless CPU-bound jobs (digests and password
 * hashing today; media work later), so they never block a scheduler thread,
 * the gateway, or libuv's thread pool (which LevelDB's synced writes share:
 * a burst of scrypt there stalls every send).
 *
 * This is where piscina fits: any idle worker may take any job, and jobs
 * share no state. It is not used for actors (see docs/architecture.md).
 * Defaults: at most `max(1, cores - 1)` threads, started on first use, idle
 * threads ended after 30 s. A pool belongs to whoever made it (a node makes
 * one and closes it on stop); there is no shared global pool.
 */
import os from 'node:os';
import { Piscina } from 'piscina';

export class CpuPool {
  private pool: Piscina | null = null;
  private closed = false;

  constructor(private readonly maxThreads = Math.max(1, os.availableParallelism() - 1)) {}

  private get p(): Piscina {
    // A job after close would start threads nobody ends.
    if (this.closed) throw new Error('cpu pool closed');
    this.pool ??= new Piscina({
      filename: new URL('./cpu-tasks.mjs', import.meta.url).href,
      minThreads: 0,
      maxThreads: this.maxThreads,
      idleTimeout: 30_000,
    });
    return this.pool;
  }

  /** How many threads the pool may run at once. */
  get threads(): number {
    return this.maxThreads;
  }

  /** SHA-256 of `data`, hex. */
  sha256(data: Uint8Array): Promise<string> {
    return this.p.run({ op: 'sha256', data });
  }

  /** scrypt(password, salt) of `len` bytes, computed on a pool thread (scryptSync there). */
  async scrypt(password: string, salt: Uint8Array, o: { N: number; r: number; p: number; len: number }): Promise<Buffer> {
    const key = (await this.p.run({ op: 'scrypt', password, salt, N: o.N, r: o.r, p: o.p, len: o.len })) as Uint8Array;
    return Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  }

  async close(): Promise<void> {
    this.closed = true;
    const p = this.pool;
    this.pool = null;
    await p?.destroy();
  }
}
