/**
 * ParleyClient: one device's connection to a Parley node, over protocol v1.
 *
 * Guarantees
 * - Connect. `connect()` opens the socket, sends `auth` first and resolves
 *   with the `ready` frame, or rejects (`unauthorized`, `connect_failed`,
 *   `timeout` after `requestTimeoutMs`, 10 000 ms by default). A first connect
 *   that fails is not retried: the caller decides (the client stays usable
 *   and `connect()` may be called again). Once a `ready` has been seen, every
 *   drop is retried (below).
 * - Inbox. Frames that carry `inbox` (`msg`, `receipt`, `group_event`,
 *   `read_sync`, and any later frame type with an `inbox`) reach handlers at
 *   most once per client, in inbox order, one at a time: the server is
 *   at-least-once, so a frame whose `inbox` is not above the highest seen is
 *   dropped. The next frame waits for the previous one's handlers, including
 *   the promises async handlers return. With `autoAck` (the default) the
 *   client then acknowledges cumulatively, once per burst (on the next turn
 *   of the event loop), never past what the server has sent on the current
 *   connection (acking beyond is `bad_request`). A handler that throws is
 *   reported on `error` (`handler_failed`) and its entry is still acknowledged:
 *   a cumulative ack cannot skip one entry, and a poison message retried
 *   forever would stall the whole inbox. With `autoAck: false` nothing is
 *   acknowledged until `ack(n)`.
 * - Sends. `send` and `sendPayloads` give each message a stable client id
 *   (nanoid, 21 characters, or the caller's) and resolve with `sent` once the
 *   message is durable. A send not yet answered when the connection drops is
 *   written again after the reconnect, with the same id, in the original
 *   order; the server's dedupe by id makes that safe. A send refused with
 *   `rate_limited` or `unavailable` is retried with the same id after a
 *   backoff (`rateLimitRetry`, 50 ms doubling to 2 s, jittered); meanwhile no
 *   send is written, so the retried ones go first. Any other `error` for the
 *   id rejects the send. A send never times out: one that timed out could
 *   still be delivered, so it stays pending until answered, rejected or the
 *   client closes.
 * - Requests (`history`, `chats`, `presenceSub`, `settings`, `group*`,
 *   `keysPut`, `keysGet`, `devices`, `deviceRemove`, `ping`) carry a `rid` and resolve with the answer
 *   of that `rid` or reject with the `error` of that `rid`, or `timeout` after
 *   `requestTimeoutMs`. A request made while disconnected is written after
 *   the next `ready`; one written on a connection that drops before its
 *   answer rejects with `disconnected` and is not repeated (`group_create`
 *   and `keys_get` are not idempotent).
 * - Reconnect. After a drop the client waits (`reconnect`: 250 ms doubling to
 *   30 s, jittered; unlimited attempts by default), authenticates again (the
 *   token function, if given, is called again) and the server resends
 *   everything after the last ack. The backoff starts over once a connection
 *   has stayed ready for 5 s; `maxAttempts` counts the attempts since. Close
 *   codes 4001 (unauthorized) and 4010 (the same device connected elsewhere)
 *   end the client: no reconnect, a `close` event with the code, pending
 *   work rejected.
 * - Heartbeat. A connection silent for `heartbeatMs` (30 000 by default) gets
 *   a `ping`; without a `pong` within `requestTimeoutMs` it is dropped and
 *   reconnected. A half-open TCP connection (a phone that changed networks,
 *   a node that lost power) otherwise looks alive for as long as the OS
 *   keeps it, with every send stuck behind it.
 * - Presence subscriptions are renewed after every reconnect (one
 *   `presence_sub` with every user subscribed so far): the contract does not
 *   say they outlive a connection, and renewing is harmless if they do.
 * - `read(conv, seq)` made while disconnected is kept (the highest per
 *   conversation) and written after the next `ready`; `typing` is dropped.
 * - `close()` ends the client for good; pending sends and requests reject
 *   with `closed`.
 *
 * Not guaranteed: order between a send refused with `rate_limited` and a
 * later send the server accepted before the retry (the server decides which
 * it takes; pipelining stays in order otherwise). Handlers are not awaited
 * for `presence`, `typing`, `ready`, `close`, `reconnect` and `error`.
 *
 * Events: `msg`, `receipt`, `group_event`, `read_sync`, `presence`, `typing`
 * (the server frames), `error` (a `ParleyClientError` that answers no pending
 * call; dropped when nobody listens), `ready` (every authentication, first
 * and after reconnects), `reconnect` (a drop that will be retried, with the
 * attempt and the delay) and `close` (the client ended, with the close code).
 *
 * The parts live beside this file: `inbox.ts` (dedupe, handler order, what
 * may be acknowledged), `outbox.ts` (sends, resends, rate-limit pauses),
 * `requests.ts` (rids and deadlines), `events.ts` (the emitter). This file is
 * the connection: its states, the socket, reconnecting, and the wiring.
 */
import { nanoid } from 'nanoid';
import { backoffDelay } from './backoff.js';
import { codecFor, codecForSubprotocol, wireLength, type Codec, type WireData } from './codec.js';
import { ParleyClientError } from './errors.js';
import { Emitter, type ParleyClientEvent, type ParleyClientHandler } from './events.js';
import { CloseCode } from '../protocol/connection.js';
import { CLIENT_ID_PATTERN, isClientId, type ConvId, type SendTarget } from '../protocol/ids.js';
import type { Audience, ClientFrame, OneTimePreKey, RequestFrame, SendFrame, SignedPreKey } from '../protocol/client-frames.js';
import type {
  AnswerFrame,
  ChatSummary,
  ChatsFrame,
  DeviceInfo,
  DeviceKeys,
  DevicesFrame,
  ErrorFrame,
  Group,
  GroupFrame,
  HistoryFrame,
  InboxFrame,
  KeysFrame,
  OkFrame,
  PongFrame,
  PresenceFrame,
  ReadyFrame,
  SentFrame,
  TypingFrame,
} from '../protocol/server-frames.js';
import { Inbox } from './inbox.js';
import { normalizeOptions, type NormalizedOptions, type ParleyClientOptions } from './options.js';
import { Outbox, type SendResult, type Writer } from './outbox.js';
import { Requests } from './requests.js';
import { DEFAULT_WS_OPTIONS, OPEN, messageData, type WebSocketLike } from './socket.js';

export type { CloseInfo, ParleyClientEvent, ParleyClientEvents, ParleyClientHandler, ReconnectInfo } from './events.js';
export type { SendResult } from './outbox.js';

export interface SendOptions {
  /** The client message id, `^[A-Za-z0-9_-]{8,64}$`; a nanoid by default. */
  id?: string;
  type?: string;
}

export interface HistoryOptions {
  /** Exclusive. */
  before?: number;
  /** At most 100; the server's default is 50. */
  limit?: number;
}

export interface KeyBundle {
  identityKey: string;
  signedPreKey: SignedPreKey;
  oneTimePreKeys: OneTimePreKey[];
}

/** A request as the caller builds it: the client adds the `rid`. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type RequestFields = DistributiveOmit<RequestFrame, 'rid'>;

/** What `settings` changes; at least one of the two. */
export interface UserSettings {
  lastSeen?: Audience;
  groupAdd?: Audience;
}

export type ParleyClientState = 'idle' | 'connecting' | 'open' | 'waiting' | 'closed';

/** The close code used where a socket failed or was abandoned without one. */
const ABNORMAL = 1006;
/** How long `close()` waits for the closing handshake before dropping the socket. */
const CLOSE_HANDSHAKE_MS = 1_000;
/**
 * A connection that stayed ready this long resets the reconnect backoff. A
 * reset on `ready` alone would let a node that accepts and then closes at
 * once (a crash loop, or 1009 on a frame the client keeps resending) be
 * hammered every `minMs` for ever.
 */
const STABLE_MS = 5_000;

const INBOX_EVENTS: ReadonlySet<string> = new Set(['msg', 'receipt', 'group_event', 'read_sync']);

const nextTurn: (fn: () => void) => void =
  typeof setImmediate === 'function' ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0);

interface Connection {
  ws: WebSocketLike;
  ready: boolean;
  /** The highest inbox the server sent on this connection (from `ready.inbox`): acks stay at or below it. */
  highestReceived: number;
  /** The highest inbox acknowledged on this connection (from `ready.inbox`). */
  lastAck: number;
  /** Bounds the time from opening to `ready`. */
  readyTimer: ReturnType<typeof setTimeout> | undefined;
  /** When `ready` arrived (ms since the epoch); 0 before. */
  readyAt: number;
  /** When the last frame arrived (ms since the epoch). */
  lastFrameAt: number;
  heartbeat: ReturnType<typeof setTimeout> | undefined;
}

interface Waiter {
  resolve(ready: ReadyFrame): void;
  reject(error: ParleyClientError): void;
}

export class ParleyClient {
  readonly #opts: NormalizedOptions;
  readonly #codec: Codec;
  readonly #events = new Emitter();
  readonly #inbox: Inbox;
  readonly #outbox: Outbox;
  readonly #requests: Requests;
  #state: ParleyClientState = 'idle';
  #conn: Connection | null = null;
  #ready: ReadyFrame | null = null;
  #everReady = false;
  #waiters: Waiter[] = [];
  #ackScheduled = false;
  readonly #heldReads = new Map<ConvId, number>();
  readonly #presenceUsers = new Set<string>();
  #attempts = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  #closing: Promise<void> = Promise.resolve();

  constructor(options: ParleyClientOptions) {
    this.#opts = normalizeOptions(options);
    this.#codec = codecFor(this.#opts.codec);
    this.#inbox = new Inbox(
      (frame) => (INBOX_EVENTS.has(frame.t) ? this.#events.emit(frame.t, frame) : undefined),
      () => {
        if (this.#opts.autoAck) this.#scheduleAck();
      },
      this.#opts.autoAck,
    );
    this.#outbox = new Outbox(this.#opts.rateLimitRetry, () => this.#writer());
    this.#requests = new Requests(this.#opts.requestTimeoutMs);
  }

  get state(): ParleyClientState {
    return this.#state;
  }

  /** The last `ready` frame (user, device, inbox, server time); null before the first. */
  get session(): ReadyFrame | null {
    return this.#ready;
  }

  /** Sends not yet answered by `sent`. */
  get pendingSends(): number {
    return this.#outbox.size;
  }

  /** Adds a handler; returns a function that removes it. */
  on<K extends ParleyClientEvent>(type: K, handler: ParleyClientHandler<K>): () => void {
    return this.#events.on(type, handler);
  }

  off<K extends ParleyClientEvent>(type: K, handler: ParleyClientHandler<K>): void {
    this.#events.off(type, handler);
  }

  // -------------------------------------------------------------------------
  // Connection

  connect(): Promise<ReadyFrame> {
    switch (this.#state) {
      case 'closed':
        return Promise.reject(new ParleyClientError('closed', 'the client is closed'));
      case 'open':
        return Promise.resolve(this.#ready as ReadyFrame);
      case 'idle':
        this.#state = 'connecting';
        void this.#open();
        return this.#wait();
      default:
        return this.#wait();
    }
  }

  /**
   * Ends the client without reconnecting: the socket is closed with 1000,
   * pending sends and requests reject with `closed`. Resolves once the socket
   * has closed (at most 1 s for the closing handshake).
   */
  close(): Promise<void> {
    if (this.#state !== 'closed') this.#finish(CloseCode.normal, 'client closed', undefined);
    return this.#closing;
  }

  #wait(): Promise<ReadyFrame> {
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  async #open(): Promise<void> {
    let token: string;
    try {
      token = typeof this.#opts.token === 'function' ? await this.#opts.token() : this.#opts.token;
      if (typeof token !== 'string' || token === '') throw new TypeError('the token function returned no token');
    } catch (cause) {
      if (this.#state !== 'closed') this.#afterDrop(ABNORMAL, 'no token', new ParleyClientError('connect_failed', 'could not get a token', { cause }));
      return;
    }
    if (this.#state === 'closed') return;

    let ws: WebSocketLike;
    try {
      const { WebSocket, url, defaultWebSocket } = this.#opts;
      ws = new WebSocket(url, this.#codec.subprotocol, defaultWebSocket ? DEFAULT_WS_OPTIONS : undefined);
    } catch (cause) {
      this.#afterDrop(ABNORMAL, 'socket', new ParleyClientError('connect_failed', `cannot open ${this.#opts.url}`, { cause }));
      return;
    }
    // Browsers default to Blob, which cannot be read synchronously.
    if (ws.binaryType === 'blob') ws.binaryType = 'arraybuffer';
    const conn: Connection = {
      ws, ready: false, highestReceived: 0, lastAck: 0, readyTimer: undefined, readyAt: 0, lastFrameAt: 0, heartbeat: undefined,
    };
    this.#conn = conn;
    conn.readyTimer = setTimeout(() => {
      this.#lost(conn, ABNORMAL, 'no ready in time',
        new ParleyClientError('timeout', `no ready within ${this.#opts.requestTimeoutMs} ms`));
    }, this.#opts.requestTimeoutMs);

    ws.onopen = () => {
      if (this.#conn !== conn) return;
      if (codecForSubprotocol(ws.protocol) !== this.#codec) {
        this.#lost(conn, ABNORMAL, 'subprotocol',
          new ParleyClientError('connect_failed', `the server chose subprotocol '${ws.protocol}', not ${this.#codec.subprotocol}`));
        return;
      }
      ws.send(this.#codec.encode({ t: 'auth', token }));
    };
    ws.onmessage = (event: { data: unknown }) => {
      if (this.#conn !== conn) return;
      conn.lastFrameAt = Date.now();
      this.#onData(conn, event.data);
    };
    // The close event follows every error and carries what the client acts on.
    ws.onerror = () => {};
    ws.onclose = (event: { code?: number; reason?: string }) => {
      if (this.#conn === conn) this.#lost(conn, event.code ?? ABNORMAL, event.reason ?? '', undefined);
    };
  }

  /** The connection is gone (closed by the peer, failed, or abandoned here). */
  #lost(conn: Connection, code: number, reason: string, error: ParleyClientError | undefined): void {
    if (this.#conn !== conn) return;
    this.#conn = null;
    this.#release(conn);
    if (conn.ready && Date.now() - conn.readyAt >= STABLE_MS) this.#attempts = 0;
    this.#requests.connectionLost(conn);
    this.#outbox.connectionLost();
    if (this.#state === 'closed') return;
    this.#afterDrop(code, reason, error);
  }

  /** Decides what a drop (or a failed attempt) leads to: the end, idle, or a reconnect. */
  #afterDrop(code: number, reason: string, error: ParleyClientError | undefined): void {
    if (code === CloseCode.unauthorized || code === CloseCode.replaced) {
      const err = error ?? new ParleyClientError(
        code === CloseCode.unauthorized ? 'unauthorized' : 'closed',
        code === CloseCode.unauthorized ? `unauthorized: ${reason}` : 'the same device connected elsewhere (4010)',
        { closeCode: code },
      );
      this.#finish(code, reason, err);
      return;
    }
    if (!this.#everReady) {
      // A first connect is not retried: the caller learns at once that the
      // URL, the node or the token is wrong, instead of a silent retry loop.
      this.#state = 'idle';
      const err = error ?? new ParleyClientError('connect_failed', `the connection closed before ready (${code} ${reason})`, { closeCode: code });
      this.#rejectWaiters(err);
      return;
    }
    const policy = this.#opts.reconnect;
    if (policy === false || this.#attempts >= policy.maxAttempts) {
      this.#finish(code, reason, undefined);
      return;
    }
    const attempt = ++this.#attempts;
    const delayMs = backoffDelay(attempt, policy);
    this.#state = 'waiting';
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      if (this.#state !== 'waiting') return;
      this.#state = 'connecting';
      void this.#open();
    }, delayMs);
    this.#events.emit('reconnect', { attempt, delayMs, code, reason });
  }

  /** Ends the client for good. */
  #finish(code: number, reason: string, error: ParleyClientError | undefined): void {
    this.#state = 'closed';
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    const conn = this.#conn;
    this.#conn = null;
    if (conn !== null) this.#release(conn);
    this.#inbox.stop();
    const base = error ?? new ParleyClientError('closed', `the client is closed (${code}${reason ? ` ${reason}` : ''})`, { closeCode: code });
    const failure = (id?: string) =>
      new ParleyClientError(base.code, base.message, { closeCode: base.closeCode ?? code, frame: base.frame, id, cause: base.cause });
    this.#requests.rejectAll(() => failure());
    this.#outbox.rejectAll((id) => failure(id));
    this.#rejectWaiters(failure());
    this.#events.emit('close', { code, reason });
  }

  /**
   * Detaches the client from a socket and closes it. `onerror` stays set:
   * `ws` throws an error event that has no listener.
   */
  #release(conn: Connection): void {
    clearTimeout(conn.readyTimer);
    clearTimeout(conn.heartbeat);
    const { ws } = conn;
    ws.onopen = null;
    ws.onmessage = null;
    ws.onerror = () => {};
    if (ws.readyState > OPEN) {
      ws.onclose = null;
      return;
    }
    this.#closing = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate?.();
        resolve();
      }, CLOSE_HANDSHAKE_MS);
      ws.onclose = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    try {
      ws.close(CloseCode.normal);
    } catch {
      ws.terminate?.();
    }
  }

  #rejectWaiters(error: ParleyClientError): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(error);
  }

  // -------------------------------------------------------------------------
  // Frames from the server

  #onData(conn: Connection, raw: unknown): void {
    const data = messageData(raw);
    let frame: unknown;
    try {
      if (data === undefined) throw new TypeError('unreadable WebSocket message data');
      frame = this.#codec.decode(data);
    } catch (cause) {
      this.#events.emit('error', new ParleyClientError('bad_frame', 'a frame from the server could not be decoded', { cause }));
      return;
    }
    if (typeof frame !== 'object' || frame === null || typeof (frame as { t?: unknown }).t !== 'string') {
      this.#events.emit('error', new ParleyClientError('bad_frame', 'a frame from the server is not an object with a string t'));
      return;
    }
    const f = frame as { t: string; inbox?: unknown; rid?: unknown };
    // Any frame with an inbox is acknowledged, even of a type a later protocol adds:
    // an entry never acknowledged would hold the server's delivery window shut.
    if (f.t !== 'ready' && typeof f.inbox === 'number') {
      this.#onInbox(conn, frame as InboxFrame);
      return;
    }
    switch (f.t) {
      case 'ready':
        this.#onReady(conn, frame as ReadyFrame);
        return;
      case 'sent':
        this.#outbox.answered(frame as SentFrame);
        return;
      case 'error':
        this.#onError(conn, frame as ErrorFrame);
        return;
      case 'presence':
      case 'typing':
        this.#events.emit(f.t, frame as PresenceFrame | TypingFrame);
        return;
      default:
        // Answers (a late one, after its timeout, finds nothing), and frames a later protocol may add.
        if (typeof f.rid === 'string') this.#requests.answered(frame as AnswerFrame & { rid: string });
    }
  }

  #onReady(conn: Connection, ready: ReadyFrame): void {
    if (conn.ready) return;
    conn.ready = true;
    conn.readyAt = Date.now();
    clearTimeout(conn.readyTimer);
    conn.highestReceived = ready.inbox;
    conn.lastAck = ready.inbox;
    this.#inbox.acknowledged(ready.inbox);
    this.#ready = ready;
    this.#everReady = true;
    this.#state = 'open';
    this.#scheduleHeartbeat(conn, this.#opts.heartbeatMs);

    for (const [conv, seq] of this.#heldReads) this.#write(conn, { t: 'read', conv, seq });
    this.#heldReads.clear();
    this.#outbox.pump();
    this.#requests.writeWaiting(conn, (data) => this.#writeData(conn, data));
    if (this.#presenceUsers.size > 0) {
      this.#request<OkFrame>({ t: 'presence_sub', users: [...this.#presenceUsers] }, 'ok')
        .catch((error: ParleyClientError) => this.#events.emit('error', error));
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve(ready);
    this.#events.emit('ready', ready);
  }

  #onInbox(conn: Connection, frame: InboxFrame): void {
    if (frame.inbox > conn.highestReceived) conn.highestReceived = frame.inbox;
    // A repeat (at-least-once) is dropped, but may now be ackable on this connection.
    if (!this.#inbox.offer(frame)) this.#scheduleAck();
  }

  #onError(conn: Connection, frame: ErrorFrame): void {
    const error = ParleyClientError.fromFrame(frame);
    if (!conn.ready) {
      // The answer to `auth`. After `unauthorized` the server closes with 4001; do not wait for it.
      this.#lost(conn, frame.code === 'unauthorized' ? CloseCode.unauthorized : ABNORMAL, frame.message, error);
      return;
    }
    if (typeof frame.rid === 'string' && this.#requests.failed(frame.rid, error)) return;
    if (typeof frame.id === 'string' && this.#outbox.refused(frame as ErrorFrame & { id: string })) return;
    this.#events.emit('error', error);
  }

  // -------------------------------------------------------------------------
  // Heartbeat and acks

  #scheduleHeartbeat(conn: Connection, delayMs: number): void {
    if (this.#opts.heartbeatMs === 0) return;
    conn.heartbeat = setTimeout(() => void this.#heartbeat(conn), delayMs);
    // The socket keeps the process alive while it is open; the heartbeat need not.
    (conn.heartbeat as { unref?: () => void }).unref?.();
  }

  async #heartbeat(conn: Connection): Promise<void> {
    if (this.#conn !== conn) return;
    const silentMs = Date.now() - conn.lastFrameAt;
    if (silentMs < this.#opts.heartbeatMs) {
      this.#scheduleHeartbeat(conn, this.#opts.heartbeatMs - silentMs);
      return;
    }
    try {
      await this.ping();
    } catch (error) {
      // `disconnected` and `closed`: the connection is already gone; a timeout means it is dead.
      if (error instanceof ParleyClientError && error.code === 'timeout') this.#lost(conn, ABNORMAL, 'no pong in time', error);
      return;
    }
    if (this.#conn === conn) this.#scheduleHeartbeat(conn, this.#opts.heartbeatMs);
  }

  /** One ack per burst: frames read in one turn of the event loop share it. */
  #scheduleAck(): void {
    if (this.#ackScheduled) return;
    this.#ackScheduled = true;
    nextTurn(() => {
      this.#ackScheduled = false;
      this.#flushAck();
    });
  }

  #flushAck(): void {
    const conn = this.#openConn();
    if (conn === null) return;
    // Acking a number the server has not sent on this connection is bad_request.
    const target = Math.min(this.#inbox.ackable, conn.highestReceived);
    if (target <= conn.lastAck) return;
    conn.lastAck = target;
    this.#write(conn, { t: 'ack', inbox: target });
  }

  // -------------------------------------------------------------------------
  // Writing

  #openConn(): Connection | null {
    const conn = this.#conn;
    return conn !== null && conn.ready ? conn : null;
  }

  #writer(): Writer {
    const conn = this.#openConn();
    return conn === null ? null : (data) => this.#writeData(conn, data);
  }

  #write(conn: Connection, frame: ClientFrame): void {
    this.#writeData(conn, this.#codec.encode(frame));
  }

  #writeData(conn: Connection, data: WireData): void {
    if (conn.ws.readyState !== OPEN) return; // closing: the close event follows and the work is redone
    conn.ws.send(data);
  }

  #encodeChecked(frame: ClientFrame): WireData {
    const data = this.#codec.encode(frame);
    const max = this.#opts.maxFrameBytes;
    // A UTF-8 string is at most 3 bytes per UTF-16 unit: skip the count when it cannot exceed.
    if (max > 0 && (typeof data !== 'string' || data.length * 3 > max)) {
      const n = wireLength(data);
      // The server would close with 1009, and a resent send would do it again after every reconnect.
      if (n > max) throw new ParleyClientError('too_large', `the frame is ${n} bytes, over maxFrameBytes ${max}`);
    }
    return data;
  }

  // -------------------------------------------------------------------------
  // Sends

  /** Sends `body` (any JSON value) to `user:<u>` or `group:<g>`. */
  send(to: SendTarget, body: unknown, options: SendOptions = {}): Promise<SendResult> {
    return this.#enqueueSend(to, options, (id) => ({ t: 'send', id, to, body, ...(options.type !== undefined && { type: options.type }) }));
  }

  /** Sends one opaque value per recipient device, keyed `"<user>/<device>"` (end-to-end encryption). */
  sendPayloads(to: SendTarget, payloads: Record<string, unknown>, options: SendOptions = {}): Promise<SendResult> {
    return this.#enqueueSend(to, options, (id) => ({ t: 'send', id, to, payloads, ...(options.type !== undefined && { type: options.type }) }));
  }

  /** A send with the id of a send still pending returns that send's promise and writes nothing. */
  #enqueueSend(to: string, options: SendOptions, build: (id: string) => SendFrame): Promise<SendResult> {
    if (this.#state === 'closed') return Promise.reject(new ParleyClientError('closed', 'the client is closed', { id: options.id }));
    const id = options.id ?? nanoid();
    if (!isClientId(id)) {
      return Promise.reject(new ParleyClientError('invalid_argument', `send id must match ${CLIENT_ID_PATTERN}`, { id }));
    }
    if (typeof to !== 'string' || !/^(user|group):./.test(to)) {
      return Promise.reject(new ParleyClientError('invalid_argument', `send target must be user:<u> or group:<g>, got ${String(to)}`, { id }));
    }
    const existing = this.#outbox.pending(id);
    if (existing !== undefined) return existing;
    let data: WireData;
    try {
      data = this.#encodeChecked(build(id));
    } catch (error) {
      return Promise.reject(error instanceof ParleyClientError
        ? new ParleyClientError(error.code, error.message, { id })
        : new ParleyClientError('invalid_argument', 'the send cannot be encoded', { id, cause: error }));
    }
    return this.#outbox.add(id, data);
  }

  // -------------------------------------------------------------------------
  // Fire-and-forget frames

  /**
   * Acknowledges everything up to `inbox` (cumulative). Needed only with
   * `autoAck: false`. An ack beyond what the server has sent on the current
   * connection is held back until it has (the server refuses it otherwise).
   */
  ack(inbox: number): void {
    if (!Number.isSafeInteger(inbox) || inbox < 0) throw new ParleyClientError('invalid_argument', 'inbox must be a non-negative integer');
    this.#inbox.ack(inbox);
    this.#flushAck();
  }

  /** Marks everything up to `seq` in `conv` read. Kept while disconnected (the highest per conversation). */
  read(conv: ConvId, seq: number): void {
    if (typeof conv !== 'string' || !Number.isSafeInteger(seq) || seq < 0) {
      throw new ParleyClientError('invalid_argument', 'read needs a conversation id and a non-negative integer seq');
    }
    const conn = this.#openConn();
    if (conn !== null) {
      this.#write(conn, { t: 'read', conv, seq });
    } else if (this.#state !== 'closed' && seq > (this.#heldReads.get(conv) ?? -1)) {
      this.#heldReads.set(conv, seq);
    }
  }

  /** Tells the other members' online devices this user is (not) typing. Dropped while disconnected. */
  typing(conv: ConvId, on: boolean): void {
    const conn = this.#openConn();
    if (conn !== null) this.#write(conn, { t: 'typing', conv, on: on === true });
  }

  // -------------------------------------------------------------------------
  // Requests

  #request<T extends AnswerFrame>(fields: RequestFields, expect: T['t']): Promise<T> {
    if (this.#state === 'closed') return Promise.reject(new ParleyClientError('closed', 'the client is closed'));
    const rid = this.#requests.nextRid();
    let data: WireData;
    try {
      data = this.#encodeChecked({ ...fields, rid });
    } catch (error) {
      return Promise.reject(error);
    }
    const conn = this.#openConn();
    return this.#requests.add<T>(rid, data, expect, conn, (d) => {
      if (conn !== null) this.#writeData(conn, d);
    });
  }

  /** A page of `conv`, newest last; `more` says older messages exist. */
  history(conv: ConvId, options: HistoryOptions = {}): Promise<HistoryFrame> {
    return this.#request<HistoryFrame>({ t: 'history', conv, before: options.before, limit: options.limit }, 'history');
  }

  async chats(): Promise<ChatSummary[]> {
    return (await this.#request<ChatsFrame>({ t: 'chats' }, 'chats')).chats;
  }

  /** Subscribes to `presence` events of `users`; the current state follows at once. Renewed after reconnects. */
  async presenceSub(users: string[]): Promise<void> {
    await this.#request<OkFrame>({ t: 'presence_sub', users }, 'ok');
    for (const u of users) this.#presenceUsers.add(u);
  }

  /**
   * Changes the user's settings (every device's): `lastSeen` hides or shows
   * `presence.lastSeen`; `groupAdd: 'nobody'` refuses being added to groups
   * by others. Give one or both; one alone leaves the other as it was.
   */
  async settings(settings: UserSettings): Promise<void> {
    const { lastSeen, groupAdd } = settings;
    if (lastSeen === undefined && groupAdd === undefined) {
      throw new ParleyClientError('invalid_argument', 'settings needs lastSeen, groupAdd or both');
    }
    await this.#request<OkFrame>({ t: 'settings', ...(lastSeen !== undefined && { lastSeen }), ...(groupAdd !== undefined && { groupAdd }) }, 'ok');
  }

  /** The user's registered devices, sorted by name, with whether each is online now. */
  async devices(): Promise<DeviceInfo[]> {
    return (await this.#request<DevicesFrame>({ t: 'devices' }, 'devices')).devices;
  }

  /**
   * Forgets one of the user's devices: its place in the inbox, its keys, and
   * its open connection (closed with 4001); its tokens issued before now are
   * refused. `not_found` for a device the user does not have. Removing this
   * client's own device ends this client: the node closes its connection
   * with 4001 before answering, so the call rejects with `disconnected` and
   * `close` reports 4001.
   */
  async deviceRemove(device: string): Promise<void> {
    await this.#request<OkFrame>({ t: 'device_remove', device }, 'ok');
  }

  async groupCreate(name: string, members: string[]): Promise<Group> {
    return (await this.#request<GroupFrame>({ t: 'group_create', name, members }, 'group')).group;
  }

  async groupAdd(group: string, users: string[]): Promise<Group> {
    return (await this.#request<GroupFrame>({ t: 'group_add', group, users }, 'group')).group;
  }

  async groupRemove(group: string, users: string[]): Promise<Group> {
    return (await this.#request<GroupFrame>({ t: 'group_remove', group, users }, 'group')).group;
  }

  async groupLeave(group: string): Promise<void> {
    await this.#request<OkFrame>({ t: 'group_leave', group }, 'ok');
  }

  async groupUpdate(group: string, name: string): Promise<Group> {
    return (await this.#request<GroupFrame>({ t: 'group_update', group, name }, 'group')).group;
  }

  async groupInfo(group: string): Promise<Group> {
    return (await this.#request<GroupFrame>({ t: 'group_info', group }, 'group')).group;
  }

  async keysPut(bundle: KeyBundle): Promise<void> {
    const { identityKey, signedPreKey, oneTimePreKeys } = bundle;
    await this.#request<OkFrame>({ t: 'keys_put', identityKey, signedPreKey, oneTimePreKeys }, 'ok');
  }

  /** One bundle per device of `user`; each call consumes one one-time prekey per device. */
  async keysGet(user: string): Promise<DeviceKeys[]> {
    return (await this.#request<KeysFrame>({ t: 'keys_get', user }, 'keys')).devices;
  }

  /** The round trip to the server, in ms. */
  async ping(): Promise<number> {
    const started = performance.now();
    await this.#request<PongFrame>({ t: 'ping' }, 'pong');
    return performance.now() - started;
  }
}
