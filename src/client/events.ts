/**
 * The client's events and the small emitter behind `on`/`off`.
 *
 * A handler may return a promise. `emit` then returns one that settles when
 * every handler has finished (it never rejects), so the inbox can wait for
 * async handlers before it acknowledges; when every handler returned at once
 * it returns `undefined`, and a burst of synchronous handlers allocates no
 * promise at all. A handler that throws or rejects is reported on `error` as
 * `handler_failed`; a failing `error` handler is not reported again, which
 * could loop.
 */
import { ParleyClientError } from './errors.js';
import type {
  GroupEventFrame,
  MsgFrame,
  PresenceFrame,
  ReadSyncFrame,
  ReadyFrame,
  ReceiptFrame,
  TypingFrame,
} from '../protocol/server-frames.js';

export interface CloseInfo {
  /** The close code that ended the client; 1000 after `close()`. */
  code: number;
  reason: string;
}

export interface ReconnectInfo {
  /** 1 for the first attempt after a drop. */
  attempt: number;
  delayMs: number;
  /** The close code of the drop (1006 when the socket failed without one). */
  code: number;
  reason: string;
}

export interface ParleyClientEvents {
  msg: MsgFrame;
  receipt: ReceiptFrame;
  group_event: GroupEventFrame;
  read_sync: ReadSyncFrame;
  presence: PresenceFrame;
  typing: TypingFrame;
  /** A `ParleyClientError` that answers no pending call; dropped when nobody listens. */
  error: ParleyClientError;
  /** Every authentication: the first and each after a reconnect. */
  ready: ReadyFrame;
  /** The client ended. */
  close: CloseInfo;
  /** A drop that will be retried. */
  reconnect: ReconnectInfo;
}

export type ParleyClientEvent = keyof ParleyClientEvents;

/** A handler may return a promise: for inbox events the ack waits for it. */
export type ParleyClientHandler<K extends ParleyClientEvent> = (event: ParleyClientEvents[K]) => unknown;

export class Emitter {
  readonly #handlers = new Map<ParleyClientEvent, Set<(event: any) => unknown>>();

  on<K extends ParleyClientEvent>(type: K, handler: ParleyClientHandler<K>): () => void {
    let set = this.#handlers.get(type);
    if (set === undefined) this.#handlers.set(type, (set = new Set()));
    set.add(handler);
    return () => this.off(type, handler);
  }

  off<K extends ParleyClientEvent>(type: K, handler: ParleyClientHandler<K>): void {
    this.#handlers.get(type)?.delete(handler);
  }

  emit<K extends ParleyClientEvent>(type: K, event: ParleyClientEvents[K]): Promise<void> | undefined {
    const set = this.#handlers.get(type);
    if (set === undefined || set.size === 0) return undefined;
    let pending: Promise<unknown>[] | undefined;
    // A copy only when needed: a handler may remove itself (or others) while called.
    for (const handler of set.size === 1 ? set : [...set]) {
      try {
        const r = handler(event);
        if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function') {
          (pending ??= []).push(Promise.resolve(r).catch((cause: unknown) => this.#failed(type, cause)));
        }
      } catch (cause) {
        this.#failed(type, cause);
      }
    }
    return pending === undefined ? undefined : Promise.all(pending).then(() => undefined);
  }

  #failed(type: ParleyClientEvent, cause: unknown): void {
    if (type === 'error') return;
    this.emit('error', new ParleyClientError('handler_failed', `a ${type} handler failed`, { cause }));
  }
}
