/**
 * Session: one WebSocket connection, and the actor that stands for it.
 *
 * Inbound frames are decoded, checked against the schemas, and dispatched in
 * the order received: each becomes a cast or call to a `user:` or `conv:`
 * actor, so frames to one conversation keep their order (pipelined sends get
 * increasing `seq`). Outbound frames arrive in this actor's mailbox from the
 * user actor, already encoded for this connection's codec.
 *
 * Rules enforced here (docs/protocol.md): `auth` first, within `authTimeoutMs`
 * (10 s; else close 4002); any other frame first → `unauthorized` and close
 * 4001; frames over `frameBytes` → close 1009 (ws `maxPayload`); `body` over
 * `bodyBytes` → `too_large`; a user past `connectionsPerUser` (32) → close
 * 4029. The rate limits are the device's and the user's, kept in
 * `Admission` across connections: every frame (invalid ones, `ack` and
 * `ping` included) takes a token from the device's frame bucket (1000,
 * refilled at 500/s); sends from the send bucket (200, 50/s); other frames
 * but `ack` and `ping` from the request bucket (200, 50/s); `keys_get`,
 * `history` and `group_create` from the user's buckets of their own. A
 * refusal is `rate_limited`, and `rateAbuseMs` (10 s) of refusals without a
 * pause (`RATE_PAUSE_MS`, 1 s, without a refused frame) close with 4008. A
 * reader that keeps more than `sendBufferBytes` (4 MiB) queued for
 * `SLOW_READER_GRACE_MS` (5 s), or more than any burst can need, is
 * dropped; with `sendsInFlight` (4096) sends in flight on the node, or the
 * user's share `userSendsInFlight` (256), a send is answered `unavailable`
 * at once; the same device connecting again closes the older connection
 * with 4010. Every error names the rule it broke, in words written for
 * clients (never an exception's own text), and leaves the connection open
 * unless a close code applies. An answer for a socket that has gone is
 * dropped before it is encoded.
 */
import type { WebSocket } from 'ws';
import { nanoid } from 'nanoid';
import type { ActorContext, Behaviour, Signal } from '../../actors/behaviour.js';
import type { ActorRef } from '../../actors/ref.js';
import type { Host } from '../../actors/host.js';
import { CallError } from '../../actors/errors.js';
import { checkFrame, type ClientFrame, type FrameOf } from '../../protocol/client-frames.js';
import { dmConv, parseConv } from '../../protocol/ids.js';
import { decodeFrame, encodeFrame, encodedSize, FrameDecodeError } from '../../protocol/codec.js';
import { CloseCode, type ClientCodec } from '../../protocol/connection.js';
import type { ErrorCode } from '../../protocol/errors.js';
import type { ChatSummary, DeviceInfo, DeviceKeys, ErrorFrame, Group, ServerFrame, StoredMessage } from '../../protocol/server-frames.js';
import type { Admission, DeviceLimits, UserLimits } from './admission.js';
import { TokenError } from '../auth/tokens.js';
import { corkForTurn } from './cork.js';
import { isError, type ConnMsg, type ConvMsg, type DomainError, type SendMsg, type Sent, type UserMsg } from '../../chat/messages.js';
import type { Limits } from '../config.js';
import type { Tokens } from '../auth/tokens.js';
import type { GatewayMetrics } from './metrics.js';

/** A reader with more than `sendBufferBytes` queued has this long to drain below it before it is dropped. */
export const SLOW_READER_GRACE_MS = 5000;

/** A client that sends nothing refused for this long has paused: its next refusal starts a new streak. */
export const RATE_PAUSE_MS = 1000;
/** Call failures after which the request's outcome is unknown: answered `unavailable`, to be retried. */
const RETRYABLE = new Set(['timeout', 'noconnection', 'shutdown', 'killed', 'normal', 'crashed', 'noproc', 'mailbox_full']);
/** Frames outside the request bucket: sends have their own, acks are bounded by what was sent, a ping only writes a pong. */
const OWN_LIMITS: ReadonlySet<string> = new Set(['send', 'ack', 'ping']);

/** Moderation hook: return `{ reject: reason }` to refuse a message; the sender sees the reason. */
export type MessageFilter = (m: {
  from: string;
  device: string;
  conv: string;
  type: string;
  body?: unknown;
  payloads?: Record<string, unknown>;
}) => { reject: string } | undefined | void | Promise<{ reject: string } | undefined | void>;

export interface SessionDeps {
  host: Host;
  limits: Limits;
  tokens: Tokens;
  metrics: GatewayMetrics;
  /** The limits that outlive a connection (per device, user and address). */
  admission: Admission;
  callTimeoutMs: number;
  filter?: MessageFilter;
  /** Calls not answered yet, over all sessions (graceful stop waits for 0); `sends` of them are sends. */
  inflight: { n: number; sends: number; draining: boolean };
  /** Called once the session is over (socket closed). */
  onEnd(s: Session): void;
}

type State = 'auth' | 'authing' | 'ready' | 'closed';

export class Session implements Behaviour<ConnMsg> {
  state: State = 'auth';
  user = '';
  device = '';
  /** The token's issue time: a device removed after it must not come back with it. */
  private issuedAt = 0;
  /** Set by the heartbeat: false after a ping until a pong arrives. */
  alive = true;
  private ctx: ActorContext<ConnMsg> | null = null;
  private userRef: ActorRef<UserMsg> | null = null;
  // Made on first use (an idle connection needs none of them): frames behind
  // `auth`, the presence set, the filter chain.
  private queued: ClientFrame[] | null = null;
  /** The device's and the user's limits, shared with their other connections (set by auth). */
  private dev: DeviceLimits | null = null;
  private usr: UserLimits | null = null;
  /** Armed while more than `sendBufferBytes` is queued: drops the reader if it stays so. */
  private slowCheck: ReturnType<typeof setTimeout> | null = null;
  /** Queued past this, the reader is dropped at once: more than a burst (a window of pushes, a history page) can need. */
  private readonly sendCap: number;
  /** Users this connection watches for presence (at most `presenceSubs`). */
  private watching: Set<string> | null = null;
  /** The first refusal of the current streak, and the latest one. */
  private refusingSince = 0;
  private lastRefusal = 0;
  private authTimer: ReturnType<typeof setTimeout> | null;
  private userMonitor: string | null = null;
  /** With an asynchronous filter, sends go through this chain to keep their order. */
  private sendChain: Promise<void> | null = null;
  /** Frames that arrived before the session's actor was up (null once it is). */
  private early: Array<[Buffer | ArrayBuffer | Buffer[], boolean]> | null = [];

  constructor(
    readonly ws: WebSocket,
    readonly codec: ClientCodec,
    private readonly d: SessionDeps,
    /** The client's address, for the per-address limits (counted by the gateway). */
    readonly address: string,
  ) {
    const L = d.limits;
    this.sendCap = L.sendBufferBytes + Math.max(L.window, L.historyLimit) * (L.bodyBytes + 1024);
    this.authTimer = setTimeout(() => this.close(CloseCode.noAuthInTime, 'no auth in time'), d.limits.authTimeoutMs);
  }

  // ---- the actor side: frames from the user actor ------------------------------------

  init(ctx: ActorContext<ConnMsg>): void {
    this.ctx = ctx;
  }

  handle(m: ConnMsg): void {
    switch (m.t) {
      case 'out':
        for (const d of m.data) this.write(d);
        return;
      case 'replaced':
        this.close(CloseCode.replaced, 'the same device connected again elsewhere');
        return;
      case 'close':
        this.close(m.code, m.reason);
        return;
    }
  }

  /** The user actor went away (its thread was restarted): register again, resume from the last ack. */
  info(sig: Signal): void {
    if (sig.type === 'down' && sig.monitor === this.userMonitor && this.state === 'ready') {
      this.userMonitor = null;
      void this.register().catch(() => this.close(CloseCode.goingAway, 'the node could not resume this session'));
    }
  }

  terminate(): void {
    if (this.state !== 'closed') this.close(CloseCode.goingAway, 'node shutting down');
  }

  // ---- the socket side ----------------------------------------------------------------------

  /** The session's actor is up: frames that waited for it run, in order. */
  started(): void {
    const early = this.early;
    this.early = null;
    if (early !== null) for (const [d, b] of early) this.onMessage(d, b);
  }

  onMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (this.early !== null) {
      this.early.push([data, isBinary]);
      return;
    }
    if (this.state === 'closed') return;
    this.d.metrics.framesIn.inc();
    // Every frame of an authenticated device costs a token, whatever it is:
    // acks, pings and garbage cost the node work too.
    if (this.dev !== null) {
      const now = Date.now();
      if (!this.d.admission.frameBucket(this.dev).take(now)) {
        if (this.refused(now)) return;
        this.error('rate_limited', `frames: over ${this.d.limits.frameRate} frames/s per device (bursts of ${this.d.limits.frameBurst}); slow down`);
        return;
      }
    }
    let v: unknown;
    try {
      v = decodeFrame(data, isBinary, this.codec);
    } catch (e) {
      // The decoder's own text (a stack overflow, a byte offset) is not for clients.
      this.error('bad_request', e instanceof FrameDecodeError ? e.message : `malformed ${this.codec === 'json' ? 'JSON' : 'MessagePack'} frame`);
      if (this.state === 'auth') this.close(CloseCode.unauthorized, 'auth must be the first frame');
      return;
    }
    const c = checkFrame(v);
    if (!c.ok) {
      this.error('bad_request', c.message, c);
      if (this.state === 'auth') this.close(CloseCode.unauthorized, 'auth must be the first frame');
      return;
    }
    const f = c.frame;
    if (this.state === 'auth') {
      if (f.t !== 'auth') {
        this.error('unauthorized', 'auth must be the first frame', f as { rid?: string; id?: string });
        this.close(CloseCode.unauthorized, 'auth must be the first frame');
        return;
      }
      this.state = 'authing';
      // The deadline is for the client's frame. Checking it may take longer
      // (the user's thread may be busy); that has its own bound, the call timeout.
      if (this.authTimer !== null) clearTimeout(this.authTimer);
      this.authTimer = null;
      void this.authenticate(f);
      return;
    }
    if (f.t === 'auth') {
      this.error('bad_request', 'auth: already authenticated');
      return;
    }
    if (this.d.inflight.draining) {
      this.error('unavailable', 'the node is shutting down; reconnect and try again', f as { rid?: string; id?: string });
      return;
    }
    // Frames pipelined behind `auth` wait for it, then run in order.
    if (this.state === 'authing') (this.queued ??= []).push(f);
    else this.run(f);
  }

  /**
   * Handles one checked frame. A throw while handling it is answered
   * `internal` and the connection goes on: thrown from the socket's message
   * handler, it would take the whole node down.
   */
  private run(f: ClientFrame): void {
    try {
      this.dispatch(f);
    } catch {
      this.error('internal', `${f.t}: internal error`, f as { rid?: string; id?: string });
    }
  }

  onClose(): void {
    if (this.state === 'closed') return;
    const wasReady = this.state === 'ready';
    this.state = 'closed';
    if (this.usr !== null) this.d.admission.closeUser(this.user);
    if (this.authTimer !== null) clearTimeout(this.authTimer);
    if (this.slowCheck !== null) clearTimeout(this.slowCheck);
    if (wasReady && this.userRef !== null && this.ctx !== null) this.userRef.send({ t: 'disconnect', device: this.device, conn: this.ctx.self });
    this.ctx?.stop('normal');
    this.d.onEnd(this);
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
    this.onClose();
  }

  // ---- auth ---------------------------------------------------------------------------------

  private async authenticate(f: FrameOf<'auth'>): Promise<void> {
    try {
      const claims = await this.d.tokens.verify(f.token);
      if (this.state !== 'authing') return;
      this.user = claims.user;
      this.device = claims.device;
      this.issuedAt = claims.issuedAt;
      if (!this.d.admission.openUser(this.user)) {
        this.error('rate_limited', `connections: at most ${this.d.limits.connectionsPerUser} open connections per user (limits.connectionsPerUser)`);
        this.close(CloseCode.tooManyConnections, 'too many connections for this user');
        return;
      }
      this.usr = this.d.admission.user(this.user);
      this.dev = this.d.admission.device(this.user, this.device);
      this.userRef = this.d.host.ref<UserMsg>(`user:${this.user}`);
      const r = await this.register();
      if (this.authTimer !== null) clearTimeout(this.authTimer);
      this.authTimer = null;
      if (this.state !== 'authing') return;
      this.state = 'ready';
      this.d.metrics.authenticated.inc();
      this.writeFrame({ t: 'ready', user: this.user, device: this.device, inbox: r.inbox, now: r.now });
      const q = this.queued;
      this.queued = null;
      if (q !== null) for (const x of q) this.run(x);
    } catch (e) {
      // A token's fault is told as such; anything else (a timeout, the
      // user's thread restarting) is ours, and its text stays here.
      if (e instanceof TokenError || e instanceof RegistrationRefused) {
        this.error(e instanceof RegistrationRefused ? e.code : 'unauthorized', e.message);
        this.close(CloseCode.unauthorized, 'unauthorized');
      } else {
        this.error('unavailable', 'auth: the node could not register this device now; try again');
        this.close(CloseCode.goingAway, 'try again');
      }
    }
  }

  /** Tells the user actor this device is here; it then pushes everything after the last ack. */
  private async register(): Promise<{ inbox: number; now: number }> {
    const ctx = this.ctx!;
    const r = await this.userRef!.call<{ inbox: number; now: number } | DomainError>(
      { t: 'connect', device: this.device, conn: ctx.self, codec: this.codec, issuedAt: this.issuedAt },
      { timeout: this.d.callTimeoutMs },
    );
    if (isError(r)) throw new RegistrationRefused(r.error.code, r.error.message);
    this.userMonitor = ctx.monitor(this.userRef!);
    return r;
  }

  // ---- frames -------------------------------------------------------------------------------

  private dispatch(f: ClientFrame): void {
    if (!OWN_LIMITS.has(f.t)) {
      const now = Date.now();
      const L = this.d.limits;
      if (!this.d.admission.requestBucket(this.dev!).take(now)) {
        if (this.refused(now)) return;
        this.error('rate_limited', `${f.t}: over ${L.requestRate} frames/s other than send, ack and ping (bursts of ${L.requestBurst}); retry later`, f as { rid?: string });
        return;
      }
    }
    const me = this.user;
    switch (f.t) {
      case 'send':
        return this.send(f);
      case 'ack':
        this.userRef!.send({ t: 'ack', device: this.device, inbox: f.inbox, conn: this.ctx!.self });
        return;
      case 'read':
        if (!this.checkConv(f.conv)) return;
        this.userRef!.send({ t: 'read', device: this.device, conv: f.conv, seq: f.seq, conn: this.ctx!.self });
        return;
      case 'history': {
        if (!this.checkConv(f.conv, f.rid)) return;
        if (f.limit !== undefined && f.limit > this.d.limits.historyLimit) {
          this.error('bad_request', `history.limit: must be at most ${this.d.limits.historyLimit}`, f);
          return;
        }
        const limit = f.limit ?? this.d.limits.historyDefault;
        this.history(f, limit);
        return;
      }
      case 'chats':
        this.ask(this.userRef!, { t: 'chats' }, f.rid, (r: ChatSummary[]) => ({ t: 'chats', rid: f.rid, chats: r }));
        return;
      case 'presence_sub': {
        // The limit is per connection, not per frame: a watcher keeps the
        // watched user's actor in memory, so frame after frame must not add up.
        const users = new Set(f.users);
        const watching = (this.watching ??= new Set());
        const fresh = [...users].filter((u) => !watching.has(u));
        if (watching.size + fresh.length > this.d.limits.presenceSubs) {
          this.error('bad_request', `presence_sub.users: at most ${this.d.limits.presenceSubs} users per connection`, f);
          return;
        }
        for (const u of fresh) watching.add(u);
        this.writeFrame({ t: 'ok', rid: f.rid });
        for (const u of users) this.d.host.ref<UserMsg>(`user:${u}`).send({ t: 'presence_watch', conn: this.ctx!.self, codec: this.codec });
        return;
      }
      case 'settings':
        this.ask(this.userRef!, { t: 'settings', lastSeen: f.lastSeen, groupAdd: f.groupAdd }, f.rid, () => ({ t: 'ok', rid: f.rid }));
        return;
      case 'devices':
        this.ask(this.userRef!, { t: 'device_list' }, f.rid, (r: DeviceInfo[]) => ({ t: 'devices', rid: f.rid, devices: r }));
        return;
      case 'device_remove':
        this.ask(this.userRef!, { t: 'device_remove', device: f.device }, f.rid, () => ({ t: 'ok', rid: f.rid }));
        return;
      case 'typing':
        if (!this.checkConv(f.conv)) return;
        this.conv(f.conv).send({ t: 'typing', user: me, on: f.on });
        return;
      case 'group_create': {
        if (f.members.length + 1 > this.d.limits.groupMembers && !f.members.includes(me)) {
          this.error('conflict', `group_create.members: a group has at most ${this.d.limits.groupMembers} members`, f);
          return;
        }
        if (!this.d.admission.groupsBucket(this.usr!).take()) {
          this.error('rate_limited', `group_create: at most ${this.d.limits.groupsPerHour} groups per user per hour (limits.groupsPerHour); retry later`, f);
          return;
        }
        const group = nanoid();
        this.ask(this.conv(`g:${group}`), { t: 'group_create', by: me, name: f.name, members: f.members }, f.rid, (r: Group) => ({ t: 'group', rid: f.rid, group: r }));
        return;
      }
      case 'group_add':
      case 'group_remove':
        this.ask(this.conv(`g:${f.group}`), { t: f.t, by: me, users: f.users }, f.rid, (r: Group) => ({ t: 'group', rid: f.rid, group: r }));
        return;
      case 'group_leave':
        this.ask(this.conv(`g:${f.group}`), { t: 'group_leave', by: me }, f.rid, () => ({ t: 'ok', rid: f.rid }));
        return;
      case 'group_update':
        this.ask(this.conv(`g:${f.group}`), { t: 'group_update', by: me, name: f.name }, f.rid, (r: Group) => ({ t: 'group', rid: f.rid, group: r }));
        return;
      case 'group_info':
        this.ask(this.conv(`g:${f.group}`), { t: 'group_info', by: me }, f.rid, (r: Group) => ({ t: 'group', rid: f.rid, group: r }));
        return;
      case 'keys_put':
        this.ask(
          this.userRef!,
          { t: 'keys_put', device: this.device, identityKey: f.identityKey, signedPreKey: f.signedPreKey, oneTimePreKeys: f.oneTimePreKeys },
          f.rid,
          () => ({ t: 'ok', rid: f.rid }),
        );
        return;
      case 'keys_get': {
        const A = this.d.admission;
        const L = this.d.limits;
        if (!A.keysBucket(this.usr!).has()) {
          this.error('rate_limited', `keys_get: over ${L.keysRate} key fetches/s per user (bursts of ${L.keysBurst}); retry later`, f);
          return;
        }
        if (!A.keysPairBucket(this.usr!, f.user).take()) {
          this.error('rate_limited', `keys_get: over ${L.keysPairPerHour} fetches per hour of one user's keys (bursts of ${L.keysPairBurst}); retry later`, f);
          return;
        }
        A.keysBucket(this.usr!).take();
        this.ask(this.d.host.ref<UserMsg>(`user:${f.user}`), { t: 'keys_get' }, f.rid, (r: DeviceKeys[]) => ({ t: 'keys', rid: f.rid, user: f.user, devices: r }));
        return;
      }
      case 'ping':
        this.writeFrame(f.rid !== undefined ? { t: 'pong', rid: f.rid } : { t: 'pong' });
        return;
    }
  }

  /**
   * Counts a refusal by either bucket into the current streak; true when the
   * streak has lasted `rateAbuseMs` and the connection is closed (4008).
   */
  private refused(now: number): boolean {
    // A streak of refusals ends only when the client pauses. The frames the
    // refilling bucket lets through now and then do not end it: if they did,
    // a steady flood over the rate would never be closed.
    if (this.refusingSince === 0 || now - this.lastRefusal >= RATE_PAUSE_MS) this.refusingSince = now;
    this.lastRefusal = now;
    if (now - this.refusingSince >= this.d.limits.rateAbuseMs) {
      this.close(CloseCode.rateLimitAbused, 'rate limit abused');
      return true;
    }
    this.d.metrics.rateLimited.inc();
    return false;
  }

  /**
   * `history` costs the bytes of its answer, known only once it is there:
   * the user's byte bucket must hold a token to ask, and the answer's size
   * is charged when it comes (it may leave the bucket in debt). At most
   * `historyInFlight` are asked at once, so a pipelined burst of them
   * cannot pile answers up in memory.
   */
  private history(f: FrameOf<'history'>, limit: number): void {
    const u = this.usr!;
    const L = this.d.limits;
    const bucket = this.d.admission.historyBucket(u);
    if (u.historyInFlight >= L.historyInFlight || !bucket.has()) {
      const rule = u.historyInFlight >= L.historyInFlight ? `at most ${L.historyInFlight} history requests in flight per user` : `over ${L.historyBytesRate} bytes/s of history per user`;
      this.error('rate_limited', `history: ${rule}; retry later`, f);
      return;
    }
    u.historyInFlight++;
    const msg: ConvMsg = { t: 'history', user: this.user, device: this.device, limit, ...(f.before !== undefined ? { before: f.before } : {}) };
    void this.ask(this.conv(f.conv), msg, f.rid, (r: HistoryPage) => ({ t: 'history', rid: f.rid, conv: f.conv, messages: r.messages, more: r.more }), undefined, (bytes) => bucket.charge(bytes)).finally(() => {
      u.historyInFlight--;
    });
  }

  private send(f: FrameOf<'send'>): void {
    const now = Date.now();
    if (!this.d.admission.sendBucket(this.dev!).take(now)) {
      if (this.refused(now)) return;
      this.error('rate_limited', `send: over ${this.d.limits.sendRate} sends/s (bursts of ${this.d.limits.sendBurst}); send it again later with the same id`, f);
      return;
    }
    const { conv, err } = this.target(f.to);
    if (err) {
      this.error('bad_request', err, f);
      return;
    }
    if (f.payloads !== undefined) {
      for (const [k, v] of Object.entries(f.payloads)) {
        if (encodedSize(v, this.codec) > this.d.limits.bodyBytes) {
          this.error('too_large', `send.payloads.${k}: larger than ${this.d.limits.bodyBytes} bytes`, f);
          return;
        }
      }
    } else if (encodedSize(f.body, this.codec) > this.d.limits.bodyBytes) {
      this.error('too_large', `send.body: larger than ${this.d.limits.bodyBytes} bytes`, f);
      return;
    }
    if (this.d.inflight.sends >= this.d.limits.sendsInFlight) {
      // Overload: answer now, before any actor queues it (see limits.sendsInFlight).
      this.d.metrics.shedSends.inc();
      this.error('unavailable', `send: the node has ${this.d.limits.sendsInFlight} sends in flight (limits.sendsInFlight); send it again later with the same id`, f);
      return;
    }
    if (this.usr!.sendsInFlight >= this.d.limits.userSendsInFlight) {
      // One user's pipelined sends must not take the whole node's pool.
      this.d.metrics.shedSends.inc();
      this.error('unavailable', `send: ${this.d.limits.userSendsInFlight} of your sends are in flight (limits.userSendsInFlight); send it again later with the same id`, f);
      return;
    }
    const msg: SendMsg = {
      t: 'send',
      from: this.user,
      device: this.device,
      id: f.id,
      type: f.type ?? 'text',
      ...(f.payloads !== undefined ? { payloads: f.payloads } : { body: f.body }),
    };
    this.d.metrics.sends.inc();
    const filter = this.d.filter;
    if (filter === undefined) {
      this.submit(conv!, msg);
      return;
    }
    this.d.inflight.n++;
    this.sendChain = (this.sendChain ?? Promise.resolve())
      .then(() => filter({ from: msg.from, device: msg.device, conv: conv!, type: msg.type, ...(f.payloads !== undefined ? { payloads: f.payloads } : { body: f.body }) }))
      .then(
        (verdict) => {
          if (verdict && typeof verdict.reject === 'string') this.error('forbidden', `send: rejected by the operator's filter: ${verdict.reject}`, f);
          else this.submit(conv!, msg);
        },
        () => this.error('internal', 'send: the message filter failed', f),
      )
      .finally(() => {
        this.d.inflight.n--;
      });
  }

  private target(to: string): { conv?: string; err?: string } {
    if (to.startsWith('user:')) {
      const u = to.slice(5);
      if (u === this.user) return { err: 'send.to: sending to oneself is not allowed' };
      return { conv: dmConv(this.user, u) };
    }
    return { conv: `g:${to.slice(6)}` };
  }

  private checkConv(conv: string, rid?: string): boolean {
    const p = parseConv(conv);
    if (p === null) {
      this.error('bad_request', `conv: ${JSON.stringify(conv)} is not a conversation id (dm:<a>:<b> with a < b, or g:<group>)`, rid !== undefined ? { rid } : {});
      return false;
    }
    return true;
  }

  private conv(conv: string): ActorRef<ConvMsg> {
    return this.d.host.ref<ConvMsg>(`conv:${conv}`);
  }

  /** Hands a checked send to the user actor; it counts in `inflight.sends` until answered. */
  private submit(conv: string, msg: SendMsg): void {
    const u = this.usr!;
    this.d.inflight.sends++;
    u.sendsInFlight++;
    void this.ask(this.userRef!, { t: 'send', conv, msg }, undefined, (r: Sent) => ({ t: 'sent', id: r.id, conv: r.conv, seq: r.seq, ts: r.ts }), msg.id).finally(() => {
      this.d.inflight.sends--;
      u.sendsInFlight--;
    });
  }

  /**
   * Calls an actor and writes the answer (or its error) when it comes;
   * `sized` learns the encoded answer's bytes. An answer for a connection
   * that has closed meanwhile is dropped unencoded.
   */
  private ask<M, R>(to: ActorRef<M>, msg: M, rid: string | undefined, answer: (r: R) => ServerFrame, id?: string, sized?: (bytes: number) => void): Promise<void> {
    this.d.inflight.n++;
    return to.call<unknown>(msg, { timeout: this.d.callTimeoutMs }).then(
      (r) => {
        this.d.inflight.n--;
        if (this.state === 'closed') return;
        if (isError(r)) {
          const { code, message, ...more } = r.error;
          this.error(code, message, { ...(rid !== undefined ? { rid } : {}), ...(id !== undefined ? { id } : {}), ...more });
          return;
        }
        const data = encodeFrame(answer(r as R), this.codec);
        sized?.(typeof data === 'string' ? Buffer.byteLength(data) : data.length);
        this.write(data);
      },
      (e) => {
        this.d.inflight.n--;
        // The actor stopped, crashed or timed out with the request in hand:
        // it may or may not have taken effect, and only a retry (a send with
        // the same id) tells. `internal` would read as final, and a client
        // that drops the send then loses a message the node may have stored.
        const code: ErrorCode = e instanceof CallError && RETRYABLE.has(e.code) ? 'unavailable' : 'internal';
        this.error(code, code === 'unavailable' ? 'the node could not answer now; try again (a send with the same id)' : 'internal error', { ...(rid !== undefined ? { rid } : {}), ...(id !== undefined ? { id } : {}) });
      },
    );
  }

  private error(code: ErrorCode, message: string, echo: { rid?: string; id?: string; missing?: string[]; extra?: string[] } = {}): void {
    this.d.metrics.errors.inc({ code });
    const frame: ErrorFrame = { t: 'error', code, message };
    if (echo.rid !== undefined) frame.rid = echo.rid;
    else if (echo.id !== undefined) frame.id = echo.id;
    if (echo.missing !== undefined) frame.missing = echo.missing;
    if (echo.extra !== undefined) frame.extra = echo.extra;
    this.writeFrame(frame);
  }

  /** Encodes one frame for this connection's codec and writes it. */
  private writeFrame(frame: ServerFrame): void {
    this.write(encodeFrame(frame, this.codec));
  }

  private write(data: string | Uint8Array): void {
    const ws = this.ws;
    if (ws.readyState !== 1) return;
    corkForTurn(ws);
    ws.send(data);
    this.d.metrics.framesOut.inc();
    const limit = this.d.limits.sendBufferBytes;
    if (ws.bufferedAmount <= limit) return;
    // A reader that does not keep up would make us hold its frames in memory
    // without bound, so it is dropped (it resumes from its last ack). But one
    // that does keep up can be sent more than the limit at once (a window of
    // large messages on reconnect, a history page); dropping it then would
    // drop it again on every reconnect. So it has SLOW_READER_GRACE_MS to
    // drain below the limit, and is dropped at once only past `sendCap`.
    if (ws.bufferedAmount > this.sendCap) {
      this.dropSlowReader();
      return;
    }
    this.slowCheck ??= setTimeout(() => {
      this.slowCheck = null;
      if (this.state !== 'closed' && ws.bufferedAmount > limit) this.dropSlowReader();
    }, SLOW_READER_GRACE_MS);
  }

  private dropSlowReader(): void {
    this.d.metrics.slowReaders.inc();
    this.ws.terminate();
    this.onClose();
  }
}

/** What a conversation answers to `history`. */
interface HistoryPage {
  messages: StoredMessage[];
  more: boolean;
}

/** The user actor refused to register the device (removed, or past the device cap): its message is for the client. */
class RegistrationRefused extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
