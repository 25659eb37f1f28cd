/**
 * The load benchmark in `npm run bench`, kept short: one quick run of
 * bench/load/run.ts (2 s warm-up, 4 s measured, 2000 idle connections, 2000
 * queued messages). The full one, with medians of 3 runs, is
 * `npm run bench:load` (see docs/benchmarks.md, "Load").
 */
import { spawnSync } from 'node:child_process';

const run = new URL('./load/run.ts', import.meta.url).pathname;
const r = spawnSync(process.execPath, ['--import', 'tsx', run, '--quick', '--quiet-wait', '10', '--attempts', '1', ...process.argv.slice(2).filter((a) => a === '--json')], {
  stdio: 'inherit',
  env: process.env,
});
process.exit(r.status ?? 1);
