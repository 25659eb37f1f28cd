/**
 * `npm run bench [-- --json] [-- name ...]`: runs every `bench/*.bench.ts`,
 * each in its own process so one benchmark's heap and threads cannot skew the
 * next, and prints their figures. Names filter by substring.
 * Each file also runs alone: `node --import tsx bench/<name>.bench.ts [--json]`.
 */
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';

const dir = new URL('.', import.meta.url).pathname;
const args = process.argv.slice(2);
const json = args.includes('--json');
const filters = args.filter((a) => !a.startsWith('--'));
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();

if (!json) {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  process.stdout.write(`# ${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} × ${cpu} · ${Math.round(os.totalmem() / 2 ** 30)} GiB · node ${process.version}\n`);
}
let failed = 0;
for (const f of files) {
  if (!json) process.stdout.write(`\n## ${f.replace('.bench.ts', '')}\n`);
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', dir + f, ...(json ? ['--json'] : [])], {
    stdio: 'inherit',
    env: process.env,
  });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`# ${f} failed (exit ${r.status})\n`);
  }
}
process.exit(failed ? 1 : 0);
