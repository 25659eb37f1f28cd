/**
 * The receiving side of the inbox: at-most-once delivery to handlers on top
 * of the server's at-least-once, and the position the device may acknowledge.
 *
 * - A frame whose `inbox` is not above the highest seen (or the `ready.inbox`
 *   of a connection) is a repeat and is dropped; the server resends after a
 *   reconnect everything after the last ack it got, which may include
 *   frames already handled.
 * - Frames are handed over one at a time, in inbox order; the next waits for
 *   the promise the previous one's handlers returned, if any. Order matters
 *   to handlers (a `read_sync` after the `msg` it reads), and a cumulative
 *   ack of n must mean that everything up to n was handled.
 * - `ackable` is what may be acknowledged: the last handled frame (with
 *   `autoAck`) or what `ack(n)` was given, whichever is higher; only what
 *   `ack(n)` was given without `autoAck`. The connection caps it at what the
 *   server sent on that connection.
 */
import type { InboxFrame } from '../protocol/server-frames.js';

export class Inbox {
  readonly #deliver: (frame: InboxFrame) => Promise<void> | undefined;
  readonly #onHandled: () => void;
  readonly #autoAck: boolean;
  #highestSeen = 0;
  #handled = 0;
  #manual = 0;
  #queue: InboxFrame[] = [];
  #head = 0;
  #draining = false;
  #stopped = false;

  /**
   * `deliver` runs the handlers of a frame (returning a promise if some are
   * still running); `onHandled` is called after each frame's handlers finished.
   */
  constructor(deliver: (frame: InboxFrame) => Promise<void> | undefined, onHandled: () => void, autoAck: boolean) {
    this.#deliver = deliver;
    this.#onHandled = onHandled;
    this.#autoAck = autoAck;
  }

  /** What may be acknowledged (before the connection's cap). */
  get ackable(): number {
    return this.#autoAck ? Math.max(this.#handled, this.#manual) : this.#manual;
  }

  /** Everything up to `inbox` is acknowledged already (`ready.inbox`): never deliver it. */
  acknowledged(inbox: number): void {
    if (inbox > this.#highestSeen) this.#highestSeen = inbox;
  }

  /** The application acknowledges up to `inbox`. */
  ack(inbox: number): void {
    if (inbox > this.#manual) this.#manual = inbox;
  }

  /** Takes a frame from the server; false for a repeat, which is dropped. */
  offer(frame: InboxFrame): boolean {
    if (this.#stopped || frame.inbox <= this.#highestSeen) return false;
    this.#highestSeen = frame.inbox;
    this.#queue.push(frame);
    this.#drain();
    return true;
  }

  /** Stops delivering (the client closed); what is queued is dropped, unacknowledged. */
  stop(): void {
    this.#stopped = true;
    this.#queue = [];
    this.#head = 0;
  }

  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    while (!this.#stopped && this.#head < this.#queue.length) {
      const frame = this.#queue[this.#head++] as InboxFrame;
      const running = this.#deliver(frame);
      if (running !== undefined) {
        void running.then(() => {
          this.#draining = false;
          this.#handledUpTo(frame.inbox);
          this.#drain();
        });
        return;
      }
      this.#handledUpTo(frame.inbox);
    }
    this.#queue = [];
    this.#head = 0;
    this.#draining = false;
  }

  #handledUpTo(inbox: number): void {
    if (inbox > this.#handled) this.#handled = inbox;
    this.#onHandled();
  }
}
