/**
 * A client device for fault tests: the behaviour PROTOCOL.md asks of a real
 * client, and a record of what it saw.
 *
 * - It reconnects whenever its socket closes (the node restarts a thread,
 *   closes 1001 while shutting down, …) until `stop`.
 * - A send is repeated with the same client id after every reconnect and
 *   after `unavailable`, until it is answered `sent` (or refused with
 *   another code, which is recorded).
 * - Inbox frames are processed once per inbox number (the client's inbox
 *   dedupe): a number at or below the highest processed is a repeat after
 *   a reconnect and is only acknowledged again.
 *
 * The record (`seen`, `sent`, `refused`) is what the history checker reads.
 */
import WebSocket from 'ws';
import type { Frame } from '../fixtures/chat-node.js';

export interface SentRecord {
  id: string;
  to: string;
  conv: string;
  seq: number;
  /** When the request went out first, and when `sent` came back (ms since the epoch). */
  issuedAt: number;
  answeredAt: number;
}

export class FaultDevice {
  /** Inbox frames, each inbox number once, in the order processed. */
  readonly seen: Frame[] = [];
  readonly sent = new Map<string, SentRecord>();
  readonly refused: Array<{ id: string; code: string; message: string }> = [];
  /** Other errors (not answers to sends), kept for the failure message. */
  readonly errors: Frame[] = [];
  reconnects = 0;
  private highest = 0;
  private ws: WebSocket | null = null;
  private ready = false;
  private stopped = false;
  private readonly pending = new Map<string, { to: string; body: unknown; issuedAt: number }>();
  private readonly requests = new Map<string, (f: Frame) => void>();
  private rid = 0;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly user: string,
    readonly device: string,
    private readonly url: string,
    private readonly token: string,
  ) {}

  /** Connects and resolves at the first `ready` (later reconnects happen on their own). */
  start(): Promise<void> {
    return new Promise((resolve) => this.open(resolve));
  }

  get outstanding(): number {
    return this.pending.size;
  }

  send(id: string, to: string, body: unknown): void {
    this.pending.set(id, { to, body, issuedAt: Date.now() });
    if (this.ready) this.write({ t: 'send', id, to, body });
  }

  /** A request answered by a frame carrying its `rid` (no retry: the caller decides). */
  request(f: Frame, timeoutMs = 10_000): Promise<Frame> {
    const rid = `q${++this.rid}`;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.requests.delete(rid);
        reject(new Error(`${this.user}/${this.device}: no answer to ${f.t} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.requests.set(rid, (x) => {
        clearTimeout(t);
        resolve(x);
      });
      this.write({ ...f, rid });
    });
  }

  /** Whether the last connection is authenticated. */
  get isReady(): boolean {
    return this.ready;
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.ws?.terminate();
  }

  private write(f: Frame): void {
    if (this.ws !== null && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(f));
  }

  private open(onReady?: () => void): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.url, ['parley.v1.json'], { perMessageDeflate: false });
    this.ws = ws;
    this.ready = false;
    ws.on('open', () => ws.send(JSON.stringify({ t: 'auth', token: this.token })));
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ready = false;
      if (this.stopped) return;
      this.reconnects++;
      setTimeout(() => this.open(onReady), 20 + Math.floor(Math.random() * 80));
    });
    ws.on('message', (data: Buffer) => this.frame(JSON.parse(data.toString()) as Frame, onReady));
  }

  private frame(f: Frame, onReady?: () => void): void {
    if (f.t === 'ready') {
      this.ready = true;
      for (const [id, p] of this.pending) this.write({ t: 'send', id, to: p.to, body: p.body });
      onReady?.();
      return;
    }
    if (typeof f.rid === 'string' && this.requests.has(f.rid)) {
      const r = this.requests.get(f.rid)!;
      this.requests.delete(f.rid);
      r(f);
      return;
    }
    if (f.t === 'sent') {
      const p = this.pending.get(f.id);
      if (p === undefined) return; // a repeated answer
      this.pending.delete(f.id);
      this.sent.set(f.id, { id: f.id, to: p.to, conv: f.conv, seq: f.seq, issuedAt: p.issuedAt, answeredAt: Date.now() });
      return;
    }
    if (f.t === 'error') {
      if (typeof f.id === 'string' && this.pending.has(f.id)) {
        if (f.code === 'unavailable' || f.code === 'rate_limited') {
          // The same id again, a little later: the node answers the first `sent` if it stored it.
          this.scheduleRetry();
          return;
        }
        this.pending.delete(f.id);
        this.refused.push({ id: f.id, code: f.code, message: f.message });
        return;
      }
      this.errors.push(f);
      return;
    }
    if (typeof f.inbox === 'number') {
      if (f.inbox > this.highest) {
        this.highest = f.inbox;
        this.seen.push(f);
      }
      this.write({ t: 'ack', inbox: f.inbox });
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.ready) for (const [id, p] of this.pending) this.write({ t: 'send', id, to: p.to, body: p.body });
    }, 100);
  }
}
