// After `tsc`: copies the plain-JavaScript files tsc does not emit
// (src/**/*.mjs: piscina task modules) into dist/, beside the compiled code.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.mjs') && name !== 'tsx-worker.mjs') cpSync(p, join(root, 'dist', relative(join(root, 'src'), p)));
  }
}
walk(join(root, 'src'));
