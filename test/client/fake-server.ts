/**
 * A small stand-in for a Parley node, speaking docs/protocol.md over `ws` on
 * 127.0.0.1 (port 0), for testing the client before the real node exists.
 *
 * Default behaviour, per connection: the first frame must be `auth` (token
 * `bad` gets `error unauthorized` and close 4001, anything else `ready` with
 * the last acknowledged inbox); `send` gets `sent` with the next `seq` of its
 * conversation, and the same `sent` again for a repeated id; `ack` moves the
 * acknowledged inbox; `ping` gets `pong`. Everything else is silent unless a
 * test sets a handler with `handle(t, fn)`, which replaces the default for
 * that `t` (and may call `defaultHandle`).
 *
 * Frames from a `parley.v1.msgpack` client are decoded with msgpackr's
 * `unpack` and default options, as an unrelated server would.
 *
 * Also the helpers the client tests share: `msgFrame`, `sleep`, `until`,
 * `rejectsWith`.
 */
import assert from 'node:assert/strict';
import { WebSocketServer, type WebSocket } from 'ws';
import { unpack } from 'msgpackr';
import { jsonCodec, msgpackCodec, type Codec } from '../../src/client/codec.js';
import { ParleyClientError } from '../../src/client/errors.js';
import { SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK } from '../../src/protocol/connection.js';

export type Frame = Record<string, any> & { t: string };

export interface FakeConn {
  readonly index: number;
  readonly ws: WebSocket;
  readonly protocol: string;
  /** Every frame received on this connection, decoded. */
  readonly frames: Frame[];
  /** Whether each received frame was binary. */
  readonly binary: boolean[];
  authed: boolean;
  send(frame: object): void;
  /** Sends several frames in one TCP write. */
  sendBurst(frames: object[]): void;
  close(code?: number, reason?: string): void;
}

type Handler = (frame: Frame, conn: FakeConn) => void;

interface Waiter {
  match(frame: Frame, conn: FakeConn): boolean;
  resolve(v: { frame: Frame; conn: FakeConn }): void;
}

export class FakeServer {
  readonly conns: FakeConn[] = [];
  user = 'alice';
  device = 'phone';
  /** The device's last acknowledged inbox, as `ready` reports it. */
  acked = 0;
  readonly #wss: WebSocketServer;
  readonly #handlers = new Map<string, Handler>();
  readonly #sent = new Map<string, object>();
  readonly #seqs = new Map<string, number>();
  #waiters: Waiter[] = [];
  #connWaiters: Array<(c: FakeConn) => void> = [];

  private constructor(wss: WebSocketServer) {
    this.#wss = wss;
    wss.on('connection', (ws) => this.#accept(ws));
  }

  static start(): Promise<FakeServer> {
    return new Promise((resolve, reject) => {
      const wss = new WebSocketServer({
        host: '127.0.0.1',
        port: 0,
        path: '/v1/ws',
        handleProtocols: (offered) => {
          for (const p of offered) if (p === SUBPROTOCOL_JSON || p === SUBPROTOCOL_MSGPACK) return p;
          return false;
        },
      });
      wss.once('error', reject);
      wss.once('listening', () => resolve(new FakeServer(wss)));
    });
  }

  get url(): string {
    const addr = this.#wss.address();
    if (addr === null || typeof addr === 'string') throw new Error('unexpected address');
    return `ws://127.0.0.1:${addr.port}/v1/ws`;
  }

  /** Every frame received, on every connection, in order. */
  get frames(): Frame[] {
    return this.conns.flatMap((c) => c.frames);
  }

  framesOf(t: string): Frame[] {
    return this.frames.filter((f) => f.t === t);
  }

  handle(t: string, fn: Handler): void {
    this.#handlers.set(t, fn);
  }

  /** The next frame (already received ones do not count) that matches. */
  waitFor(match: (frame: Frame, conn: FakeConn) => boolean, timeoutMs = 2_000): Promise<{ frame: Frame; conn: FakeConn }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`));
      }, timeoutMs);
      const waiter: Waiter = {
        match,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  waitForType(t: string, timeoutMs?: number): Promise<{ frame: Frame; conn: FakeConn }> {
    return this.waitFor((f) => f.t === t, timeoutMs);
  }

  /** Resolves with connection number `index` (0-based) once it exists. */
  connection(index: number, timeoutMs = 2_000): Promise<FakeConn> {
    const existing = this.conns[index];
    if (existing !== undefined) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connection #${index} within ${timeoutMs} ms`)), timeoutMs);
      const check = (c: FakeConn) => {
        if (c.index !== index) return;
        clearTimeout(timer);
        this.#connWaiters = this.#connWaiters.filter((w) => w !== check);
        resolve(c);
      };
      this.#connWaiters.push(check);
    });
  }

  /** The default behaviour for a frame (see the header). */
  defaultHandle(frame: Frame, conn: FakeConn): void {
    switch (frame.t) {
      case 'send': {
        const previous = this.#sent.get(frame.id);
        if (previous !== undefined) {
          conn.send(previous);
          return;
        }
        const conv = String(frame.to).startsWith('group:') ? `g:${String(frame.to).slice(6)}` : dmConv(this.user, String(frame.to).slice(5));
        const seq = (this.#seqs.get(conv) ?? 0) + 1;
        this.#seqs.set(conv, seq);
        const sent = { t: 'sent', id: frame.id, conv, seq, ts: 1_700_000_000_000 + seq };
        this.#sent.set(frame.id, sent);
        conn.send(sent);
        return;
      }
      case 'ack':
        this.acked = Math.max(this.acked, frame.inbox);
        return;
      case 'ping':
        conn.send({ t: 'pong', rid: frame.rid });
        return;
      default:
    }
  }

  /** Closes every connection and the server. */
  close(): Promise<void> {
    for (const c of this.conns) c.ws.terminate();
    return new Promise((resolve) => this.#wss.close(() => resolve()));
  }

  #accept(ws: WebSocket): void {
    const codec: Codec = ws.protocol === SUBPROTOCOL_MSGPACK ? msgpackCodec : jsonCodec;
    const frames: Frame[] = [];
    const binary: boolean[] = [];
    const conn: FakeConn = {
      index: this.conns.length,
      ws,
      protocol: ws.protocol,
      frames,
      binary,
      authed: false,
      send: (frame) => {
        if (ws.readyState === ws.OPEN) ws.send(codec.encode(frame));
      },
      sendBurst: (list) => {
        if (ws.readyState !== ws.OPEN) return;
        const socket = (ws as unknown as { _socket: import('node:net').Socket })._socket;
        socket.cork();
        for (const f of list) ws.send(codec.encode(f));
        process.nextTick(() => socket.uncork());
      },
      close: (code = 1000, reason = '') => ws.close(code, reason),
    };
    ws.on('error', () => {}); // an unhandled socket error would end the test process
    this.conns.push(conn);
    for (const w of [...this.#connWaiters]) w(conn);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const frame = (codec === msgpackCodec ? unpack(data) : JSON.parse(data.toString('utf8'))) as Frame;
      frames.push(frame);
      binary.push(isBinary);
      this.#onFrame(frame, conn);
      for (const w of [...this.#waiters]) {
        if (w.match(frame, conn)) {
          this.#waiters = this.#waiters.filter((x) => x !== w);
          w.resolve({ frame, conn });
        }
      }
    });
  }

  #onFrame(frame: Frame, conn: FakeConn): void {
    const custom = this.#handlers.get(frame.t);
    if (!conn.authed && frame.t === 'auth' && custom === undefined) {
      if (frame.token === 'bad') {
        conn.send({ t: 'error', code: 'unauthorized', message: 'bad token' });
        conn.close(4001, 'unauthorized');
        return;
      }
      conn.authed = true;
      conn.send({ t: 'ready', user: this.user, device: this.device, inbox: this.acked, now: Date.now() });
      return;
    }
    if (custom !== undefined) custom(frame, conn);
    else this.defaultHandle(frame, conn);
  }
}

export function dmConv(a: string, b: string): string {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

/** A `msg` frame with the given inbox number. */
export function msgFrame(inbox: number, body: unknown = `m${inbox}`): Frame {
  return { t: 'msg', inbox, conv: 'dm:alice:bob', seq: inbox, id: `id-${String(inbox).padStart(6, '0')}`, from: 'bob', device: 'd1', ts: 1_700_000_000_000 + inbox, type: 'text', body };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves once `check()` holds, polling every 5 ms; rejects after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 2_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** Awaits `p` and asserts that it rejects with a `ParleyClientError` of `code`; returns that error. */
export async function rejectsWith(p: Promise<unknown>, code: string): Promise<ParleyClientError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ParleyClientError, `expected ParleyClientError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected a rejection with ${code}`);
}
