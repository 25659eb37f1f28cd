/**
 * What the chat actors of one thread share: the store and its tables, the
 * limits, and the clock (injectable so the 30-day expiry can be tested).
 */
import type { Store } from '../store/index.js';
import type { Limits } from '../server/config.js';
import type { ChatTables } from './tables.js';
import type { PushSender } from './push/push-sender.js';

export interface Clock {
  now(): number;
}

/** Wall clock plus an offset that only fault-enabled nodes let tests move. */
export class OffsetClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
}

export interface ChatEnv {
  store: Store;
  tables: ChatTables;
  limits: Limits;
  clock: Clock;
  /** The outbox of push notifications, when a provider is configured. */
  push: PushSender | null;
}

export type ChatLimits = Limits;
