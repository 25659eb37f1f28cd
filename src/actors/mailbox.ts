/**
 * Mailbox: the FIFO of one actor's user messages.
 *
 * A growable ring buffer of (meta, message) pairs: `meta` is undefined for a
 * cast and the reply slot for a call. Two slots per entry rather than one
 * object, so a cast allocates nothing. Capacity grows by doubling and never
 * shrinks below 8 entries; an empty mailbox of an idle actor is released by
 * the cell (`null`), so idle actors cost no buffer at all.
 *
 * System signals (links, exits, monitors) do not live here: the cell keeps
 * them in their own queue and handles them first.
 */

export class Mailbox<M = unknown> {
  private buf: unknown[];
  private head = 0; // index of the first slot of the oldest entry
  private count = 0; // entries, not slots

  constructor(initialEntries = 8) {
    // Indices wrap with a mask, so the capacity must be a power of two.
    let cap = 1;
    while (cap < initialEntries) cap *= 2;
    this.buf = new Array(cap * 2);
  }

  get size(): number {
    return this.count;
  }

  push(meta: unknown, msg: M): void {
    const cap = this.buf.length >> 1;
    if (this.count === cap) this.grow();
    const mask = this.buf.length - 1;
    const i = (this.head + this.count * 2) & mask;
    this.buf[i] = meta;
    this.buf[i + 1] = msg;
    this.count++;
  }

  /** Meta of the oldest entry (call only when size > 0). */
  peekMeta(): unknown {
    return this.buf[this.head];
  }

  /** Removes the oldest entry and returns its message; its meta must have been read with peekMeta. */
  shift(): M {
    const h = this.head;
    const msg = this.buf[h + 1] as M;
    this.buf[h] = undefined;
    this.buf[h + 1] = undefined;
    this.head = (h + 2) & (this.buf.length - 1);
    this.count--;
    return msg;
  }

  /** Removes every entry, oldest first, calling `fn(meta, msg)` for each. */
  drain(fn: (meta: unknown, msg: M) => void): void {
    while (this.count > 0) {
      const meta = this.peekMeta();
      fn(meta, this.shift());
    }
  }

  private grow(): void {
    // Capacity is a power of two so the index wraps with a mask.
    const old = this.buf;
    const next = new Array(old.length * 2);
    const mask = old.length - 1;
    for (let k = 0; k < this.count * 2; k++) next[k] = old[(this.head + k) & mask];
    this.buf = next;
    this.head = 0;
  }
}
