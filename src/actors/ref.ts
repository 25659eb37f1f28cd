/**
 * ActorRef: a location-transparent address.
 *
 * A ref is `(node, partition, id, incarnation)` plus, for actors pinned to a
 * thread by `spawn`, that thread. Two kinds:
 *
 * - virtual (`partition >= 0`): an id such as `user:alice`, placed by its
 *   partition. Messages always reach the current activation, whatever its
 *   incarnation, activating it when needed. Signals (links, exits) and
 *   replies are bound to one incarnation and never reach a later one.
 * - pinned (`partition === -1`): made by `spawn`; it lives on `thread` until
 *   it stops, and its id is never reused, so a stopped actor's ref stays dead
 *   (`noproc`).
 *
 * `send` is a cast: it returns at once and never throws for a missing target
 * (that is a dead letter, counted). `call` awaits the handler's return value
 * and always has a timeout (default 5000 ms), because a handler runs to
 * completion before the next message: two actors calling each other would
 * otherwise wait forever.
 */
import { ConfigError } from './errors.js';

export const DEFAULT_CALL_TIMEOUT_MS = 5000;

/**
 * The longest timeout or delay a timer can hold (2^31 - 1 ms, about 24.8
 * days). Node runs a longer setTimeout after 1 ms, so a longer timeout would
 * end a call at once: it is refused instead.
 */
export const MAX_TIMEOUT_MS = 2_147_483_647;

export interface CallOptions {
  /** Milliseconds to wait for the reply; default 5000. `Infinity` is refused: every call must end. */
  timeout?: number;
}

/** What a ref needs from the thread that made it. Implemented by Host. */
export interface RefHost {
  readonly node: string;
  cast(to: ActorRef, msg: unknown): void;
  call<R>(to: ActorRef, msg: unknown, timeoutMs: number): Promise<R>;
}

export class ActorRef<M = unknown> {
  /** @internal the host's cached local cell, revalidated on use. */
  _cell: unknown = null;

  constructor(
    /** @internal */ readonly _host: RefHost | null,
    readonly node: string,
    readonly id: string,
    /** Partition of a virtual actor, or -1 for a pinned one. */
    readonly partition: number,
    /** The thread of a pinned actor, or -1 for a virtual one (routed by partition). */
    readonly thread: number,
    /** 0 means "the current activation" (virtual refs made from an id). */
    readonly incarnation: number,
  ) {}

  get virtual(): boolean {
    return this.partition >= 0;
  }

  /** Cast: enqueue `msg` for the actor and return at once. */
  send(msg: M): void {
    if (this._host === null) throw new ConfigError('unbound_ref', `ref ${this.id} was decoded outside a runtime and cannot send`);
    this._host.cast(this, msg);
  }

  /** Call: send `msg` and await the handler's return value. Rejects with a CallError (see errors.ts). */
  call<R = unknown>(msg: M, options?: CallOptions): Promise<R> {
    if (this._host === null) return Promise.reject(new ConfigError('unbound_ref', `ref ${this.id} was decoded outside a runtime and cannot call`));
    let timeout: number;
    try {
      timeout = checkTimeout(options?.timeout);
    } catch (e) {
      return Promise.reject(e); // every failure of a call is a rejection, never a throw
    }
    return this._host.call<R>(this, msg, timeout);
  }

  /** Same actor (same id and, where both are known, same incarnation). */
  equals(other: ActorRef<any>): boolean {
    return (
      this.id === other.id &&
      this.node === other.node &&
      (this.incarnation === 0 || other.incarnation === 0 || this.incarnation === other.incarnation)
    );
  }

  toString(): string {
    return this.incarnation ? `${this.id}#${this.incarnation}@${this.node}` : `${this.id}@${this.node}`;
  }

  toJSON(): unknown {
    return { node: this.node, id: this.id, partition: this.partition, thread: this.thread, incarnation: this.incarnation };
  }
}

export function checkTimeout(t: number | undefined): number {
  if (t === undefined) return DEFAULT_CALL_TIMEOUT_MS;
  if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0 || t > MAX_TIMEOUT_MS) {
    throw new ConfigError('invalid_timeout', `call timeout must be a number of milliseconds in (0, ${MAX_TIMEOUT_MS}], got ${String(t)}`);
  }
  return t;
}
