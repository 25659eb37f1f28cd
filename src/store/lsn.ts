/**
 * Per-partition log positions: the last durable LSN and the first one the
 * log still holds, with wake-ups for followers.
 *
 * `last[p]` moves only after a batch is on disk, so a follower that reads up
 * to it reads only durable batches. On open (and after a failed batch, which
 * may or may not have landed) both are reread from the log itself: the log is
 * the truth, these are its cache. A partition whose log is empty has
 * last = 0 and first = 1; LSNs start at 1.
 */

import type { StorageAdapter } from './adapter.js';
import { SPACE, logKey, prefixEnd, readUint, spacePrefix } from './keys.js';

export class PartitionLsns {
  readonly last: Float64Array;
  readonly first: Float64Array;
  private readonly waiters: Array<Array<() => void> | undefined>;

  constructor(readonly partitions: number) {
    this.last = new Float64Array(partitions);
    this.first = new Float64Array(partitions).fill(1);
    this.waiters = new Array(partitions);
  }

  async load(adapter: StorageAdapter): Promise<void> {
    const ps = Array.from({ length: this.partitions }, (_, p) => p);
    for (let i = 0; i < ps.length; i += 32) await Promise.all(ps.slice(i, i + 32).map((p) => this.loadOne(adapter, p)));
  }

  async loadOne(adapter: StorageAdapter, p: number): Promise<void> {
    const range = { gte: logKey(p, 0), lt: prefixEnd(spacePrefix(p, SPACE.log))! };
    const [lastKey] = await firstKey(adapter, { ...range, reverse: true });
    const [firstK] = await firstKey(adapter, range);
    this.last[p] = lastKey ? readUint(lastKey, 3) : 0;
    this.first[p] = firstK ? readUint(firstK, 3) : this.last[p]! + 1;
  }

  /** Resolves at the next durable batch of `p` (or at `wakeAll`). */
  wait(p: number): Promise<void> {
    return new Promise((resolve) => {
      let w = this.waiters[p];
      if (!w) {
        w = [];
        this.waiters[p] = w;
      }
      w.push(resolve);
    });
  }

  notify(p: number): void {
    const w = this.waiters[p];
    if (!w) return;
    this.waiters[p] = undefined;
    for (const f of w) f();
  }

  wakeAll(): void {
    for (let p = 0; p < this.partitions; p++) this.notify(p);
  }
}

async function firstKey(adapter: StorageAdapter, range: Parameters<StorageAdapter['iterate']>[0]): Promise<[Uint8Array | undefined]> {
  const it = adapter.iterate({ ...range, limit: 1 });
  try {
    const [e] = await it.nextv(1);
    return [e?.[0]];
  } finally {
    await it.close();
  }
}
