/**
 * Requests that carry a `rid` and wait for one answer.
 *
 * - A rid is a counter in base 36, unique per client (at most 11 characters
 *   for 2^53 requests; the limit is 64).
 * - Each request has a deadline (`requestTimeoutMs`); a late answer finds
 *   nothing and is dropped.
 * - A request made while disconnected waits and is written after the next
 *   `ready`. One written on a connection that drops before its answer is
 *   rejected with `disconnected`, not repeated: its effect is unknown and some
 *   requests are not idempotent (`group_create` makes a second group,
 *   `keys_get` consumes another one-time prekey).
 * - An answer of another type than the request expects rejects it with
 *   `bad_frame`.
 */
import type { WireData } from './codec.js';
import { ParleyClientError } from './errors.js';
import type { AnswerFrame } from '../protocol/server-frames.js';

interface PendingRequest {
  rid: string;
  data: WireData;
  expect: AnswerFrame['t'];
  /** The connection it was written on; null while waiting for one. */
  conn: object | null;
  timer: ReturnType<typeof setTimeout>;
  resolve(frame: AnswerFrame): void;
  reject(error: ParleyClientError): void;
}

export class Requests {
  readonly #timeoutMs: number;
  readonly #pending = new Map<string, PendingRequest>();
  #counter = 0;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  nextRid(): string {
    return (++this.#counter).toString(36);
  }

  /**
   * Registers a request whose encoded frame carries `rid`, and writes it now
   * if `conn` is given (the ready connection) with `write`.
   */
  add<T extends AnswerFrame>(rid: string, data: WireData, expect: T['t'], conn: object | null, write: (data: WireData) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#pending.get(rid) !== req) return;
        this.#pending.delete(rid);
        reject(new ParleyClientError('timeout', `no answer to request ${rid} (${expect} expected) within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      const req: PendingRequest = { rid, data, expect, conn: null, timer, resolve: resolve as (f: AnswerFrame) => void, reject };
      this.#pending.set(rid, req);
      if (conn !== null) {
        req.conn = conn;
        write(data);
      }
    });
  }

  /** Writes the requests that wait for a connection, in the order made. */
  writeWaiting(conn: object, write: (data: WireData) => void): void {
    for (const req of this.#pending.values()) {
      if (req.conn !== null) continue;
      req.conn = conn;
      write(req.data);
    }
  }

  /** An answer with a rid; false when no request waits for it. */
  answered(frame: AnswerFrame & { rid: string }): boolean {
    const req = this.#take(frame.rid);
    if (req === undefined) return false;
    if (frame.t === req.expect) req.resolve(frame);
    else req.reject(new ParleyClientError('bad_frame', `expected ${req.expect} for rid ${req.rid}, got ${frame.t}`));
    return true;
  }

  /** An `error` with a rid; false when no request waits for it. */
  failed(rid: string, error: ParleyClientError): boolean {
    const req = this.#take(rid);
    if (req === undefined) return false;
    req.reject(error);
    return true;
  }

  connectionLost(conn: object): void {
    for (const req of [...this.#pending.values()]) {
      if (req.conn !== conn) continue;
      this.#take(req.rid);
      req.reject(new ParleyClientError('disconnected', `the connection dropped before the answer to request ${req.rid} (${req.expect} expected)`));
    }
  }

  rejectAll(error: () => ParleyClientError): void {
    const reqs = [...this.#pending.values()];
    this.#pending.clear();
    for (const req of reqs) {
      clearTimeout(req.timer);
      req.reject(error());
    }
  }

  #take(rid: string): PendingRequest | undefined {
    const req = this.#pending.get(rid);
    if (req === undefined) return undefined;
    clearTimeout(req.timer);
    this.#pending.delete(rid);
    return req;
  }
}
