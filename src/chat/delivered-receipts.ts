/**
 * Delivered receipts, the recipient's side: once a device of the user has
 * acknowledged inbox entries, the senders of the messages among them get a
 * `delivered` receipt in their own inboxes.
 *
 * Guarantees
 * - Every message a device acknowledged gets its receipt to its sender,
 *   across thread deaths and failed writes: the receipts are handed over
 *   by `call`, and the sender answers once its receipt entry is durable.
 *   Only then does the position `done` move, and it is stored as the
 *   inbox cursor of the pseudo-consumer `.receipts` (a name no device can
 *   have), so the store keeps the entries it still has to read (a queue
 *   trims only what every consumer acknowledged).
 * - At least once: a handover whose answer was lost is made again, so a
 *   sender may get a receipt twice (the same conversation, by and seqs:
 *   applying it twice changes nothing).
 * - One handover at a time, in inbox order; a failed one is retried after
 *   `RETRY_MS` (1 s) while the user actor lives, and the actor is kept
 *   alive while receipts are owed. A user actor that stops owing receipts
 *   (a thread died) has a wake-up row in the `fanout` table, which the
 *   thread's startup sweep answers with `resume`.
 */
import type { InboxEntry } from './messages.js';

export const RECEIPTS_CONSUMER = '.receipts';
const RETRY_MS = 1000;
/** The bound on one handover: a sender's thread may be restarting. */
const CALL_MS = 10_000;

export interface ReceiptsHost {
  readonly user: string;
  /** The entries (from, to], from memory or the store. */
  entries(after: number, to: number): Promise<InboxEntry[]>;
  /** Hands one receipt entry to a sender; resolves once it is durable there. */
  handOver(sender: string, entry: InboxEntry, timeoutMs: number): Promise<unknown>;
  /** `done` moved: write it (and the wake-up row, if `marker` asks) with the next transaction. */
  moved(): void;
  /** Runs `resume` on the actor after `ms`. */
  later(ms: number): void;
}

export class DeliveredReceipts {
  /** The inbox position every receipt up to which is durable at its sender. */
  done: number;
  private busy = false;
  private retrying = false;
  /** Whether the `.receipts` consumer exists in the store. */
  subscribed: boolean;
  /** The wake-up row: null unknown, or whether this activation wrote it (or was woken by it). */
  marker: boolean | null = null;

  constructor(
    private readonly host: ReceiptsHost,
    consumers: Record<string, number>,
  ) {
    const stored = consumers[RECEIPTS_CONSUMER];
    this.subscribed = stored !== undefined;
    // A user from before this consumer existed: its receipts went out at the time.
    this.done = stored ?? Math.max(0, ...Object.entries(consumers).map(([, n]) => n));
  }

  /** Whether receipts are owed up to `upTo` (the highest device cursor). */
  owes(upTo: number): boolean {
    return upTo > this.done || this.busy;
  }

  /** Hands over the receipts up to `upTo` (the highest device cursor), one batch at a time. */
  run(upTo: number): void {
    if (this.busy || upTo <= this.done) return;
    this.busy = true;
    const from = this.done;
    void this.handOver(from, upTo).then(
      () => {
        this.busy = false;
        if (this.done === from) this.done = upTo;
        this.host.moved();
      },
      () => {
        this.busy = false;
        if (!this.retrying) {
          this.retrying = true;
          this.host.later(RETRY_MS);
        }
      },
    );
  }

  /** The retry timer fired. */
  retried(): void {
    this.retrying = false;
  }

  private async handOver(after: number, to: number): Promise<void> {
    // sender -> conv -> seqs
    const out = new Map<string, Map<string, number[]>>();
    for (const e of await this.host.entries(after, to)) {
      if (e.k !== 'm' || e.from === this.host.user) continue;
      let perConv = out.get(e.from);
      if (perConv === undefined) out.set(e.from, (perConv = new Map()));
      let a = perConv.get(e.conv);
      if (a === undefined) perConv.set(e.conv, (a = []));
      a.push(e.seq);
    }
    const calls: Array<Promise<unknown>> = [];
    for (const [sender, perConv] of out) {
      for (const [conv, seqs] of perConv) calls.push(this.host.handOver(sender, { k: 'r', conv, by: this.host.user, status: 'delivered', seqs }, CALL_MS));
    }
    await Promise.all(calls);
  }
}
