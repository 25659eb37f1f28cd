/**
 * WriteBehind: one actor's writes, batched, with one transaction in flight.
 *
 * An actor must not await each commit (a conversation would then take one
 * message per disk sync), nor run several commits at once (if an earlier
 * one failed after a later one succeeded, the log would have a hole). So:
 * writes that arrive while a commit is in flight are gathered into the next
 * transaction, which starts when the previous one is durable — the store's
 * group commit then merges many actors' transactions into one synced batch.
 *
 * `write` resolves once that write is durable. If a commit fails, every
 * write in it rejects and `onFail` is called: the actor should stop and be
 * activated again from what is on disk, since its memory is ahead of it.
 *
 * An actor that crashed or was stopped may leave a commit in flight. Its
 * next activation must not read its state before that commit settled (it
 * would number inbox entries the commit is about to take, or miss its
 * rows), so `settled(owner)` waits for the commits of an owner's earlier
 * writers; actors await it before their first read.
 */
import type { Store, Transaction } from '../store/index.js';

type Build = (tx: Transaction) => void;

interface Pending {
  build: Build;
  resolve(): void;
  reject(e: unknown): void;
}

/** Commits in flight per owner, on this thread (the store and its owners' actors are per thread). */
const inFlight = new Map<string, Promise<unknown>>();

export class WriteBehind {
  /** Resolves once every commit of `owner` started so far has settled (succeeded or failed). */
  static settled(owner: string): Promise<unknown> | undefined {
    return inFlight.get(owner);
  }

  private queue: Pending[] = [];
  private inflight = false;
  private failed: unknown = null;

  constructor(
    private readonly store: Store,
    private readonly owner: string,
    private readonly onFail: (e: unknown) => void,
    /** Runs last in every transaction (e.g. to write the actor's own record once per batch). */
    private readonly finish?: Build,
    /** Called when a commit leaves nothing queued or in flight (an owner may drop the writer then). */
    private readonly drained?: (w: WriteBehind) => void,
  ) {}

  get busy(): boolean {
    return this.inflight || this.queue.length > 0;
  }

  write(build: Build): Promise<void> {
    if (this.failed !== null) return Promise.reject(this.failed);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ build, resolve, reject });
      if (!this.inflight) this.flush();
    });
  }

  private flush(): void {
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    this.inflight = true;
    let tx: Transaction;
    try {
      tx = this.store.transaction(this.owner);
      for (const p of batch) p.build(tx);
      this.finish?.(tx);
    } catch (e) {
      this.inflight = false;
      this.fail(batch, e);
      return;
    }
    const commit = tx.commit();
    const settled = commit.then(
      () => undefined,
      () => undefined,
    );
    inFlight.set(this.owner, settled);
    void settled.then(() => {
      if (inFlight.get(this.owner) === settled) inFlight.delete(this.owner);
    });
    commit.then(
      () => {
        this.inflight = false;
        for (const p of batch) p.resolve();
        this.flush();
        if (!this.inflight && this.queue.length === 0) this.drained?.(this);
      },
      (e) => {
        this.inflight = false;
        this.fail(batch, e);
      },
    );
  }

  private fail(batch: Pending[], e: unknown): void {
    this.failed = e;
    for (const p of [...batch, ...this.queue]) p.reject(e);
    this.queue = [];
    this.onFail(e);
  }
}
