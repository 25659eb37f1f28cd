/**
 * Announcements of group changes: how a group tells its users that members
 * joined or left, or that it was renamed, without losing or repeating any.
 *
 * Guarantees
 * - A change and its announcement are made durable together (the pending
 *   announcement is part of the group's record), before anyone is told.
 * - Each user it goes to gets it until that user answers, across thread
 *   deaths and failed writes: the user actor answers once its part (the
 *   membership, the group event in its inbox) is durable, and a pass that
 *   misses some is run again by the group's retry tick (and after a restart,
 *   since the record keeps what is left).
 * - Exactly once per user: announcements are numbered (`ev`), and a user
 *   applies number n only if it has applied fewer (UserConv.ev). So they
 *   are applied in order too: a pass never gives a user an announcement
 *   while an earlier one for it is still outstanding.
 * - Users are called `SLICE` (64) at a time, each slice awaited before the
 *   next: a thousand user actors activated at once would block their thread
 *   for seconds, long enough for its supervisor to restart it.
 */
import type { Announcement, ConvRecord } from './tables.js';
import type { InboxEntry, UserMsg } from './messages.js';

/** User actors called at once (module header). */
export const SLICE = 64;

/** Runs `f` for every user, `SLICE` at a time, each slice awaited before the next. */
export async function inSlices<T>(users: string[], f: (u: string) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < users.length; i += SLICE) out.push(...(await Promise.all(users.slice(i, i + SLICE).map(f))));
  return out;
}

/** Adds the announcement of a change just made to the record (the caller makes it durable, then runs `deliver`). */
export function announce(rec: ConvRecord, entry: InboxEntry, to: string[], changed: string[], member: boolean): void {
  const ev = (rec.ev ?? 0) + 1;
  rec.ev = ev;
  const left = [...new Set([...to, ...changed])];
  (rec.pending ??= []).push({ ev, entry, changed, member, lastSeq: rec.lastSeq, lastTs: rec.lastTs, to, left });
}

/** What user `u` is told of `a`. */
export function messageFor(conv: string, a: Announcement, u: string): UserMsg {
  return {
    t: 'membership',
    conv,
    ev: a.ev,
    ...(a.changed.includes(u) ? { member: a.member } : {}),
    lastSeq: a.lastSeq,
    lastTs: a.lastTs,
    ...(a.to.includes(u) ? { entry: a.entry } : {}),
  };
}

export class Announcer {
  private running: Promise<boolean> | null = null;

  constructor(
    private readonly conv: string,
    /** Calls a user actor; rejects when it did not answer. */
    private readonly call: (u: string, m: UserMsg) => Promise<unknown>,
  ) {}

  /**
   * One pass over the pending announcements, oldest first; resolves true
   * when none is left. The record changes (the caller persists it). Passes
   * do not overlap: a second caller shares the running one.
   */
  deliver(rec: ConvRecord): Promise<boolean> {
    if (this.running !== null) return this.running;
    const p = this.pass(rec).finally(() => {
      this.running = null;
    });
    this.running = p;
    return p;
  }

  private async pass(rec: ConvRecord): Promise<boolean> {
    const blocked = new Set<string>();
    for (const a of rec.pending ?? []) {
      const targets = a.left.filter((u) => !blocked.has(u));
      const ok = await inSlices(targets, (u) =>
        this.call(u, messageFor(this.conv, a, u)).then(
          () => true,
          () => false,
        ),
      );
      const done = new Set(targets.filter((_, i) => ok[i]));
      a.left = a.left.filter((u) => !done.has(u));
      for (const u of a.left) blocked.add(u);
    }
    const left = (rec.pending ?? []).filter((a) => a.left.length > 0);
    if (left.length > 0) rec.pending = left;
    else delete rec.pending;
    return left.length === 0;
  }
}
