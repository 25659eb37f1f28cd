/**
 * ThreadTransport: carries envelopes between the threads of one node.
 *
 * One MessagePort per peer thread (a MessageChannel per unordered pair: each
 * direction of a port is FIFO, so each ordered pair of threads has its own
 * ordered channel). Envelopes are appended to a per-destination outbox and
 * flushed as one msgpackr buffer, transferred (not copied), when the host's
 * scheduler slice ends or at the next event-loop turn, whichever is first.
 * An outbox that reaches `maxBatchFields` (default 4096 fields) is flushed
 * before the next envelope is appended: a batch stays small enough to
 * encode and decode in well under a millisecond, and a large send from one
 * handler reaches the peer in parts that it can start on while the sender
 * is still encoding, instead of the two threads taking turns.
 *
 * One message that cannot be encoded (nested deeper than msgpackr's stack
 * allows, or a value it cannot carry) fails alone: the batch is encoded
 * again envelope by envelope, the offender becomes a dead letter
 * (`unencodable`), a call among them is answered with a `CallError`
 * `unencodable` and a reply with that error instead of its value; the rest
 * of the batch goes out in order. Thrown from a flush, the encoder's
 * `RangeError` would otherwise take the whole process down, every user with
 * it. A batch that cannot be decoded on arrival is dropped and counted
 * (`batchesCorrupt`) for the same reason.
 *
 * While a peer is down (its worker is being restarted) its envelopes are
 * kept, in batches of the same bound, up to `maxHeldFields` (default 4 Mi
 * fields), and sent in order to the new port; beyond that, new envelopes
 * for it are dead letters (`no_route`).
 */
import type { MessagePort } from 'node:worker_threads';
import type { Host } from '../actors/host.js';
import type { Transport } from '../actors/transport.js';
import { decodeBatch, encodeBatch } from './codec.js';
import { W_CALL, W_CAST, W_CAST_RUN, W_REPLY, W_SIGNAL, CAST_FIELDS } from '../actors/transport.js';
import { seededRandom, validateLinkFaults, type LinkFaultConfig, type LinkFaultCounts } from './link-faults.js';

export interface ThreadTransportOptions {
  maxBatchFields?: number;
  maxHeldFields?: number;
}

interface Peer {
  port: MessagePort | null;
  box: unknown[];
  /** Full outboxes kept while the peer is down, oldest first; sent before `box`. */
  held: unknown[][];
  heldFields: number;
  dirty: boolean;
  delayQ: Array<{ at: number; buf: Uint8Array }>;
  delayTimer: ReturnType<typeof setTimeout> | null;
}

export class ThreadTransport implements Transport {
  private readonly peers = new Map<number, Peer>();
  private dirty: Peer[] = [];
  private flushScheduled = false;
  private readonly maxBatch: number;
  private readonly maxHeld: number;
  private faults: Required<LinkFaultConfig> | null = null;
  private rand: () => number = Math.random;
  readonly faultCounts: LinkFaultCounts = { dropped: 0, duplicated: 0, delayed: 0 };
  batchesSent = 0;
  batchesReceived = 0;
  batchesCorrupt = 0;

  constructor(private readonly host: Host, o: ThreadTransportOptions = {}) {
    this.maxBatch = o.maxBatchFields ?? 4096;
    this.maxHeld = o.maxHeldFields ?? 4 * 1024 * 1024;
  }

  /** Connects (or reconnects) the port to `thread`; held envelopes go out first. */
  addPeer(thread: number, port: MessagePort): void {
    let peer = this.peers.get(thread);
    if (peer === undefined) {
      peer = { port: null, box: [], held: [], heldFields: 0, dirty: false, delayQ: [], delayTimer: null };
      this.peers.set(thread, peer);
    }
    peer.port?.close();
    peer.port = port;
    port.on('message', (data: Uint8Array) => {
      this.batchesReceived++;
      let fields: unknown[];
      try {
        fields = decodeBatch(data, this.host);
      } catch {
        this.batchesCorrupt++;
        return;
      }
      this.host.receive(fields);
    });
    // Ports must not keep a thread alive on their own: the runtime decides when it ends.
    port.unref();
    if ((peer.box.length > 0 || peer.held.length > 0) && !peer.dirty) this.markDirty(peer);
  }

  /** The peer died: close its port and hold envelopes for its successor. */
  peerDown(thread: number): void {
    const peer = this.peers.get(thread);
    if (peer === undefined) return;
    peer.port?.close();
    peer.port = null;
    peer.delayQ = [];
    if (peer.delayTimer !== null) clearTimeout(peer.delayTimer);
    peer.delayTimer = null;
  }

  /** Forgets a peer for good (runtime shutdown): its envelopes become dead letters. */
  removePeer(thread: number): void {
    this.peerDown(thread);
    this.peers.delete(thread);
  }

  outbox(thread: number): unknown[] | null {
    const peer = this.peers.get(thread);
    if (peer === undefined) return null;
    const len = peer.box.length;
    if (peer.port === null && peer.heldFields + len >= this.maxHeld) return null;
    if (len >= this.maxBatch) {
      if (peer.port !== null) this.send(peer);
      else {
        // Kept in batches of the usual size, so the successor never gets one huge batch.
        peer.held.push(peer.box);
        peer.heldFields += len;
        peer.box = [];
      }
    }
    if (!peer.dirty) this.markDirty(peer);
    return peer.box;
  }

  flush(): void {
    const d = this.dirty;
    if (d.length === 0) return;
    this.dirty = [];
    for (const peer of d) {
      peer.dirty = false;
      // A peer that is down keeps its envelopes; addPeer flushes them to its successor.
      if (peer.port !== null) this.send(peer);
    }
  }

  setFaults(c: LinkFaultConfig | null): void {
    this.faults = c === null ? null : validateLinkFaults(c);
    this.rand = this.faults === null ? Math.random : seededRandom(this.faults.seed);
  }

  private markDirty(peer: Peer): void {
    peer.dirty = true;
    this.dirty.push(peer);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /** Sends the batches held for a restarted peer, then the outbox (both replaced, never reused). */
  private send(peer: Peer): void {
    if (peer.held.length > 0) {
      const held = peer.held;
      peer.held = [];
      peer.heldFields = 0;
      for (const box of held) this.sendBox(peer, box);
    }
    const box = peer.box;
    if (box.length === 0) return;
    peer.box = [];
    this.sendBox(peer, box);
  }

  private sendBox(peer: Peer, box: unknown[]): void {
    const buf = this.encode(box);
    if (buf === null) return;
    const f = this.faults;
    if (f === null) {
      // Batches still held by a delay that was just switched off go first:
      // posting this one now would overtake them (per-pair FIFO).
      if (peer.delayQ.length > 0) this.delay(peer, buf, 0);
      else this.post(peer, buf);
      return;
    }
    if (f.drop > 0 && this.rand() < f.drop) {
      this.faultCounts.dropped++;
      return;
    }
    const copies = [buf];
    if (f.duplicate > 0 && this.rand() < f.duplicate) {
      this.faultCounts.duplicated++;
      copies.push(buf.slice()); // copied before the first is transferred (and detached)
    }
    for (const b of copies) {
      if (f.delayMs > 0 || peer.delayQ.length > 0) this.delay(peer, b, f.delayMs);
      else this.post(peer, b);
    }
  }

  /** The batch encoded; an envelope that cannot be is taken out of it (module header). Null: nothing left. */
  private encode(box: unknown[]): Uint8Array | null {
    try {
      return encodeBatch(box);
    } catch {
      const kept = this.encodable(box);
      return kept.length > 0 ? encodeBatch(kept) : null;
    }
  }

  /** The envelopes of `box` that encode, in order; each one that does not is failed as it must be. */
  private encodable(box: unknown[]): unknown[] {
    const kept: unknown[] = [];
    const fits = (fields: unknown[]): boolean => {
      try {
        encodeBatch(fields);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < box.length; ) {
      const kind = box[i];
      if (kind === W_CAST_RUN) {
        // A run is split into single casts so that one bad message drops alone.
        const count = box[i + 5] as number;
        const head = [W_CAST, box[i + 1], box[i + 2], box[i + 3], box[i + 4]];
        for (let k = 0; k < count; k++) {
          const env = [...head, box[i + CAST_FIELDS + k]];
          if (fits(env)) kept.push(...env);
          else this.host.deadLetters.record(box[i + 1] as string, 'unencodable');
        }
        i += CAST_FIELDS + count;
        continue;
      }
      const len = kind === W_CAST ? CAST_FIELDS : kind === W_CALL ? 10 : kind === W_REPLY ? 5 : kind === W_SIGNAL ? 9 : box.length - i;
      const env = box.slice(i, i + len);
      i += len;
      if (fits(env)) {
        kept.push(...env);
        continue;
      }
      const failure = { code: 'unencodable', message: 'the message could not be encoded to cross threads' };
      if (kind === W_REPLY) {
        // The caller still gets an answer: the error instead of the value.
        kept.push(W_REPLY, env[1], env[2], false, failure);
        continue;
      }
      this.host.deadLetters.record(typeof env[1] === 'string' ? env[1] : '?', 'unencodable');
      if (kind === W_CALL && env[6] === this.host.thread) {
        // The caller is on this thread: answer its call here, after this flush.
        const reply = [W_REPLY, env[7], env[8], false, failure];
        setImmediate(() => this.host.receive(reply));
      }
    }
    return kept;
  }

  private delay(peer: Peer, buf: Uint8Array, ms: number): void {
    this.faultCounts.delayed++;
    peer.delayQ.push({ at: Date.now() + ms, buf });
    if (peer.delayTimer === null) this.armDelay(peer);
  }

  private armDelay(peer: Peer): void {
    const head = peer.delayQ[0];
    if (head === undefined) {
      peer.delayTimer = null;
      return;
    }
    peer.delayTimer = setTimeout(() => {
      const now = Date.now();
      while (peer.delayQ.length > 0 && peer.delayQ[0]!.at <= now) this.post(peer, peer.delayQ.shift()!.buf);
      this.armDelay(peer);
    }, Math.max(0, head.at - Date.now()));
  }

  private post(peer: Peer, buf: Uint8Array): void {
    if (peer.port === null) return;
    this.batchesSent++;
    peer.port.postMessage(buf, [buf.buffer as ArrayBuffer]);
  }
}
