/**
 * kill -9 cycles against a real LevelDB directory: start the writer process
 * (fixtures/crash-child.ts), let it write under load, kill it with SIGKILL at
 * a random moment (a fifth of the time before it even reported ready, so
 * that kills also land while LevelDB opens and recovers), wait for its exit
 * (LevelDB's lock is released only then), reopen the store here and check
 * every acknowledgement ever reported against it (durability.ts).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { openStore } from '../../src/store/index.js';
import { check, type Ack } from './durability.js';

const CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'crash-child.ts');

export interface KillOptions {
  dir: string;
  kills: number;
  /** Load time before the kill, drawn uniformly from [minMs, maxMs] after the child is ready. */
  minMs: number;
  maxMs: number;
  writers: number;
  owners: number;
  /** First generation number (writer ids are unique across generations). */
  firstGen?: number;
  progress?: (line: string) => void;
}

export interface KillReport {
  kills: number;
  acks: number;
  /** Generations that acknowledged at least one transaction before their kill. */
  productive: number;
  violations: string[];
}

function parse(line: string): Ack {
  const [owner, w, i, seq, id, partition, lsn] = line.split(' ');
  return { owner: owner!, w: Number(w), i: Number(i), seq: Number(seq), id: Number(id), partition: Number(partition), lsn: Number(lsn) };
}

/** Runs one child until killed; returns the acknowledgements it reported. */
function oneLife(dir: string, gen: number, o: KillOptions): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(gen), String(o.writers), String(o.owners)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acks: Ack[] = [];
    let buf = '';
    let timer: NodeJS.Timeout | null = null;
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    const early = Math.random() < 0.2;
    if (early) timer = setTimeout(kill, Math.random() * 800);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') {
          if (!early) timer = setTimeout(kill, o.minMs + Math.random() * (o.maxMs - o.minMs));
        } else {
          acks.push(parse(line));
        }
      }
    });
    child.on('error', reject);
    // 'close' comes after the exit and after stdout is drained: every reported line has been read.
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited by itself (code ${code}, signal ${signal})`));
      else resolve(acks);
    });
  });
}

export async function killCycles(o: KillOptions): Promise<KillReport> {
  const all: Ack[] = [];
  const owners = Array.from({ length: o.owners }, (_, k) => `user:${k}`);
  const report: KillReport = { kills: 0, acks: 0, productive: 0, violations: [] };
  const first = o.firstGen ?? 1;
  for (let gen = first; gen < first + o.kills; gen++) {
    const acks = await oneLife(o.dir, gen, o);
    report.kills++;
    if (acks.length > 0) report.productive++;
    for (const a of acks) all.push(a);
    const s = await openStore({ location: o.dir, partitions: 16, sweepIntervalMs: 0 });
    try {
      const bad = await check(s, all, owners);
      if (bad.length > 0) {
        report.violations.push(...bad.map((b) => `after kill ${report.kills}: ${b}`));
        break;
      }
    } finally {
      await s.close();
    }
    o.progress?.(`kill ${report.kills}: ${acks.length} acknowledged in this life, ${all.length} in all, checked`);
  }
  report.acks = all.length;
  return report;
}
