/**
 * The sending side of cast envelopes: consecutive casts to one target in one
 * outbox share a header (W_CAST_RUN, see transport.ts).
 *
 * Guarantees
 * - Only the last envelope of an outbox is ever extended, and only when
 *   nothing was appended after it: the outbox's order, and so per-pair FIFO,
 *   is exactly what separate W_CASTs would give.
 * - A run merges only casts whose (id, partition, thread, incarnation) are
 *   all equal, so a receiver sees the same header it would have seen on each
 *   W_CAST; a cast to another incarnation or to a virtual ref of the same id
 *   starts a new envelope.
 * - A single cast stays a 6-field W_CAST; the second cast to the same target
 *   turns it into a run in place (kind and the msg slot become W_CAST_RUN and
 *   the count), so fan-out pays nothing for runs.
 *
 * Why: with one header per message the sender pushed, packed and the
 * receiver unpacked six fields and looked the actor up once per message;
 * a stream to one actor was bound by that, not by the payloads.
 */
import type { ActorRef } from './ref.js';
import { CAST_FIELDS, W_CAST, W_CAST_RUN } from './transport.js';

export class CastRuns {
  /** The outbox the last cast went to, and where its envelope starts and ends. */
  private box: unknown[] | null = null;
  private at = 0;
  private end = -1;

  /** Appends a cast of `msg` to `to` to the outbox `ob`. */
  append(ob: unknown[], to: ActorRef, msg: unknown): void {
    // `end` equal to the length means nothing was appended since our last
    // cast: an outbox is only appended to until the carrier replaces it.
    if (ob === this.box && ob.length === this.end) {
      const at = this.at;
      if (ob[at + 1] === to.id && ob[at + 2] === to.partition && ob[at + 3] === to.thread && ob[at + 4] === to.incarnation) {
        if (ob[at] === W_CAST) {
          const first = ob[at + 5];
          ob[at] = W_CAST_RUN;
          ob[at + 5] = 2;
          ob.push(first, msg);
        } else {
          ob[at + 5] = (ob[at + 5] as number) + 1;
          ob.push(msg);
        }
        this.end = ob.length;
        return;
      }
    }
    this.box = ob;
    this.at = ob.length;
    ob.push(W_CAST, to.id, to.partition, to.thread, to.incarnation, msg);
    this.end = this.at + CAST_FIELDS;
  }
}
