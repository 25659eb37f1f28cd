/**
 * What /proc says about a process: resident memory, and CPU time per thread
 * (to tell which of the node's threads is saturated).
 */
import { readFileSync, readdirSync } from 'node:fs';

const TICK = 100; // USER_HZ on Linux

/** Resident set size in bytes (VmRSS), or NaN once the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export interface ThreadTimes {
  /** tid → {name, cpu seconds (user + system)}. */
  [tid: string]: { name: string; cpu: number };
}

export function threadTimes(pid: number): ThreadTimes {
  const out: ThreadTimes = {};
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // The name is in parentheses and may hold spaces: split after the last ')'.
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const f = stat.slice(close + 2).split(' ');
      // Fields after the name: state(0) ... utime(11) stime(12).
      out[tid] = { name, cpu: (Number(f[11]) + Number(f[12])) / TICK };
    } catch {
      /* thread ended */
    }
  }
  return out;
}

/** CPU share (1 = one core) of each thread busier than `min` between two samples `seconds` apart, busiest first. */
export function threadLoad(a: ThreadTimes, b: ThreadTimes, seconds: number, min = 0.02): Array<{ tid: string; name: string; share: number }> {
  const out: Array<{ tid: string; name: string; share: number }> = [];
  for (const [tid, t] of Object.entries(b)) {
    const share = (t.cpu - (a[tid]?.cpu ?? 0)) / seconds;
    if (share >= min) out.push({ tid, name: t.name, share });
  }
  return out.sort((x, y) => y.share - x.share);
}

/** CPU seconds of the whole process (all threads, user + system). */
export function processCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return NaN;
  }
}

/** CPU seconds the whole machine spent busy (all cores; /proc/stat, everything but idle and iowait). */
export function machineBusy(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) / TICK;
}
