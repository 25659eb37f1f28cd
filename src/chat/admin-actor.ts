/**
 * AdminActor (`admin:<n>`), only on nodes started with fault hooks: moves
 * the clock of its thread (to test the 30-day expiry without waiting 30
 * days), runs the store's expiry sweep at once, and fails the next store
 * batches of its thread (`fail_writes`: the disk fault of the fault tests,
 * hitting whichever actors' transactions are in those batches).
 */
import type { Behaviour } from '../actors/behaviour.js';
import type { ChatEnv, OffsetClock } from './env.js';

export type AdminMsg = { t: 'advance_clock'; ms: number } | { t: 'sweep' } | { t: 'thread' } | { t: 'fail_writes'; times: number };

export class AdminActor implements Behaviour<AdminMsg> {
  constructor(
    private readonly env: ChatEnv,
    private readonly clock: OffsetClock,
  ) {}

  async handle(m: AdminMsg, ctx: { thread: number }): Promise<unknown> {
    switch (m.t) {
      case 'advance_clock':
        this.clock.offset += m.ms;
        return this.clock.offset;
      case 'sweep':
        return this.env.store.sweep();
      case 'thread':
        return ctx.thread;
      case 'fail_writes':
        this.env.store.faults.failWrites({ times: m.times });
        return true;
    }
  }
}
