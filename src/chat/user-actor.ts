/**
 * UserActor (`user:<name>`): everything about one user — account, devices,
 * the inbox and its per-device cursors, the window of deliveries, presence,
 * settings, keys, and the per-conversation state behind the chats list.
 *
 * It is the single owner of the inbox and of the devices, which closes the
 * race between "is the user online" and "store for later": every entry is
 * appended here, then pushed to whichever devices are connected.
 *
 * Guarantees
 * - Inbox numbers are gap-free per user and an entry is pushed only once
 *   its append is durable; a device gets entries in inbox order, at most
 *   `window` (256) unacknowledged at a time, and after a reconnect
 *   everything after its last ack (it may see an entry twice: at-least-once).
 * - Messages of one conversation are accepted strictly in seq order: a
 *   `deliver` ahead of the next expected seq is held back and the
 *   conversation is asked to resend the gap; a repeat is dropped (and
 *   acknowledged again, so the conversation's cursor moves).
 * - A user's own message enters its inbox only when another of its devices
 *   is registered (the sending device has `sent`); a device registered
 *   later starts after it and finds it in the history.
 * - An ack is cumulative; acking a number never sent to that device is
 *   `bad_request`. Entries every device has acknowledged are deleted.
 *   Acks take effect at once in memory and are written with the actor's
 *   next transaction, or after `ACK_FLUSH_MS` (1 s) at the latest, not in
 *   a transaction of their own: a crash can forget the last second of
 *   acks, so those entries are delivered again (at-least-once, as above).
 * - A one-time prekey is handed out at most once, even to concurrent
 *   requests (they are handled one at a time, and the removal is durable
 *   before the answer).
 * - A user exists once it has an account, a registered device, or the
 *   operator declared it (`exists`); `keys_get` of one that does not is
 *   `not_found`, and conversations ask before naming it (see conv-actor.ts).
 *
 * Limits (defaults in config.ts): at most `devicesPerUser` (16) registered
 * devices, a new one past it is `forbidden` (existing ones still connect;
 * `device_remove` frees a place); at most `storedBytesPerUser` (256 MiB) of
 * message bodies sent within the retention, counted per day with the
 * client id's `sentids` row, past it a send is `rate_limited` and nothing
 * stored is touched; `inboxEntries` (100 000) unacknowledged entries, which
 * this actor reports in its `accepted` answers so a dm can refuse sends.
 */
import type { ActorContext, Behaviour, Signal } from '../actors/behaviour.js';
import type { ActorRef } from '../actors/ref.js';
import { SmallMap } from '../actors/small-map.js';
import type { Transaction } from '../store/index.js';
import { encodeFrame } from '../protocol/codec.js';
import type { ClientCodec } from '../protocol/connection.js';
import { WriteBehind } from './write-behind.js';
import type { ChatEnv } from './env.js';
import type { UserConv, UserRecord, KeyRecord } from './tables.js';
import { fail, isError, storedMessage, type ChatSummary, type ConnMsg, type ConvMsg, type DeviceInfo, type DeviceKeys, type DomainError, type HistoryMessage, type InboxEntry, type OwnSent, type SendMsg, type Sent, type StoredMessage, type UserMsg } from './messages.js';
import { deferTo } from './defer.js';
import { addUnread, countUnread, readUnread } from './unread.js';
import { parseConv } from '../protocol/ids.js';
import { DeliveredReceipts, RECEIPTS_CONSUMER, type ReceiptsHost } from './delivered-receipts.js';

const CACHE = 1024;
/** Removed devices remembered for token revocation (UserRecord.removed). */
const REMOVED_KEPT = 64;
/** Acks not yet written are written this soon at the latest (module header). */
const ACK_FLUSH_MS = 1000;
const DAY_MS = 24 * 3600 * 1000;

interface Device {
  conn: ActorRef<ConnMsg>;
  codec: ClientCodec;
  /** Highest inbox number pushed to this connection. */
  sentUpTo: number;
  /** Highest inbox number of a frame actually written to it; the entries after it up to `sentUpTo` were silent for it. */
  realUpTo: number;
  mref: string;
  pumping: boolean;
}

interface Cached {
  entry: InboxEntry;
  msg?: StoredMessage;
  /** Clock time of the append: past the retention the entry has expired in the store too. */
  at: number;
}

export class UserActor implements Behaviour<UserMsg>, ReceiptsHost {
  readonly user: string;
  private rec!: UserRecord;
  private recDirty = false;
  /** Last inbox number given out, and the last one durable. */
  private head = 0;
  private committed = 0;
  /** Inbox entries below this were trimmed or expired when the actor started (the floor of a user with no device). */
  private trimmed = 0;
  /** Per device: the last acknowledged inbox number (written with the next transaction, see `acksDue`). */
  private cursors: Record<string, number> = {};
  /** The delivered receipts this user owes the senders of what its devices acknowledged. */
  private receipts!: DeliveredReceipts;
  /** Devices whose cursor moved since it was last written (null: none). */
  private acksDue: Set<string> | null = null;
  private ackTimer = 0;
  /** Devices connected now; usually one (SmallMap keeps one entry without a hash table). */
  private readonly online = new SmallMap<string, Device>();
  /**
   * Per device: the connection that went away last and how far it was sent.
   * Its down signal can overtake an ack it sent just before closing (signals
   * are handled before messages), and that ack must still count: after an
   * ack nothing up to it is delivered to the device again.
   */
  private gone_: Map<string, { conn: string; sentUpTo: number }> | null = null;
  private watchers_: Map<string, { conn: ActorRef<ConnMsg>; codec: ClientCodec; mref: string }> | null = null;
  private cache_: Map<number, Cached> | null = null;
  private convs_: Map<string, UserConv> | null = null;
  /**
   * Per conversation: the highest accepted seq that is durable. `accepted`
   * in the UserConv runs ahead of it while the accepting transaction is in
   * flight, and only this may be reported to the conversation: it drops its
   * resend duty on the report, so a position that a thread death could
   * still undo would lose the message for good.
   */
  private durable_: Map<string, number> | null = null;
  /** Per conversation: the write of a group announcement still in flight (`membership`). */
  private applying_: Map<string, Promise<void>> | null = null;
  private dirtyConvs_: Set<string> | null = null;
  /** Messages that arrived ahead of a gap, per conversation. */
  private held_: Map<string, Map<number, { msg: StoredMessage; convRef: ActorRef<ConvMsg> }>> | null = null;
  private resendAsked_: Map<string, number> | null = null;
  /** Sends whose conversation has not answered yet, by client id. */
  private sending_: Map<string, Promise<Sent | DomainError>> | null = null;

  // The maps above are made on first use: a connected user that only sits
  // there (most of them) needs none, and eight empty Maps are ~1.4 KB per
  // user. Paths an idle user runs (keepAlive, down signals, presence) read
  // the fields directly instead of through these getters.
  private get gone() { return (this.gone_ ??= new Map()); }
  private get watchers() { return (this.watchers_ ??= new Map()); }
  private get cache() { return (this.cache_ ??= new Map()); }
  private get convs() { return (this.convs_ ??= new Map()); }
  private get durable() { return (this.durable_ ??= new Map()); }
  private get dirtyConvs() { return (this.dirtyConvs_ ??= new Set()); }
  private get held() { return (this.held_ ??= new Map()); }
  private get resendAsked() { return (this.resendAsked_ ??= new Map()); }
  private get sending() { return (this.sending_ ??= new Map()); }
  private writer_: WriteBehind | null = null;
  private ctx!: ActorContext<UserMsg>;

  constructor(
    private readonly id: string,
    private readonly env: ChatEnv,
  ) {
    this.user = id.slice(5);
  }

  async init(ctx: ActorContext<UserMsg>): Promise<void> {
    this.ctx = ctx;
    const t = this.env.tables;
    // A previous activation that crashed may still have a commit in flight (write-behind.ts).
    await WriteBehind.settled(this.id);
    const [rec, info] = await Promise.all([t.users.get([this.id]), t.inbox.info(this.id)]);
    this.rec = rec ?? { hash: null, createdAt: this.env.clock.now(), lastSeenSetting: 'everyone', lastSeen: null, devices: {} };
    this.head = this.committed = info.next - 1;
    this.trimmed = info.first - 1;
    const { [RECEIPTS_CONSUMER]: _, ...devices } = info.consumers;
    this.cursors = devices;
    this.receipts = new DeliveredReceipts(this, info.consumers);
    // A thread died with receipts owed (or acks written whose receipts were not): hand them over now.
    if (this.receipts.owes(this.maxCursor())) ctx.self.send({ t: 'receipts' });
  }

  /**
   * The actor's writer, made on first use and dropped again once it has
   * nothing queued or in flight: an idle connected user holds none (the
   * writer, its queue and its two closures are ~300 bytes).
   */
  private get writer(): WriteBehind {
    return (this.writer_ ??= this.makeWriter());
  }

  private makeWriter(): WriteBehind {
    const t = this.env.tables;
    return new WriteBehind(
      this.env.store,
      this.id,
      (e) => this.ctx.stop({ error: 'StoreError', code: (e as { code?: string }).code ?? 'store_io', message: String((e as Error).message ?? e) }),
      (tx) => {
        if (this.recDirty) {
          tx.put(t.users, [this.id], this.rec);
          this.recDirty = false;
        }
        if (this.dirtyConvs_ !== null && this.dirtyConvs_.size > 0) {
          for (const c of this.dirtyConvs_) tx.put(t.uconv, [this.id, c], this.convs.get(c)!);
          this.dirtyConvs_.clear();
        }
        if (this.acksDue !== null) {
          const r = this.receipts;
          if (!r.subscribed) {
            // Keeps the entries whose receipts are not handed over yet (delivered-receipts.ts).
            tx.subscribe(t.inbox, this.id, RECEIPTS_CONSUMER, r.done);
            r.subscribed = true;
          }
          for (const dev of this.acksDue) tx.ack(t.inbox, this.id, dev, dev === RECEIPTS_CONSUMER ? r.done : this.cursors[dev]!);
          // Acks that owe receipts: the startup sweep must wake this user if its thread dies before they are handed over.
          if (r.marker !== true && r.done < this.maxCursor()) {
            tx.put(t.fanout, [this.id], { since: this.env.clock.now() });
            r.marker = true;
          }
          this.acksDue = null;
        }
      },
      (w) => {
        if (this.writer_ === w) this.writer_ = null;
      },
    );
  }

  keepAlive(): boolean {
    return this.receipts.owes(this.maxCursor()) || (this.sending_?.size ?? 0) > 0 || this.online.size > 0 || (this.watchers_?.size ?? 0) > 0 || (this.writer_?.busy ?? false) || (this.held_?.size ?? 0) > 0;
  }

  async passivate(): Promise<void> {
    // Nothing owed any more (keepAlive): the wake-up row goes with the last writes.
    const marker = this.receipts.marker === true;
    if (marker) this.receipts.marker = false;
    if (marker || this.recDirty || (this.dirtyConvs_?.size ?? 0) > 0 || this.acksDue !== null) {
      await this.writer.write((tx) => {
        if (marker) tx.del(this.env.tables.fanout, [this.id]);
      });
    }
  }

  /** The highest acknowledged inbox number of any device. */
  private maxCursor(): number {
    let max = 0;
    for (const d in this.cursors) if (this.cursors[d]! > max) max = this.cursors[d]!;
    return max;
  }

  // ---- ReceiptsHost (delivered-receipts.ts) ----------------------------------------------------

  async entries(after: number, to: number): Promise<InboxEntry[]> {
    const out: InboxEntry[] = [];
    for (let n = after + 1; n <= to; n++) {
      const c = this.cache_?.get(n);
      if (c === undefined) break;
      out.push(c.entry);
    }
    if (out.length === to - after) return out;
    out.length = 0;
    for (let from = after; from < to; ) {
      const rows = await this.env.tables.inbox.read(this.id, { after: from, limit: Math.min(256, to - from) });
      if (rows.length === 0) break;
      for (const r of rows) if (r.seq <= to) out.push(r.value);
      from = rows[rows.length - 1]!.seq;
    }
    return out;
  }

  handOver(sender: string, entry: InboxEntry, timeoutMs: number): Promise<unknown> {
    return this.ctx.ref<UserMsg>(`user:${sender}`).call({ t: 'entry', entry }, { timeout: timeoutMs });
  }

  moved(): void {
    (this.acksDue ??= new Set()).add(RECEIPTS_CONSUMER);
    if (this.ackTimer === 0) this.ackTimer = this.ctx.sendAfter(ACK_FLUSH_MS, { t: 'flush_acks' });
    this.receipts.run(this.maxCursor());
  }

  later(ms: number): void {
    this.ctx.sendAfter(ms, { t: 'receipts' });
  }

  async handle(m: UserMsg, ctx: ActorContext<UserMsg>): Promise<unknown> {
    switch (m.t) {
      case 'account_create':
        // A user that exists in any way (a password, a device registered by
        // an operator token, declared by the operator) is never claimable:
        // a password set here would open its inbox to whoever set it.
        if (this.rec.hash !== null || Object.keys(this.rec.devices).length > 0 || this.rec.declared === true) return { created: false };
        this.rec.hash = m.hash;
        this.recDirty = true;
        await this.writer.write(() => undefined);
        return { created: true };
      case 'account_get':
        return { hash: this.rec.hash };
      case 'send':
        return this.send(m.conv, m.msg, ctx);
      case 'connect':
        return this.connect(m.device, m.conn, m.codec, m.issuedAt, ctx);
      case 'disconnect':
        this.disconnect(m.device, m.conn);
        return undefined;
      case 'pump':
        this.pump(m.device);
        return undefined;
      case 'flush_acks':
        this.ackTimer = 0;
        if (this.acksDue !== null) void this.writer.write(() => undefined).catch(() => undefined);
        return undefined;
      case 'ack':
        return this.ack(m.device, m.inbox, m.conn);
      case 'read':
        return this.read(m.device, m.conv, m.seq, m.conn);
      case 'chats':
        return this.chats();
      case 'settings':
        return this.settings(m);
      case 'exists':
        return this.exists();
      case 'declare':
        if (this.rec.declared !== true) {
          this.rec.declared = true;
          this.recDirty = true;
          await this.writer.write(() => undefined);
        }
        return { ok: true };
      case 'can_add':
        if (!this.exists()) return 'unknown';
        return m.by !== this.user && this.rec.groupAdd === 'nobody' ? 'refuses' : 'ok';
      case 'inbox_full':
        return this.inboxFull();
      case 'device_list':
        return this.deviceList();
      case 'device_remove':
        return this.deviceRemove(m.device);
      case 'presence_watch':
        if (!this.watchers.has(m.conn.id)) this.watchers.set(m.conn.id, { conn: m.conn, codec: m.codec, mref: ctx.monitor(m.conn) });
        m.conn.send({ t: 'out', data: [encodeFrame(this.presenceFrame(), m.codec)] });
        return undefined;
      case 'presence_unwatch': {
        const w = this.watchers_?.get(m.conn.id);
        if (w) {
          ctx.demonitor(w.mref);
          this.watchers.delete(m.conn.id);
        }
        return undefined;
      }
      case 'keys_put':
        return this.keysPut(m);
      case 'keys_get':
        // Asking for an unknown user's keys must not tell it apart from one without keys by silence.
        if (!this.exists()) return fail('not_found', `keys_get.user: no user ${this.user}`);
        return this.keysGet();
      case 'devices':
        return Object.keys(this.rec.devices);
      case 'deliver':
        return this.deliver(m.conv, m.msg, m.convRef);
      case 'entry':
        // Answered once durable: a delivered receipt's recipient hands it over by call (delivered-receipts.ts).
        return deferTo(ctx, this.append(m.entry));
      case 'receipts':
        this.receipts.retried();
        this.receipts.run(this.maxCursor());
        return undefined;
      case 'resume':
        // The startup sweep found this user's wake-up row: it owed receipts when its thread stopped.
        this.receipts.marker = true;
        this.receipts.run(this.maxCursor());
        return undefined;
      case 'membership':
        return deferTo(ctx, this.membership(m.conv, m.ev, m.member, m.lastSeq, m.lastTs, m.entry));
      case 'typing': {
        const f = { t: 'typing', conv: m.conv, user: m.user, on: m.on };
        for (const d of this.online.values()) d.conn.send({ t: 'out', data: [encodeFrame(f, d.codec)] });
        return undefined;
      }
    }
  }

  info(sig: Signal): void {
    if (sig.type !== 'down') return;
    for (const [dev, d] of this.online) if (d.mref === sig.monitor) this.disconnect(dev, d.conn);
    if (this.watchers_ !== null) for (const [k, w] of this.watchers_) if (w.mref === sig.monitor) this.watchers_.delete(k);
  }

  // ---- sending ----------------------------------------------------------------------------------

  /**
   * A client id is unique per sending user (PROTOCOL.md "Dedupe"): the same
   * id again answers the first `sent` and delivers nothing, whichever
   * conversation it names. The conversation keeps its own dedupe too, which
   * covers a crash between its commit and the write of `sentids` here.
   */
  private async send(conv: string, msg: SendMsg, ctx: ActorContext<UserMsg>): Promise<unknown> {
    const inflight = this.sending.get(msg.id);
    if (inflight !== undefined) return deferTo(ctx, inflight);
    const t = this.env.tables;
    // A fresh id is absent, which LevelDB's bloom filter answers from memory: read on this thread.
    const seen = t.sentids.getNow([this.id, msg.id]);
    if (seen !== undefined && seen.seq > 0) return seen;
    const size = messageBytes(msg);
    if (seen === undefined) {
      const cap = this.env.limits.storedBytesPerUser;
      if (this.storedBytes() + size > cap) {
        return fail('rate_limited', `send: ${this.user} has stored ${cap} bytes of messages within the retention (limits.storedBytesPerUser); send it again later with the same id, once older messages expired`);
      }
    } else {
      // Reserved for a conversation before: that one's dedupe knows whether
      // it stored the message, whichever conversation this retry names.
      conv = seen.conv;
    }
    // The id is reserved for this conversation in a write that runs beside
    // the conversation's commit, and `sent` waits for both: once a client
    // has `sent`, a retry of the id after any crash finds the reservation
    // and goes to the same conversation, whose dedupe answers the same seq.
    const reserved = seen !== undefined ? null : this.writer.write((tx) => tx.put(t.sentids, [this.id, msg.id], { id: msg.id, conv, seq: 0, ts: 0 }));
    const convRef = ctx.ref<ConvMsg>(`conv:${conv}`);
    const answered = convRef.call<Sent | OwnSent | DomainError>({ ...msg, self: true }, { timeout: 10_000 });
    const p = Promise.all([reserved, answered])
      .then(
        ([, r]): Sent | DomainError => {
          if (isError(r)) return r;
          const sent: Sent = { id: r.id, conv: r.conv, seq: r.seq, ts: r.ts };
          // Stored just now and not delivered here by the conversation: take it
          // into this user's inbox (other devices, chats list) as `deliver`
          // would; with the conversation in memory that happens now.
          if ('own' in r) {
            // Stored just now (a repeat has no `own`): its bytes count (rec is dirty, written with the next transaction).
            this.countSent(size);
            const own = storedMessage(msg, r.seq, r.ts);
            const uc = this.convs_?.get(conv);
            if (uc !== undefined) void this.take(conv, uc, own, convRef)?.catch(() => undefined);
            else ctx.self.send({ t: 'deliver', conv, msg: own, convRef });
          }
          return sent;
        },
        (): DomainError => fail('unavailable', 'the conversation did not answer in time; send it again with the same id'),
      )
      .finally(() => this.sending.delete(msg.id));
    this.sending.set(msg.id, p);
    return deferTo(ctx, p);
  }

  /** Bytes of messages sent within the retention; drops the days that fell out of it. */
  private storedBytes(): number {
    const days = this.rec.sentBytes;
    if (days === undefined) return 0;
    const oldest = Math.floor((this.env.clock.now() - this.env.limits.retentionMs) / DAY_MS);
    while (days.length > 0 && days[0]![0] < oldest) days.shift();
    let sum = 0;
    for (const [, b] of days) sum += b;
    return sum;
  }

  private countSent(bytes: number): void {
    const day = Math.floor(this.env.clock.now() / DAY_MS);
    const days = (this.rec.sentBytes ??= []);
    const last = days[days.length - 1];
    if (last !== undefined && last[0] === day) last[1] += bytes;
    else days.push([day, bytes]);
    this.recDirty = true;
  }

  // ---- settings and existence ---------------------------------------------------------------

  private async settings(m: Extract<UserMsg, { t: 'settings' }>): Promise<{ ok: true } | DomainError> {
    // `?? undefined`: a codec between threads may carry an absent field as null.
    const lastSeen = m.lastSeen ?? undefined;
    const groupAdd = m.groupAdd ?? undefined;
    if (lastSeen === undefined && groupAdd === undefined) return fail('bad_request', 'settings: give lastSeen, groupAdd or both');
    if (lastSeen !== undefined) this.rec.lastSeenSetting = lastSeen;
    if (groupAdd !== undefined) this.rec.groupAdd = groupAdd;
    this.recDirty = true;
    await this.writer.write(() => undefined);
    if (lastSeen !== undefined) this.presenceToAll();
    return { ok: true };
  }

  /** An account, a device that authenticated once, or declared by the operator (PROTOCOL.md "Recipients"). */
  private exists(): boolean {
    if (this.rec.hash !== null || this.rec.declared === true) return true;
    for (const _ in this.rec.devices) return true;
    return false;
  }

  /**
   * Unacknowledged entries (head minus the lowest device cursor; with no
   * device, minus what was trimmed at activation) reached `inboxEntries`.
   */
  private inboxFull(): boolean {
    let low = Infinity;
    for (const d in this.rec.devices) low = Math.min(low, this.cursors[d] ?? 0);
    const floor = low === Infinity ? this.trimmed : Math.max(low, this.trimmed);
    return this.head - floor >= this.env.limits.inboxEntries;
  }

  // ---- devices --------------------------------------------------------------------------------

  private deviceList(): DeviceInfo[] {
    return Object.entries(this.rec.devices)
      .map(([device, d]) => ({ device, registeredAt: d.registeredAt, online: this.online.has(device) }))
      .sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
  }

  /**
   * Forgets a device: its inbox consumer (so entries only it held back are
   * trimmed), its keys row and its registration, in one transaction, and
   * closes its connection. It frees a place under `devicesPerUser`; a lost
   * or stolen phone stops receiving at once.
   */
  private async deviceRemove(device: string): Promise<{ ok: true } | DomainError> {
    if (this.rec.devices[device] === undefined) return fail('not_found', `device_remove.device: ${this.user} has no device ${device}`);
    const d = this.online.get(device);
    if (d !== undefined) {
      this.ctx.demonitor(d.mref);
      this.online.delete(device);
      d.conn.send({ t: 'close', code: 4001, reason: 'device removed' });
    }
    this.gone_?.delete(device);
    delete this.rec.devices[device];
    const removed = (this.rec.removed ??= {});
    removed[device] = this.env.clock.now();
    const kept = Object.entries(removed).sort((a, b) => b[1] - a[1]);
    for (const [dev] of kept.slice(REMOVED_KEPT)) delete removed[dev];
    delete this.cursors[device];
    // Its pending ack must not be written after the unsubscribe: an ack of a consumer that is gone would fail the transaction.
    if (this.acksDue !== null) {
      this.acksDue.delete(device);
      if (this.acksDue.size === 0) this.acksDue = null;
    }
    this.recDirty = true;
    const t = this.env.tables;
    await this.writer.write((tx) => {
      tx.unsubscribe(t.inbox, this.id, device);
      tx.del(t.keys, [this.id, device]);
    });
    if (d !== undefined && this.online.size === 0) this.wentOffline();
    return { ok: true };
  }

  private async connect(device: string, conn: ActorRef<ConnMsg>, codec: ClientCodec, issuedAt: number, ctx: ActorContext<UserMsg>): Promise<{ inbox: number; now: number } | DomainError> {
    const removedAt = this.rec.removed?.[device];
    if (removedAt !== undefined) {
      // `iat` has whole seconds: a token issued in the second of the removal counts as newer.
      if (Math.floor(issuedAt / 1000) < Math.floor(removedAt / 1000)) return fail('unauthorized', `auth: device ${device} was removed; sign in again for a new token`);
      delete this.rec.removed![device];
      this.recDirty = true;
    }
    const cap = this.env.limits.devicesPerUser;
    if (this.rec.devices[device] === undefined && Object.keys(this.rec.devices).length >= cap) {
      // Each device is an inbox consumer and a keys row: unbounded, one token could register them without end.
      return fail('forbidden', `connect: ${this.user} has ${cap} registered devices (limits.devicesPerUser); remove one (device_remove) before adding ${device}`);
    }
    const old = this.online.get(device);
    if (old !== undefined) {
      ctx.demonitor(old.mref);
      this.online.delete(device);
      this.gone.set(device, { conn: old.conn.id, sentUpTo: old.sentUpTo });
      old.conn.send({ t: 'replaced' });
    }
    if (this.rec.devices[device] === undefined) {
      // A new device starts from the oldest entry still kept.
      this.rec.devices[device] = { registeredAt: this.env.clock.now() };
      this.recDirty = true;
      await this.writer.write((tx) => tx.subscribe(this.env.tables.inbox, this.id, device, 'start'));
      this.cursors[device] = (await this.env.tables.inbox.info(this.id)).consumers[device] ?? 0;
    }
    const cursor = this.cursors[device] ?? 0;
    const wasOnline = this.online.size > 0;
    this.online.set(device, { conn, codec, sentUpTo: cursor, realUpTo: cursor, mref: ctx.monitor(conn), pumping: false });
    if (!wasOnline) this.presenceToAll();
    // Pushing starts after this reply, so the device sees `ready` first.
    ctx.self.send({ t: 'pump', device });
    return { inbox: cursor, now: this.env.clock.now() };
  }

  private disconnect(device: string, conn: ActorRef): void {
    const d = this.online.get(device);
    if (d === undefined || d.conn.id !== conn.id) return;
    this.ctx.demonitor(d.mref);
    this.online.delete(device);
    this.gone.set(device, { conn: conn.id, sentUpTo: d.sentUpTo });
    if (this.online.size === 0) this.wentOffline();
  }

  private wentOffline(): void {
    this.rec.lastSeen = this.env.clock.now();
    this.recDirty = true;
    void this.writer.write(() => undefined).catch(() => undefined);
    this.presenceToAll();
  }

  private presenceFrame(): object {
    const hide = this.rec.lastSeenSetting === 'nobody';
    return { t: 'presence', user: this.user, online: this.online.size > 0, lastSeen: hide ? null : this.rec.lastSeen };
  }

  private presenceToAll(): void {
    const f = this.presenceFrame();
    if (this.watchers_ === null || this.watchers_.size === 0) return;
    for (const w of this.watchers_.values()) w.conn.send({ t: 'out', data: [encodeFrame(f, w.codec)] });
  }

  // ---- the inbox --------------------------------------------------------------------------------

  /** Appends an entry; it is pushed once durable (and the promise resolves). `extra` joins its transaction. */
  private append(entry: InboxEntry, msg?: StoredMessage, then?: () => void, extra?: (tx: Transaction) => void): Promise<void> {
    const n = ++this.head;
    const at = this.env.clock.now();
    this.cache.set(n, msg === undefined ? { entry, at } : { entry, msg, at });
    if (this.cache.size > CACHE) this.cache.delete(this.cache.keys().next().value!);
    // Nobody online: wake the user through the push provider. The
    // notification is written with the entry, so it exists iff the entry does.
    const push = this.env.push;
    const notify = push !== null && entry.k === 'm' && entry.from !== this.user && this.online.size === 0;
    const p = this.ctx.self.partition;
    const w = this.writer.write((tx) => {
      tx.append(this.env.tables.inbox, this.id, entry);
      if (notify) tx.append(push.outbox, push.owner(p), { user: this.user, inbox: n, conv: entry.conv, seq: entry.seq, from: entry.from, ts: msg?.ts ?? this.env.clock.now() });
      extra?.(tx);
    });
    w.then(
      () => {
        if (n > this.committed) this.committed = n;
        for (const dev of this.online.keys()) this.pump(dev);
        if (notify) push.kick(p);
        then?.();
      },
      () => undefined, // the writer stops the actor; the entry was not stored
    );
    return w;
  }

  /** Pushes what the device may have now: up to `window` entries past its ack, only durable ones. */
  private pump(device: string): void {
    const d = this.online.get(device);
    if (d === undefined || d.pumping) return;
    const limit = Math.min(this.committed, (this.cursors[device] ?? 0) + this.env.limits.window);
    if (d.sentUpTo >= limit) return;
    const from = d.sentUpTo + 1;
    const cached: Array<[number, Cached]> = [];
    // An entry older than the retention is read from the store, where it has expired.
    const oldest = this.env.clock.now() - this.env.limits.retentionMs;
    for (let n = from; n <= limit; n++) {
      const c = this.cache.get(n);
      if (c === undefined || (c.entry.k === 'm' && c.msg === undefined) || c.at <= oldest) break;
      cached.push([n, c]);
    }
    if (cached.length === limit - from + 1) {
      d.sentUpTo = limit;
      this.sendFrames(device, d, cached.map(([n, c]) => this.frame(n, c.entry, device, c.msg)));
      return;
    }
    // Older entries: read them from the inbox and their messages from their conversations.
    d.pumping = true;
    void this.load(from, limit, device).then(
      (frames) => {
        d.pumping = false;
        if (this.online.get(device) !== d) return;
        d.sentUpTo = Math.max(d.sentUpTo, frames.upTo);
        this.sendFrames(device, d, frames.frames);
        if (frames.upTo < limit) this.pump(device);
        else if (d.sentUpTo < Math.min(this.committed, (this.cursors[device] ?? 0) + this.env.limits.window)) this.pump(device);
      },
      () => {
        d.pumping = false;
      },
    );
  }

  private async load(from: number, limit: number, device: string): Promise<{ frames: Array<object | null>; upTo: number }> {
    const entries = await this.env.tables.inbox.read(this.id, { after: from - 1, limit: Math.min(256, limit - from + 1) });
    if (entries.length === 0) return { frames: [], upTo: limit }; // expired or trimmed: nothing left there
    const byConv = new Map<string, number[]>();
    for (const e of entries) {
      if (e.value.k !== 'm') continue;
      let a = byConv.get(e.value.conv);
      if (a === undefined) byConv.set(e.value.conv, (a = []));
      a.push(e.value.seq);
    }
    const views = new Map<string, HistoryMessage>();
    await Promise.all(
      [...byConv].map(async ([conv, seqs]) => {
        const got = await this.ctx.ref<ConvMsg>(`conv:${conv}`).call<Array<HistoryMessage | null>>({ t: 'fetch', user: this.user, device, seqs }, { timeout: 10_000 });
        got.forEach((v, i) => {
          if (v !== null) views.set(`${conv}\u0000${seqs[i]}`, v);
        });
      }),
    );
    const frames = entries.map((e) => {
      const v = e.value;
      if (v.k === 'm') {
        const view = views.get(`${v.conv}\u0000${v.seq}`);
        if (view === undefined) return null; // the message expired
        return this.msgFrame(e.seq, view, device, v);
      }
      return this.frame(e.seq, v, device);
    });
    return { frames, upTo: entries[entries.length - 1]!.seq };
  }

  private sendFrames(device: string, d: Device, frames: Array<object | null>): void {
    const data: Array<string | Uint8Array> = [];
    for (const f of frames) {
      if (f === null) continue;
      data.push(encodeFrame(f, d.codec));
      d.realUpTo = Math.max(d.realUpTo, (f as { inbox: number }).inbox);
    }
    if (data.length > 0) d.conn.send({ t: 'out', data });
    this.settle(device, d);
  }

  /**
   * Entries a device does not get (its own messages and reads, expired ones)
   * still count in its window, and it cannot acknowledge what it never saw:
   * a window full of them would stall it for good (a device that sent
   * `window` messages in a row would receive nothing more). So once it has
   * acknowledged every frame it was sent, the silent entries after them are
   * acknowledged for it.
   */
  private settle(device: string, d: Device): void {
    const cur = this.cursors[device] ?? 0;
    if (cur >= d.realUpTo && d.sentUpTo > cur) this.ctx.self.send({ t: 'ack', device, inbox: d.sentUpTo, conn: d.conn });
  }

  /** The frame of one entry for one device; null when that device must not get it. */
  private frame(n: number, e: InboxEntry, device: string, msg?: StoredMessage): object | null {
    switch (e.k) {
      case 'm': {
        if (msg === undefined) return null;
        const body = msg.payloads !== undefined ? (msg.payloads[`${this.user}/${device}`] ?? null) : (msg.body ?? null);
        return this.msgFrame(n, { conv: e.conv, seq: msg.seq, id: msg.id, from: msg.from, device: msg.device, ts: msg.ts, type: msg.type, body }, device, e);
      }
      case 'r':
        return e.status === 'read'
          ? { t: 'receipt', inbox: n, conv: e.conv, by: e.by, status: 'read', upTo: e.upTo }
          : { t: 'receipt', inbox: n, conv: e.conv, by: e.by, status: 'delivered', seqs: e.seqs };
      case 'g':
        return { t: 'group_event', inbox: n, conv: e.conv, group: e.group, event: e.event, by: e.by, users: e.users };
      case 's':
        return e.device === device ? null : { t: 'read_sync', inbox: n, conv: e.conv, upTo: e.upTo };
    }
  }

  private msgFrame(n: number, v: HistoryMessage, device: string, e: Extract<InboxEntry, { k: 'm' }>): object | null {
    // The sending device got `sent`; only the sender's other devices get `msg`.
    if (e.from === this.user && e.device === device) return null;
    return { t: 'msg', inbox: n, conv: v.conv, seq: v.seq, id: v.id, from: v.from, device: v.device, ts: v.ts, type: v.type, body: v.body };
  }

  private async ack(device: string, n: number, conn: ActorRef<ConnMsg>): Promise<void> {
    const d = this.online.get(device);
    if (d === undefined || d.conn.id !== conn.id) {
      // An ack from a connection that is gone, still in flight when it went.
      const g = this.gone_?.get(device);
      if (g === undefined || g.conn !== conn.id || n > g.sentUpTo) return;
    } else if (n > d.sentUpTo) {
      conn.send({ t: 'out', data: [encodeFrame({ t: 'error', code: 'bad_request', message: `ack: inbox ${n} was never sent to this device (last sent ${d.sentUpTo})` }, d.codec)] });
      return;
    }
    const cur = this.cursors[device] ?? 0;
    if (n <= cur) return;
    this.cursors[device] = n;
    (this.acksDue ??= new Set()).add(device);
    // Written with the next transaction; the timer only for a user that writes nothing else.
    if (this.ackTimer === 0) this.ackTimer = this.ctx.sendAfter(ACK_FLUSH_MS, { t: 'flush_acks' });
    this.receipts.run(this.maxCursor());
    this.pump(device);
    const now = this.online.get(device);
    if (now !== undefined) this.settle(device, now);
  }

  // ---- conversations --------------------------------------------------------------------------

  private async uconv(conv: string): Promise<UserConv> {
    let uc = this.convs.get(conv);
    if (uc === undefined) {
      // One is a member of a dm only if it is one of its two users: a `read` of
      // someone else's dm must not put it in one's chats list.
      const dm = parseConv(conv);
      const member = dm?.kind === 'dm' && (dm.a === this.user || dm.b === this.user);
      uc = (await this.env.tables.uconv.get([this.id, conv])) ?? { accepted: 0, lastSeq: 0, lastTs: 0, read: 0, unread: { ranges: [], extra: 0 }, member };
      // Another message may have loaded it while this one awaited the read.
      const loaded = this.convs.get(conv);
      if (loaded !== undefined) return loaded;
      this.convs.set(conv, uc);
      this.durable.set(conv, uc.accepted);
    }
    return uc;
  }

  private async deliver(conv: string, msg: StoredMessage, convRef: ActorRef<ConvMsg>): Promise<void> {
    void this.take(conv, await this.uconv(conv), msg, convRef);
  }

  /**
   * One message of a conversation whose state is loaded: a repeat is
   * acknowledged again, one ahead of a gap is held (and the gap asked for),
   * the next one is accepted, with the held ones that follow it. `extra`
   * joins the transaction of an accepted message; the answer is that
   * transaction, or null when nothing was accepted.
   */
  private take(conv: string, uc: UserConv, msg: StoredMessage, convRef: ActorRef<ConvMsg>, extra?: (tx: Transaction) => void): Promise<void> | null {
    if (msg.seq <= uc.accepted) {
      // A repeat: report what is durable. If its acceptance is still in
      // flight, that transaction's completion reports it (see `accept`).
      const safe = this.durable.get(conv) ?? 0;
      if (safe >= msg.seq) this.acknowledge(convRef, safe);
      return null;
    }
    if (msg.seq > uc.accepted + 1) {
      let h = this.held.get(conv);
      if (h === undefined) this.held.set(conv, (h = new Map()));
      if (h.size < 10_000) h.set(msg.seq, { msg, convRef });
      const asked = this.resendAsked.get(conv) ?? 0;
      if (Date.now() - asked > 1000) {
        this.resendAsked.set(conv, Date.now());
        convRef.send({ t: 'resend', user: this.user, from: uc.accepted + 1 });
      }
      return null;
    }
    const w = this.accept(conv, uc, msg, convRef, extra);
    const h = this.held_?.get(conv);
    if (h !== undefined) {
      for (let next = h.get(uc.accepted + 1); next !== undefined; next = h.get(uc.accepted + 1)) {
        h.delete(next.msg.seq);
        void this.accept(conv, uc, next.msg, next.convRef);
      }
      for (const s of h.keys()) if (s <= uc.accepted) h.delete(s);
      if (h.size === 0) this.held.delete(conv);
    }
    return w;
  }

  /** Takes the next message of a conversation; `extra` joins its transaction. Resolves once durable. */
  private accept(conv: string, uc: UserConv, msg: StoredMessage, convRef: ActorRef<ConvMsg>, extra?: (tx: Transaction) => void): Promise<void> {
    uc.accepted = msg.seq;
    uc.member = true;
    if (msg.seq > uc.lastSeq) {
      uc.lastSeq = msg.seq;
      uc.lastTs = msg.ts;
    }
    if (msg.from !== this.user && msg.seq > uc.read) {
      addUnread(uc.unread, msg.seq);
    }
    this.dirtyConvs.add(conv);
    const seq = msg.seq;
    const accepted = (): void => {
      if (seq > (this.durable.get(conv) ?? 0)) this.durable.set(conv, seq);
      this.acknowledge(convRef, seq);
    };
    if (msg.from === this.user && !this.hasOtherDevice(msg.device)) {
      // The sending device got `sent` and no other device would get this
      // entry: only the chats list changes. A device registered later
      // starts after it (it can read the message in the history).
      const w = this.writer.write(extra ?? (() => undefined));
      w.then(accepted, () => undefined);
      return w;
    }
    return this.append({ k: 'm', conv, seq, from: msg.from, device: msg.device }, msg, accepted, extra);
  }

  /** `full` only when it is: a dm keeps it in memory and refuses sends to this user meanwhile; an answer without it clears it. */
  private acknowledge(convRef: ActorRef<ConvMsg>, seq: number): void {
    convRef.send(this.inboxFull() ? { t: 'accepted', user: this.user, seq, full: true } : { t: 'accepted', user: this.user, seq });
  }

  private hasOtherDevice(device: string): boolean {
    for (const d in this.rec.devices) if (d !== device) return true;
    return false;
  }

  /**
   * A group announcement (announcements.ts), or without `ev` a group
   * restating this user's join floor. Joining: the user gets what is sent
   * after `lastSeq` (its join floor), not the group's past: it is taken as
   * accepted and read. Also when it already counted as a member: a group
   * restates the floor when a member asks for a resend below it (a
   * removal it never heard of before being added again), and without it
   * that member would wait for messages it may never have. Resolves once
   * durable; an announcement already applied (`ev`) changes nothing.
   */
  private async membership(conv: string, ev: number | undefined, member: boolean | undefined, lastSeq: number, lastTs: number, entry: InboxEntry | undefined): Promise<void> {
    const uc = await this.uconv(conv);
    if (ev !== undefined) {
      // Applied already: answered once that is durable (it may still be in flight).
      if ((uc.ev ?? 0) >= ev) return this.applying_?.get(conv);
      uc.ev = ev;
    }
    if (member === true) {
      uc.accepted = Math.max(uc.accepted, lastSeq);
      uc.lastSeq = Math.max(uc.lastSeq, lastSeq);
      uc.lastTs = Math.max(uc.lastTs, lastTs);
      if (lastSeq > uc.read) {
        uc.read = lastSeq;
        readUnread(uc.unread, lastSeq);
      }
    }
    if (member !== undefined) {
      uc.member = member;
      this.held_?.delete(conv);
    }
    this.dirtyConvs.add(conv);
    const accepted = uc.accepted;
    const w = entry !== undefined ? this.append(entry) : this.writer.write(() => undefined);
    (this.applying_ ??= new Map()).set(conv, w);
    try {
      await w;
    } finally {
      if (this.applying_.get(conv) === w) this.applying_.delete(conv);
    }
    if (accepted > (this.durable.get(conv) ?? 0)) this.durable.set(conv, accepted);
  }

  private async read(device: string, conv: string, seq: number, conn: ActorRef<ConnMsg>): Promise<void> {
    const cached = this.convs.has(conv);
    const uc = await this.uconv(conv);
    if (uc.lastSeq === 0) {
      // Nothing to read. A read of a made-up conversation id leaves nothing
      // behind: not an empty chat in the chats list, nor an entry in memory.
      if (!cached && !this.dirtyConvs.has(conv) && this.convs.get(conv) === uc) this.convs.delete(conv);
      if (uc.member) return;
      const d = this.online.get(device);
      conn.send({ t: 'out', data: [encodeFrame({ t: 'error', code: 'bad_request', message: `read: ${this.user} has no messages in ${conv}` }, d?.codec ?? 'json')] });
      return;
    }
    const top = Math.min(seq, uc.lastSeq);
    if (top <= uc.read) return;
    uc.read = top;
    readUnread(uc.unread, top);
    this.dirtyConvs.add(conv);
    this.append({ k: 's', conv, upTo: top, device });
    this.ctx.ref<ConvMsg>(`conv:${conv}`).send({ t: 'read', by: this.user, upTo: top });
  }

  private async chats(): Promise<ChatSummary[]> {
    const out = new Map<string, ChatSummary>();
    const view = (conv: string, uc: UserConv): ChatSummary => ({ conv, lastSeq: uc.lastSeq, lastTs: uc.lastTs, unread: countUnread(uc.unread) });
    for await (const [[, conv], uc] of this.env.tables.uconv.range({ prefix: [this.id] })) out.set(conv, view(conv, uc));
    for (const [conv, uc] of this.convs) out.set(conv, view(conv, uc));
    const keep = [...out.values()].filter((c) => c.lastSeq > 0 || (this.convs.get(c.conv)?.member ?? true));
    return keep.sort((a, b) => b.lastTs - a.lastTs || (a.conv < b.conv ? -1 : 1));
  }

  // ---- keys -------------------------------------------------------------------------------------

  private async keysPut(m: Extract<UserMsg, { t: 'keys_put' }>): Promise<unknown> {
    const t = this.env.tables;
    const row: KeyRecord = (await t.keys.get([this.id, m.device])) ?? { identityKey: m.identityKey, signedPreKey: m.signedPreKey, otks: [] };
    row.identityKey = m.identityKey;
    row.signedPreKey = m.signedPreKey;
    const byId = new Map(row.otks.map((k) => [k.id, k]));
    for (const k of m.oneTimePreKeys) byId.set(k.id, { id: k.id, key: k.key });
    row.otks = [...byId.values()].sort((a, b) => a.id - b.id).slice(-1000);
    await this.writer.write((tx) => tx.put(t.keys, [this.id, m.device], row));
    return { ok: true };
  }

  private async keysGet(): Promise<DeviceKeys[]> {
    const t = this.env.tables;
    const devices = Object.keys(this.rec.devices).sort();
    const rows = await t.keys.getMany(devices.map((d) => [this.id, d] as [string, string]));
    const out: DeviceKeys[] = [];
    const changed: Array<[string, KeyRecord]> = [];
    devices.forEach((device, i) => {
      const row = rows[i];
      if (row === undefined) return;
      const otk = row.otks.shift() ?? null;
      if (otk !== null) changed.push([device, row]);
      out.push({ device, identityKey: row.identityKey, signedPreKey: row.signedPreKey, oneTimePreKey: otk });
    });
    // Durable before anyone sees the key: a restart cannot hand it out again.
    if (changed.length > 0) await this.writer.write((tx) => changed.forEach(([d, r]) => tx.put(t.keys, [this.id, d], r)));
    return out;
  }
}

/**
 * A message's size for `storedBytesPerUser`: the JSON length of its body or
 * payloads. Cheap, and the same whatever codec the sender used. A value JSON
 * cannot write (a BigInt from MessagePack) counts as a whole body: a throw
 * here would crash the actor.
 */
function messageBytes(m: SendMsg): number {
  try {
    return JSON.stringify(m.payloads ?? m.body ?? null)?.length ?? 4;
  } catch {
    return 64 * 1024;
  }
}
