// Stateless CPU-bound jobs, run on the piscina pool (src/runtime/cpu-pool.ts).
// Plain JavaScript so piscina can load it the same way from the sources and
// from dist/ (Node 20 cannot load a .ts file in a worker).
//
// `scrypt` uses scryptSync on purpose: on this pool thread it costs this
// thread only. The async form would hand the work to libuv's 4-thread pool,
// the one LevelDB's synced writes wait on (docs/security.md).
import { createHash, scryptSync } from 'node:crypto';

/** Bounds scrypt's memory per job (N = 16384, r = 8 needs 16 MiB). */
const MAXMEM = 64 * 1024 * 1024;

/**
 * @param {{ op: 'sha256', data: Uint8Array }
 *   | { op: 'scrypt', password: string, salt: Uint8Array, N: number, r: number, p: number, len: number }} job
 */
export default function run(job) {
  switch (job.op) {
    case 'sha256':
      return createHash('sha256').update(job.data).digest('hex');
    case 'scrypt':
      return new Uint8Array(scryptSync(job.password, job.salt, job.len, { N: job.N, r: job.r, p: job.p, maxmem: MAXMEM }));
    default:
      throw new Error(`unknown cpu job ${String(job.op)}`);
  }
}
