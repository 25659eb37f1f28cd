/**
 * Dead letters: messages that reached no actor.
 *
 * Counted by reason, and the last 64 kept (target and reason, never the
 * message body: bodies may be private and large). Listeners see each one as
 * it happens, for logs and metrics.
 *
 * | reason            | when                                                              |
 * |-------------------|-------------------------------------------------------------------|
 * | `noproc`          | the pinned actor has stopped, or no kind is registered for the id |
 * | `stopped`         | the actor stopped with the message still in its mailbox          |
 * | `mailbox_full`    | a bounded mailbox dropped it                                       |
 * | `no_route`        | no thread owns the target (unknown thread or shutting down)       |
 * | `activation_failed` | the virtual actor's `init` threw                                 |
 * | `unencodable`     | it could not be encoded to cross threads (nested too deep, say)   |
 */

export type DeadLetterReason = 'noproc' | 'stopped' | 'mailbox_full' | 'no_route' | 'activation_failed' | 'unencodable';

export interface DeadLetter {
  to: string;
  reason: DeadLetterReason;
  at: number;
}

const KEEP = 64;

export class DeadLetters {
  readonly counts: Record<DeadLetterReason, number> = { noproc: 0, stopped: 0, mailbox_full: 0, no_route: 0, activation_failed: 0, unencodable: 0 };
  private recentBuf: DeadLetter[] = [];
  private listeners: Array<(d: DeadLetter) => void> = [];

  record(to: string, reason: DeadLetterReason): void {
    this.counts[reason]++;
    const d = { to, reason, at: Date.now() };
    if (this.recentBuf.length === KEEP) this.recentBuf.shift();
    this.recentBuf.push(d);
    for (const l of this.listeners) l(d);
  }

  get total(): number {
    let n = 0;
    for (const k in this.counts) n += this.counts[k as DeadLetterReason];
    return n;
  }

  recent(): readonly DeadLetter[] {
    return this.recentBuf;
  }

  /** Returns an unsubscribe function. */
  subscribe(fn: (d: DeadLetter) => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }
}
