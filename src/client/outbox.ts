/**
 * The sends not yet answered by `sent`, in call order, and when to write them.
 *
 * - Each send is encoded once; its bytes are written again as they are.
 * - A send is written at once when the connection is ready, nothing is
 *   paused and no earlier send waits to be written; otherwise it waits, and
 *   `pump` writes every waiting send in call order. So after a reconnect the
 *   unanswered sends go out again in their original order, before newer ones.
 * - `connectionLost` marks every written send as waiting: its `sent` may have
 *   been lost with the connection. The server's dedupe by id answers a
 *   repeated send with the same `sent` and delivers nothing twice.
 * - `refused` with `rate_limited` or `unavailable` puts the send back to
 *   waiting and pauses all writing for a backoff (jittered, doubling from
 *   `minMs` up to `maxMs`, starting over once a send is answered): the bucket
 *   on the server refills in time, and sends written meanwhile would only be
 *   refused too.
 */
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import type { WireData } from './codec.js';
import { ParleyClientError } from './errors.js';
import type { ConvId } from '../protocol/ids.js';
import type { ErrorFrame, SentFrame } from '../protocol/server-frames.js';

export interface SendResult {
  id: string;
  conv: ConvId;
  seq: number;
  ts: number;
}

interface PendingSend {
  id: string;
  data: WireData;
  written: boolean;
  promise: Promise<SendResult>;
  resolve(result: SendResult): void;
  reject(error: ParleyClientError): void;
}

/** Writes to the ready connection; null when there is none. */
export type Writer = ((data: WireData) => void) | null;

export class Outbox {
  readonly #policy: BackoffPolicy;
  readonly #writer: () => Writer;
  /** A Map iterates in insertion order: call order. */
  readonly #sends = new Map<string, PendingSend>();
  #waiting = 0;
  #pause: ReturnType<typeof setTimeout> | null = null;
  #retries = 0;

  constructor(policy: BackoffPolicy, writer: () => Writer) {
    this.#policy = policy;
    this.#writer = writer;
  }

  get size(): number {
    return this.#sends.size;
  }

  /** The promise of the pending send with this id, if any. */
  pending(id: string): Promise<SendResult> | undefined {
    return this.#sends.get(id)?.promise;
  }

  add(id: string, data: WireData): Promise<SendResult> {
    let resolve!: (r: SendResult) => void;
    let reject!: (e: ParleyClientError) => void;
    const promise = new Promise<SendResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const send: PendingSend = { id, data, written: false, promise, resolve, reject };
    this.#sends.set(id, send);
    const write = this.#waiting === 0 && this.#pause === null ? this.#writer() : null;
    if (write !== null) {
      send.written = true;
      write(data);
    } else {
      this.#waiting++;
    }
    return promise;
  }

  /** Writes every waiting send, in call order, unless paused or offline. */
  pump(): void {
    if (this.#waiting === 0 || this.#pause !== null) return;
    const write = this.#writer();
    if (write === null) return;
    for (const send of this.#sends.values()) {
      if (send.written) continue;
      send.written = true;
      write(send.data);
    }
    this.#waiting = 0;
  }

  /** A `sent`. A repeated one (the send was written twice across a reconnect) finds nothing. */
  answered(frame: SentFrame): void {
    const send = this.#take(frame.id);
    if (send === undefined) return;
    if (this.#pause === null) this.#retries = 0;
    send.resolve({ id: frame.id, conv: frame.conv, seq: frame.seq, ts: frame.ts });
  }

  /** An `error` with an `id`; false when no pending send has that id. */
  refused(frame: ErrorFrame & { id: string }): boolean {
    const send = this.#sends.get(frame.id);
    if (send === undefined) return false;
    if (frame.code === 'rate_limited' || frame.code === 'unavailable') {
      this.#unwrite(send);
      this.#pauseWrites();
      return true;
    }
    this.#take(frame.id);
    send.reject(ParleyClientError.fromFrame(frame));
    return true;
  }

  connectionLost(): void {
    for (const send of this.#sends.values()) this.#unwrite(send);
    // A new connection starts with a fresh view of the server's rate limit.
    this.#clearPause();
  }

  /** Rejects every pending send (the client closed). */
  rejectAll(error: (id: string) => ParleyClientError): void {
    this.#clearPause();
    const sends = [...this.#sends.values()];
    this.#sends.clear();
    this.#waiting = 0;
    for (const send of sends) send.reject(error(send.id));
  }

  #take(id: string): PendingSend | undefined {
    const send = this.#sends.get(id);
    if (send === undefined) return undefined;
    this.#sends.delete(id);
    if (!send.written) this.#waiting--;
    return send;
  }

  #unwrite(send: PendingSend): void {
    if (!send.written) return;
    send.written = false;
    this.#waiting++;
  }

  #pauseWrites(): void {
    if (this.#pause !== null) return;
    this.#pause = setTimeout(() => {
      this.#pause = null;
      this.pump();
    }, backoffDelay(++this.#retries, this.#policy));
  }

  #clearPause(): void {
    if (this.#pause !== null) clearTimeout(this.#pause);
    this.#pause = null;
  }
}
