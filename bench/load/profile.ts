/**
 * Summarizes a V8 `.cpuprofile` (from `node --cpu-prof`, one file per
 * thread): the share of samples per function (self time), busiest first,
 * with the share of idle time. Also a command:
 * `node --import tsx bench/load/profile.ts FILE... [--top N]`.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function place(n: ProfileNode): string {
  const f = n.callFrame;
  const url = f.url.replace(/^file:\/\//, '').replace(/^.*\/(src|node_modules|bench)\//, '$1/');
  const name = f.functionName || '(anonymous)';
  return url ? `${name} ${url}:${f.lineNumber + 1}` : name;
}

/** Lines: total time, idle share, then the top functions by self time. */
export function summarizeProfile(file: string, top = 15): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, ProfileNode>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const self = new Map<string, number>();
  /** Per function: self time by caller, to name who calls the hot ones. */
  const callers = new Map<string, Map<string, number>>();
  let total = 0;
  let idle = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const n = byId.get(id);
    if (n === undefined) return;
    total += dt;
    const name = n.callFrame.functionName;
    if (name === '(idle)' || name === '(program)') {
      if (name === '(idle)') idle += dt;
    }
    const k = place(n);
    self.set(k, (self.get(k) ?? 0) + dt);
    const up = parent.get(n.id);
    if (up !== undefined) {
      let m = callers.get(k);
      if (m === undefined) callers.set(k, (m = new Map()));
      const pk = place(up);
      m.set(pk, (m.get(pk) ?? 0) + dt);
    }
  });
  const busy = total - idle;
  const lines = [`${(total / 1e6).toFixed(1)} s sampled, ${((busy / total) * 100).toFixed(0)}% busy`];
  for (const [k, v] of [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    const top = [...(callers.get(k) ?? [])].sort((a, b) => b[1] - a[1])[0];
    lines.push(`${((v / busy) * 100).toFixed(1).padStart(5)}% of busy  ${k}${top ? `  ← ${top[0]}` : ''}`);
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--top');
  const top = i >= 0 ? Number(args[i + 1]) : 20;
  const files = args.filter((a, j) => !a.startsWith('--') && (i < 0 || j !== i + 1));
  for (const f of files) {
    process.stdout.write(`${f}\n`);
    for (const l of summarizeProfile(f, top)) process.stdout.write(`  ${l}\n`);
  }
}
