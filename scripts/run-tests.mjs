#!/usr/bin/env node
// Runs the whole suite on node's built-in test runner.
// Node 20's `--test` neither expands globs nor finds `.ts` files by itself, so
// this lists `test/**/*.test.ts` and hands the files over explicitly.
// Usage: node scripts/run-tests.mjs [substring ...]  (filters files by path)
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = walk(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const started = Date.now();
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, PARLEY_TEST: '1' } },
);
console.log(`\n${files.length} test files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(r.status ?? 1);
