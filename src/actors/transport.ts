/**
 * The contract between a thread's Host and whatever carries envelopes to the
 * other threads (src/transport implements it over MessagePorts; a node link
 * will implement it over sockets).
 *
 * An envelope is a run of fields appended to a flat outbox array, so that a
 * batch of thousands of messages is one array and one encode, with no object
 * per message. The carrier must deliver the fields of one outbox to the peer
 * in the order appended (per-pair FIFO) and hand them to `Host.receive`.
 *
 * | kind       | fields after the kind                                               |
 * |------------|---------------------------------------------------------------------|
 * | W_CAST     | id, partition, thread, incarnation, msg                             |
 * | W_CAST_RUN | id, partition, thread, incarnation, count, msg_1 … msg_count        |
 * | W_CALL     | id, partition, thread, incarnation, msg, replyThread, replyGen, reqId, callerId |
 * | W_REPLY    | replyGen, reqId, ok, value                                          |
 * | W_SIGNAL   | id, partition, thread, incarnation, signalKind, from (ActorRef), arg1, arg2 |
 *
 * W_CAST_RUN is consecutive casts to one target sharing one header (count
 * >= 2): the sender turns its last W_CAST into a run when the next cast in
 * the same outbox goes to the same (id, partition, thread, incarnation) with
 * nothing appended in between. Only adjacent envelopes merge, so the order
 * of the outbox, and with it per-pair FIFO, is unchanged; a receiver handles
 * a run exactly as `count` W_CASTs with that header. Fan-out to many actors
 * keeps the 6-field W_CAST.
 *
 * An outbox array, once handed out, is only ever appended to until the
 * carrier takes it whole and hands out a fresh array: the sender recognises
 * "nothing appended since my last cast" by the array and its length.
 */

export const W_CAST = 0;
export const W_CALL = 1;
export const W_REPLY = 2;
export const W_SIGNAL = 3;
export const W_CAST_RUN = 4;

/** Fields of a W_CAST or a run's header (kind, id, partition, thread, incarnation, msg or count). */
export const CAST_FIELDS = 6;

/** Signal kinds carried by W_SIGNAL. */
export const S_LINK = 0;
export const S_UNLINK = 1;
export const S_EXIT = 2; // arg1 reason, arg2 linked (boolean)
export const S_MONITOR = 3; // arg1 monitor ref
export const S_DEMONITOR = 4; // arg1 monitor ref
export const S_DOWN = 5; // arg1 monitor ref, arg2 reason
export const S_CRASH = 6; // fault injection: arg1 message

export interface Transport {
  /**
   * The outbox for `thread`, to which the caller appends one envelope's
   * fields; the carrier flushes it (once per event-loop turn, or sooner when
   * large). Null when no such thread exists: the caller counts a dead letter.
   */
  outbox(thread: number): unknown[] | null;
  /** Sends what the outboxes hold now. The host calls it at the end of each scheduler slice. */
  flush?(): void;
}
