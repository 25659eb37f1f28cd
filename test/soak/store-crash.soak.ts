/**
 * The long kill -9 run of the store (the CI-sized one is
 * test/store/crash.test.ts): rounds of 25 kills on a fresh LevelDB
 * directory each, so a check never rescans more than one round's data,
 * until `--kills=N` (default 500) kills or `--minutes=M` have passed.
 * Wider load windows than CI (up to 2 s) and more writers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { killCycles } from '../store/crash-harness.js';

function arg(name: string, dflt: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : dflt;
}

const kills = arg('kills', 500);
const minutes = arg('minutes', Infinity);
const deadline = Date.now() + minutes * 60_000;
const started = Date.now();
let done = 0;
let acks = 0;
let round = 0;
while (done < kills && Date.now() < deadline) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-soak-kill-'));
  try {
    const r = await killCycles({
      dir: path.join(dir, 'db'),
      kills: Math.min(25, kills - done),
      minMs: 20,
      maxMs: 2000,
      writers: 48,
      owners: 64,
      firstGen: round * 1000 + 1,
    });
    done += r.kills;
    acks += r.acks;
    round++;
    process.stdout.write(`store-crash: ${done} kills, ${acks} acknowledgements checked, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    if (r.violations.length > 0) {
      process.stdout.write(`store-crash: VIOLATIONS\n${r.violations.join('\n')}\n`);
      process.exit(1);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
process.stdout.write(`store-crash: ok, ${done} kills, ${acks} acknowledgements, no violation\n`);
