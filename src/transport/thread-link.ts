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
 * While a peer is down (its worker is being restarted) its envelopes are
 * kept, in batches of the same bound, up to `maxHeldFields` (default 4 Mi
 * fields), and sent in order to the new port; beyond that, new envelopes
 * for it are dead letters (`no_route`).
 */
import type { MessagePort } from 'node:worker_threads';
import type { Host } from '../actors/host.js';
import type { Transport } from '../actors/transport.js';
import { decodeBatch, encodeBatch } from './codec.js';
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
      this.host.receive(decodeBatch(data, this.host));
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
    const buf = encodeBatch(box);
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
