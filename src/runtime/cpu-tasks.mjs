// Stateless CPU-bound jobs, run on the piscina pool (src/runtime/cpu-pool.ts).
// Plain JavaScript so piscina can load it the same way from the sources and
// from dist/ (Node 20 cannot load a .ts file in a worker).
import { createHash } from 'node:crypto';

/** @param {{ op: 'sha256', data: Uint8Array }} job */
export default function run(job) {
  switch (job.op) {
    case 'sha256':
      return createHash('sha256').update(job.data).digest('hex');
    default:
      throw new Error(`unknown cpu job ${String(job.op)}`);
  }
}
