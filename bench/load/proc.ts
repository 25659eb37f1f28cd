/**
 * What /proc says about a process: resident memory, and CPU time per thread
 * (to tell which of the node's threads is saturated).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';

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

/** CPU seconds the whole machine spent since boot (all cores; /proc/stat): in processes (user, nice, system), in interrupts (irq, softirq: loopback TCP is mostly here), and stolen by the hypervisor. */
export function machineCpu(): { proc: number; irq: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return { proc: ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0)) / TICK, irq: ((f[5] ?? 0) + (f[6] ?? 0)) / TICK, steal: (f[7] ?? 0) / TICK };
}

/**
 * Counts some system calls of a process for `seconds` with `perf stat` on the
 * syscall tracepoints (cheap: no ptrace). Resolves to null where perf or the
 * tracepoints are missing.
 */
export function countSyscalls(pid: number, seconds: number, calls: string[]): Promise<Record<string, number> | null> {
  return new Promise((resolve) => {
    let err = '';
    let p;
    try {
      p = spawn('perf', ['stat', '-x', ',', ...calls.flatMap((c) => ['-e', `syscalls:sys_enter_${c}`]), '-p', String(pid), '--', 'sleep', String(seconds)], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch {
      resolve(null);
      return;
    }
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', () => resolve(null));
    p.on('close', (code) => {
      if (code !== 0) return resolve(null);
      const out: Record<string, number> = {};
      for (const line of err.split('\n')) {
        const f = line.split(',');
        const m = /sys_enter_(\w+)/.exec(f[2] ?? '');
        if (m && /^\d+$/.test(f[0] ?? '')) out[m[1]!] = Number(f[0]);
      }
      resolve(out);
    });
  });
}

/** Bytes the process has caused to be written to storage (/proc/<pid>/io write_bytes: files, not sockets). */
export function storageWriteBytes(pid: number): number {
  try {
    const m = /write_bytes:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}
