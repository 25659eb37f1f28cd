/**
 * PushSender: the durable outbox of push notifications, one per thread.
 *
 * A user actor appends a notification to the outbox of its own partition in
 * the same transaction as the inbox entry, so a notification exists exactly
 * when its message was stored. This sender reads each partition's outbox
 * in order, hands entries to the provider, and acknowledges them once the
 * provider succeeded. A failure is retried after 1 s, doubling up to 5 min,
 * for at most `maxAttempts` (default 10) before the entry is dropped (and
 * counted). At start it drains whatever a previous run left, so a crash
 * delays notifications but loses none.
 *
 * Order: per partition, notifications go out in outbox order, one at a
 * time; a failing one holds back the ones behind it in its partition.
 */
import { partitionOf } from '../../actors/partition.js';
import type { Queue, Store } from '../../store/index.js';
import type { PushNotification, PushProvider } from './provider.js';

const CONSUMER = 'sender';

/** An owner id that hashes to `p`, so the outbox of p lives in partition p. */
export function outboxOwner(p: number, partitions: number): string {
  for (let n = 0; ; n++) {
    const id = `push:${p}:${n}`;
    if (partitionOf(id, partitions) === p) return id;
  }
}

export class PushSender {
  private readonly owners = new Map<number, string>();
  private readonly busy = new Set<number>();
  private readonly timers = new Map<number, ReturnType<typeof setTimeout>>();
  private readonly attempts = new Map<number, number>();
  private stopped = false;
  readonly counts = { sent: 0, failed: 0, dropped: 0 };

  constructor(
    private readonly store: Store,
    readonly outbox: Queue<PushNotification>,
    private readonly provider: PushProvider,
    private readonly partitions: number,
    private readonly maxAttempts = 10,
  ) {}

  owner(p: number): string {
    let o = this.owners.get(p);
    if (o === undefined) this.owners.set(p, (o = outboxOwner(p, this.partitions)));
    return o;
  }

  /** Subscribes the sender to the outboxes of `owned` and drains them. */
  async start(owned: number[]): Promise<void> {
    for (const p of owned) {
      const info = await this.outbox.info(this.owner(p));
      if (info.consumers[CONSUMER] === undefined) await this.outbox.subscribe(this.owner(p), CONSUMER, 'start');
      this.kick(p);
    }
  }

  /** Something was appended to partition p's outbox. */
  kick(p: number): void {
    if (this.stopped || this.busy.has(p) || this.timers.has(p)) return;
    this.busy.add(p);
    void this.drain(p).finally(() => this.busy.delete(p));
  }

  private async drain(p: number): Promise<void> {
    const owner = this.owner(p);
    for (;;) {
      if (this.stopped) return;
      const rows = await this.outbox.readFor(owner, CONSUMER, 32);
      if (rows.length === 0) return;
      for (const r of rows) {
        try {
          await this.provider.notify(r.value);
          this.counts.sent++;
          this.attempts.delete(p);
        } catch {
          this.counts.failed++;
          const n = (this.attempts.get(p) ?? 0) + 1;
          if (n < this.maxAttempts) {
            this.attempts.set(p, n);
            const delay = Math.min(300_000, 1000 * 2 ** (n - 1));
            this.timers.set(
              p,
              setTimeout(() => {
                this.timers.delete(p);
                this.kick(p);
              }, delay),
            );
            return;
          }
          this.attempts.delete(p);
          this.counts.dropped++;
        }
        await this.outbox.ack(owner, CONSUMER, r.seq);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
