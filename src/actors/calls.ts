/**
 * Calls: the reply slots of one thread.
 *
 * A call gets a request id unique in its thread and a timer. The reply
 * address is (thread, generation, request id): a reply for a request that
 * already timed out finds no slot, and one addressed to an earlier
 * generation of this thread (before a restart) is recognised by the
 * generation; both are dropped and counted as `lateReplies`. A reply can
 * therefore never reach a later call.
 *
 * Failed calls cross threads as plain data ({@link ErrorReply}) and become a
 * CallError only in the caller's thread.
 */
import type { ActorRef } from './ref.js';
import type { Cell } from './cell.js';
import type { Host } from './host.js';
import { CallError, type CallErrorCode } from './errors.js';
import { formatReason, toExitReason, type ExitReason } from './exit-reason.js';
import { W_CALL, W_REPLY } from './transport.js';

/** The reply slot of one call: where the answer goes. */
export interface CallMeta {
  t: number; // caller's thread
  g: number; // caller thread's generation
  r: number; // request id in that thread
  c: string | null; // caller actor id, if an actor called
  done: boolean;
}

/** Wire form of a failed call. */
export interface ErrorReply {
  code: CallErrorCode;
  message: string;
  reason?: unknown;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: ReturnType<typeof setTimeout>;
  thread: number;
  to: string;
}

export class Calls {
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  lateReplies = 0;

  constructor(private readonly host: Host) {}

  get size(): number {
    return this.pending.size;
  }

  call<R>(to: ActorRef, msg: unknown, timeoutMs: number, caller: Cell | null): Promise<R> {
    const h = this.host;
    const t = h.route(to);
    if (caller !== null && caller.id === to.id && t === h.thread) {
      return Promise.reject(new CallError('calling_self', `${to.id} called itself; it would wait for its own reply until the timeout`));
    }
    const r = ++this.seq;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(r)) reject(new CallError('timeout', `call to ${to.id} had no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(r, { resolve: resolve as (v: unknown) => void, reject, timer, thread: t, to: to.id });
      const callerId = caller?.id ?? null;
      if (t === h.thread) {
        const meta: CallMeta = { t: h.thread, g: h.generation, r, c: callerId, done: false };
        const cell = h.lookup(to.id, to.partition);
        if (cell === null) this.reply(meta, false, { code: 'noproc', message: `no actor ${to.id}` }); // lookup counted the dead letter
        else h.enqueue(cell, meta, msg);
        return;
      }
      const ob = h.outbox(t);
      if (ob === null) {
        h.deadLetters.record(to.id, 'no_route');
        this.settle(r, false, { code: 'noproc', message: `no thread ${t} for ${to.id}` });
      } else {
        ob.push(W_CALL, to.id, to.partition, to.thread, to.incarnation, msg, h.thread, h.generation, r, callerId);
      }
    });
  }

  /** Answers a call (once: a second answer to the same slot is ignored). */
  reply(meta: CallMeta, ok: boolean, value: unknown): void {
    if (meta.done) return;
    meta.done = true;
    const h = this.host;
    if (meta.t === h.thread) {
      if (meta.g === h.generation) this.settle(meta.r, ok, value);
      else this.lateReplies++;
      return;
    }
    h.outbox(meta.t)?.push(W_REPLY, meta.g, meta.r, ok, value);
  }

  /** A reply from another thread. */
  received(gen: number, r: number, ok: boolean, value: unknown): void {
    if (gen === this.host.generation) this.settle(r, ok, value);
    else this.lateReplies++;
  }

  settle(r: number, ok: boolean, value: unknown): void {
    const p = this.pending.get(r);
    if (p === undefined) {
      this.lateReplies++;
      return;
    }
    this.pending.delete(r);
    clearTimeout(p.timer);
    if (ok) p.resolve(value);
    else {
      const e = value as ErrorReply;
      p.reject(new CallError(e.code, e.message, e.reason));
    }
  }

  /** Calls waiting on thread `t` fail with `noconnection`. */
  threadDown(t: number): void {
    for (const [r, p] of this.pending) {
      if (p.thread === t) this.settle(r, false, { code: 'noconnection', message: `thread ${t} hosting ${p.to} went away` });
    }
  }

  /** Every waiting call fails with `shutdown`. */
  failAll(): void {
    for (const [r] of this.pending) this.settle(r, false, { code: 'shutdown', message: 'the runtime shut down' });
  }
}

/** Turns what a handler rejected with into the wire form of a failed call. */
export function errorReply(e: unknown): ErrorReply {
  if (e instanceof CallError) return { code: e.code as CallErrorCode, message: e.message, reason: e.reason };
  const reason = toExitReason(e);
  return { code: 'crashed', message: formatReason(reason), reason };
}

/** What a call is answered with when its target exits for `reason`. */
export function exitReply(id: string, reason: ExitReason): ErrorReply {
  const code: CallErrorCode = typeof reason === 'string' ? reason : 'crashed';
  return { code, message: `${id} exited: ${formatReason(reason)}`, reason };
}
