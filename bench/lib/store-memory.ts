/**
 * Memory while queues hold millions of entries, measured in a process of its
 * own (started with --expose-gc): fills `queues` inbox queues with `total`
 * entries (a consumer each, never acknowledging, so nothing is trimmed), and
 * after every tenth of the fill collects garbage and samples RSS and heap.
 * Prints one JSON line: the samples and the fill rate.
 *
 * Run by bench/store.bench.ts: node --expose-gc --import tsx bench/lib/store-memory.ts <total> <queues>
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/index.js';

export interface MemorySample {
  entries: number;
  rss: number;
  heap: number;
}

export interface MemoryResult {
  samples: MemorySample[];
  appendsPerSec: number;
  /** Entries read back from the last queue's tail after the fill, as a check that they are all there. */
  tailRead: number;
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 2_000_000);
  const queues = Number(process.argv[3] ?? 10_000);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-memory-'));
  try {
    const s = await openStore({ location: path.join(dir, 'db'), sweepIntervalMs: 0 });
    const inbox = s.queue<{ conv: string; seq: number }>('inbox');
    const owners = Array.from({ length: queues }, (_, k) => `user:m${k}`);
    for (let k = 0; k < queues; k += 500) {
      const batch = owners.slice(k, k + 500);
      await Promise.all(batch.map((o) => inbox.subscribe(o, 'phone')));
    }
    const samples: MemorySample[] = [];
    const sample = (entries: number): void => {
      gc();
      const m = process.memoryUsage();
      samples.push({ entries, rss: m.rss, heap: m.heapUsed });
    };
    sample(0);
    const perTx = 50;
    const step = total / 10;
    let written = 0;
    let next = 0;
    const t0 = performance.now();
    while (written < total) {
      const until = Math.min(total, written + step);
      // 64 transactions in flight, each appending 50 entries to one owner's queue.
      let cursor = written;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (cursor < until) {
            const n = Math.min(perTx, until - cursor);
            cursor += n;
            const owner = owners[next++ % queues]!;
            const tx = s.transaction(owner);
            for (let j = 0; j < n; j++) tx.append(inbox, owner, { conv: 'conv:dm:a:b', seq: j });
            await tx.commit();
          }
        }),
      );
      written = until;
      sample(written);
    }
    const appendsPerSec = (total / (performance.now() - t0)) * 1000;
    const tail = await inbox.readFor(owners[queues - 1]!, 'phone', 1000);
    await s.close();
    const result: MemoryResult = { samples, appendsPerSec, tailRead: tail.length };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) await main();
