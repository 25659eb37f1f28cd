/**
 * `npm run soak [-- name ...]`: the long runs that do not fit in `npm test`
 * (thousands of crashes, hours of traffic). Runs every `test/soak/*.soak.ts`
 * in its own process; each prints a progress line while it works.
 */
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const dir = new URL('.', import.meta.url).pathname;
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.soak.ts'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
let failed = 0;
for (const f of files) {
  process.stdout.write(`## ${f}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', dir + f, ...process.argv.slice(2).filter((a) => a.startsWith('--'))], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
if (files.length === 0) process.stdout.write('no soak runs matched\n');
process.exit(failed ? 1 : 0);
