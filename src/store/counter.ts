/**
 * Counter: one durable counter per owner (message ids, key versions).
 *
 * `next` adds to the counter in a transaction and returns the new value once
 * that transaction is durable. A value is handed out only after the batch
 * that stored it is on disk, and the committer rereads counters after any
 * failed batch, so no value is ever handed out twice, across crashes too.
 * Values start at 1 and grow by `by`; a transaction that failed leaves no gap
 * unless its batch reached the disk after all (then that value is skipped,
 * never repeated).
 */

import { partitionOf } from '../actors/partition.js';
import { unpackMeta } from './codec.js';
import { SPACE, encodeTuple } from './keys.js';
import { readBytes, type StoreCore } from './reads.js';
import { prefixOf, type CounterDef } from './schema.js';

export class Counter {
  constructor(
    private readonly core: StoreCore,
    /** @internal */
    readonly def: CounterDef,
  ) {}

  get name(): string {
    return this.def.name;
  }

  /** Adds `by` (default 1) and resolves with the new value once durable. */
  async next(owner: string, by = 1): Promise<number> {
    const tx = this.core.transaction(owner);
    const slot = tx.increment(this, owner, by);
    await tx.commit();
    return slot.value;
  }

  /** The durable value (0 before the first increment). */
  async get(owner: string): Promise<number> {
    const p = partitionOf(owner, this.core.partitions);
    const key = encodeTuple(prefixOf(this.def.prefixes, p, SPACE.counter, this.def.name), ['string'], [owner]);
    const bytes = await readBytes(this.core, this.def, key, owner);
    return bytes ? unpackMeta<number>(bytes, `counter ${this.def.name} of ${owner}`) : 0;
  }
}
