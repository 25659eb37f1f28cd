/**
 * ConvActor (`conv:dm:<a>:<b>`, `conv:g:<group>`): one conversation.
 *
 * It owns the conversation's log, its dedupe table and its members, and is
 * the only writer of them, so `seq` is assigned here, one message at a time:
 * gap-free and in the same order for every member.
 *
 * The path of one message (DESIGN.md):
 * 1. `send`: a repeated client id answers the first `sent` and delivers
 *    nothing; otherwise the next `seq` is assigned and the message and its
 *    dedupe entry are written in one transaction (the conversation record
 *    follows lazily: see `persist`). `sent` is answered once that
 *    transaction is durable.
 * 2. Then each member's user actor gets `deliver` (the sender too, for its
 *    other devices and its chats list; a send that came through the
 *    sender's user actor is answered with `own` instead, and that actor
 *    takes the message from the answer: one cross-thread message less). Delivery is at-least-once: the actor remembers per
 *    member the last seq it accepted (`cursors`), resends what is missing
 *    every `retryMs` (5 s) while it is active, and a `fanout` marker written
 *    with the first message a member lacks makes the thread's startup sweep
 *    wake it after a crash (the marker is removed at the next retry tick
 *    that finds everyone caught up, not per message, so a busy conversation
 *    writes it once). A user actor accepts seqs strictly in order and drops
 *    repeats.
 * 3. Read receipts come back here from members' user actors and go on to
 *    the senders of the messages read. Delivered receipts do not pass
 *    here: the recipient's user actor sends them to the sender's directly.
 *
 * Groups are conversations with a name, members (at most `groupMembers`,
 * 1024) and admins; the creator is the first admin. A removed member is
 * dropped from the fan-out at once: it receives nothing sent afterwards.
 *
 * Not guaranteed: receipts, typing and group events travel by plain casts;
 * a thread dying with one in flight loses it (messages are never lost).
 */
import type { ActorContext, Behaviour } from '../actors/behaviour.js';
import type { ActorRef } from '../actors/ref.js';
import { WriteBehind } from './write-behind.js';
import { deferTo } from './defer.js';
import type { ChatEnv } from './env.js';
import type { ConvRecord } from './tables.js';
import {
  fail,
  storedMessage,
  type ConvMsg,
  type DomainError,
  type GroupEventName,
  type GroupInfo,
  type HistoryMessage,
  type InboxEntry,
  type OwnSent,
  type Sent,
  type StoredMessage,
  type UserMsg,
} from './messages.js';
import { parseConv } from '../server/protocol/ids.js';

const CACHE = 1024;
const RETRY_MS = 5000;

export class ConvActor implements Behaviour<ConvMsg> {
  private rec: ConvRecord | null = null;
  private readonly conv: string; // "dm:a:b" or "g:x"
  private readonly group: string | null;
  private writer!: WriteBehind;
  private ctx!: ActorContext<ConvMsg>;
  /** Recent messages by seq (for fan-out retries and receipts without a disk read). */
  private readonly recent = new Map<number, StoredMessage>();
  /** Sends whose commit is in flight, by sender and client id. */
  private readonly inflight = new Map<string, Promise<Sent | DomainError>>();
  /** The record differs from the stored one; `persistDue` asks the next transaction to write it. */
  private dirty = false;
  private persistDue = false;
  /** Members whose cursor is behind `lastSeq` (kept, not recomputed: a group has up to 1024). */
  private readonly behind = new Set<string>();
  /** Whether the `fanout` row is on disk (or its write queued). */
  private marker = false;
  private retryTimer = 0;
  private lastFanout = 0;

  constructor(
    private readonly id: string,
    private readonly env: ChatEnv,
  ) {
    this.conv = id.slice(5);
    const p = parseConv(this.conv);
    this.group = p?.kind === 'group' ? p.group : null;
  }

  async init(ctx: ActorContext<ConvMsg>): Promise<void> {
    this.ctx = ctx;
    const t = this.env.tables;
    const [rec, marker, last] = await Promise.all([t.convs.get([this.id]), t.fanout.get([this.id]), this.lastLogged()]);
    this.rec = rec ?? null;
    this.marker = marker !== undefined;
    this.recoverLastSeq(last);
    this.writer = new WriteBehind(
      this.env.store,
      this.id,
      (e) => ctx.stop({ error: 'StoreError', code: (e as { code?: string }).code ?? 'store_io', message: String((e as Error).message ?? e) }),
      (tx) => {
        if (this.rec !== null && this.dirty && this.persistDue) {
          tx.put(this.env.tables.convs, [this.id], this.rec);
          this.dirty = false;
          this.persistDue = false;
        }
      },
    );
    const r = this.rec;
    if (r !== null) for (const u of r.members) if ((r.cursors[u] ?? 0) < r.lastSeq) this.behind.add(u);
    // Even with nobody behind: the next tick removes a marker left by the previous activation.
    if (this.marker || this.behind.size > 0) this.armRetry();
  }

  keepAlive(): boolean {
    return this.writer.busy || this.behind.size > 0 || this.marker;
  }

  async passivate(): Promise<void> {
    if (this.dirty && this.rec !== null) await this.persist();
  }

  /**
   * The record (members, last seq, per-member cursors and reads) is not
   * rewritten with every message — for a group of 1024 that would be ~20 KB
   * per message — but at the next retry tick (every `retryMs` while there
   * is traffic), on passivation, and at once for membership changes. What a
   * crash can lose of it is rebuilt or harmless: the last seq is read back
   * from the log (`recoverLastSeq`), an older cursor only means messages
   * resent that user actors drop as repeats, an older read position a read
   * receipt sent again.
   */
  private persist(): Promise<void> {
    this.persistDue = true;
    return this.writer.write(() => undefined);
  }

  /** The newest message in the log, if any is retained. */
  private async lastLogged(): Promise<StoredMessage | undefined> {
    for await (const [, m] of this.env.tables.log.range({ prefix: [this.id], reverse: true, limit: 1 })) return m;
    return undefined;
  }

  /** The log is ahead of a record written lazily: take the last seq from its newest entry. */
  private recoverLastSeq(m: StoredMessage | undefined): void {
    if (m === undefined) return;
    const rec = this.rec ?? (this.group === null ? this.ensureRecord() : null);
    if (rec !== null && m.seq > rec.lastSeq) {
      rec.lastSeq = m.seq;
      rec.lastTs = Math.max(rec.lastTs, m.ts);
      this.dirty = true;
    }
  }

  async handle(m: ConvMsg, ctx: ActorContext<ConvMsg>): Promise<unknown> {
    switch (m.t) {
      case 'send':
        return this.send(m, ctx);
      case 'history':
        return this.history(m.user, m.device, m.before, m.limit);
      case 'fetch':
        return this.fetch(m.user, m.device, m.seqs);
      case 'accepted':
        return this.accepted(m.user, m.seq);
      case 'resume':
        this.retry(true);
        return undefined;
      case 'resend':
        return this.resend(m.user, m.from);
      case 'read':
        return this.read(m.by, m.upTo);
      case 'typing':
        if (this.isMember(m.user)) for (const u of this.members()) if (u !== m.user) this.user(u).send({ t: 'typing', conv: this.conv, user: m.user, on: m.on });
        return undefined;
      case 'retry':
        this.retryTimer = 0;
        this.retry(false);
        return undefined;
      case 'group_create':
        return this.groupCreate(m.by, m.name, m.members);
      case 'group_add':
        return this.groupAdd(m.by, m.users);
      case 'group_remove':
        return this.groupRemove(m.by, m.users);
      case 'group_leave':
        return this.groupLeave(m.by);
      case 'group_update':
        return this.groupUpdate(m.by, m.name);
      case 'group_info':
        return this.groupInfo(m.by);
    }
  }

  // ---- members ----------------------------------------------------------------------------

  private members(): string[] {
    if (this.rec !== null) return this.rec.members;
    const p = parseConv(this.conv);
    return p?.kind === 'dm' ? [p.a, p.b] : [];
  }

  private isMember(u: string): boolean {
    return this.members().includes(u);
  }

  private user(u: string): ActorRef<UserMsg> {
    return this.ctx.ref<UserMsg>(`user:${u}`);
  }

  /** A dm's record is made by its first message. */
  private ensureRecord(): ConvRecord {
    if (this.rec === null) {
      const members = this.members();
      this.rec = { kind: 'dm', members, admins: [], name: '', createdAt: this.env.clock.now(), lastSeq: 0, lastTs: 0, cursors: Object.fromEntries(members.map((u) => [u, 0])), reads: {} };
      this.dirty = true;
    }
    return this.rec;
  }

  private access(u: string): DomainError | null {
    if (this.group !== null && this.rec === null) return fail('not_found', `no group ${this.group}`);
    if (!this.isMember(u)) return fail('forbidden', `${u} is not a member of ${this.conv}`);
    return null;
  }

  // ---- sending ----------------------------------------------------------------------------

  private async send(m: Extract<ConvMsg, { t: 'send' }>, ctx: ActorContext<ConvMsg>): Promise<unknown> {
    const denied = this.access(m.from);
    if (denied) return denied;
    const key = `${m.from}\u0000${m.id}`;
    const pending = this.inflight.get(key);
    if (pending !== undefined) return deferTo(ctx, pending);
    // A fresh id is absent, which LevelDB's bloom filter answers from memory: read on this thread.
    const seen = this.env.tables.dedupe.getNow([this.id, m.from, m.id]);
    if (seen !== undefined) return { id: m.id, conv: this.conv, seq: seen.seq, ts: seen.ts } satisfies Sent;
    if (m.payloads !== undefined) {
      const bad = await this.checkPayloads(m.from, m.device, m.payloads);
      if (bad) return bad;
    }
    const rec = this.ensureRecord();
    const seq = rec.lastSeq + 1;
    const ts = Math.max(this.env.clock.now(), rec.lastTs);
    const msg = storedMessage(m, seq, ts);
    rec.lastSeq = seq;
    rec.lastTs = ts;
    this.dirty = true;
    this.remember(msg);
    for (const u of rec.members) this.behind.add(u);
    const t = this.env.tables;
    const sent: Sent = { id: m.id, conv: this.conv, seq, ts };
    const mark = !this.marker;
    this.marker = true;
    // The sender's user actor takes the message into its own inbox from the
    // answer (`own`), so it is not delivered to it here; it stays behind
    // until it says `accepted`, and the retry tick resends if that is lost.
    const skip = m.self === true ? m.from : null;
    const answer: Sent = skip === null ? sent : ({ ...sent, own: true } as OwnSent);
    const done = this.writer
      .write((tx) => {
        tx.put(t.log, [this.id, seq], msg);
        tx.put(t.dedupe, [this.id, m.from, m.id], { seq, ts });
        if (mark) tx.put(t.fanout, [this.id], { since: ts });
      })
      .then(
        (): Sent => {
          this.inflight.delete(key);
          this.fanout(msg, skip);
          return answer;
        },
        (): DomainError => {
          this.inflight.delete(key);
          return fail('unavailable', 'the message could not be stored; send it again with the same id');
        },
      );
    this.inflight.set(key, done);
    return deferTo(ctx, done);
  }

  /** `payloads` must name exactly the recipients' devices and the sender's other devices. */
  private async checkPayloads(from: string, device: string, payloads: Record<string, unknown>): Promise<DomainError | null> {
    const lists = await Promise.all(this.members().map((u) => this.user(u).call<string[]>({ t: 'devices' }, { timeout: 5000 }).then((ds) => ds.map((d) => `${u}/${d}`))));
    const want = new Set(lists.flat().filter((k) => k !== `${from}/${device}`));
    const have = new Set(Object.keys(payloads));
    const missing = [...want].filter((k) => !have.has(k)).sort();
    const extra = [...have].filter((k) => !want.has(k)).sort();
    if (missing.length || extra.length) return fail('conflict', 'payloads do not match the recipients\u2019 registered devices', { missing, extra });
    return null;
  }

  private remember(msg: StoredMessage): void {
    this.recent.set(msg.seq, msg);
    if (this.recent.size > CACHE) this.recent.delete(this.recent.keys().next().value!);
  }

  private fanout(msg: StoredMessage, skip: string | null): void {
    this.lastFanout = Date.now();
    const self = this.ctx.self;
    for (const u of this.members()) if (u !== skip) this.user(u).send({ t: 'deliver', conv: this.conv, msg, convRef: self });
    this.armRetry();
  }

  private accepted(u: string, seq: number): void {
    const r = this.rec;
    if (r === null || !(u in r.cursors)) return;
    if (seq > (r.cursors[u] ?? 0)) {
      r.cursors[u] = Math.min(seq, r.lastSeq);
      this.dirty = true;
      this.armRetry();
    }
    if ((r.cursors[u] ?? 0) >= r.lastSeq) this.behind.delete(u);
  }

  private armRetry(): void {
    if (this.retryTimer !== 0) return;
    this.retryTimer = this.ctx.sendAfter(RETRY_MS, { t: 'retry' });
  }

  /** Resends to members that have not accepted everything (after `retryMs`, or at once on `resume`). */
  private retry(now: boolean): void {
    if (this.dirty && this.rec !== null) void this.persist().catch(() => undefined);
    if (this.behind.size === 0) {
      if (this.marker) {
        // Everyone has everything: the startup sweep need not wake this conversation.
        this.marker = false;
        void this.writer.write((tx) => tx.del(this.env.tables.fanout, [this.id])).catch(() => undefined);
      }
      return;
    }
    if (now || Date.now() - this.lastFanout >= RETRY_MS) for (const u of this.behind) void this.resend(u, (this.rec!.cursors[u] ?? 0) + 1);
    this.armRetry();
  }

  /** Sends `from`..lastSeq to one member (it asked, having seen a gap, or it is behind). */
  private async resend(u: string, from: number): Promise<void> {
    const r = this.rec;
    if (r === null || !this.isMember(u)) return;
    const upTo = r.lastSeq;
    const self = this.ctx.self;
    for (let s = Math.max(from, 1); s <= upTo; s += 256) {
      const msgs = await this.messages(s, Math.min(upTo, s + 255));
      for (const msg of msgs) this.user(u).send({ t: 'deliver', conv: this.conv, msg, convRef: self });
    }
  }

  /** Messages lo..hi from the cache or the log (expired ones are absent). */
  private async messages(lo: number, hi: number): Promise<StoredMessage[]> {
    const out: StoredMessage[] = [];
    let allCached = true;
    // A message older than the retention has expired from the log: the cache must not outlive it.
    const oldest = this.env.clock.now() - this.env.limits.retentionMs;
    for (let s = lo; s <= hi; s++) {
      const m = this.recent.get(s);
      if (m === undefined || m.ts <= oldest) {
        allCached = false;
        break;
      }
      out.push(m);
    }
    if (allCached) return out;
    const rows: StoredMessage[] = [];
    for await (const [, v] of this.env.tables.log.range({ gte: [this.id, lo], lte: [this.id, hi] })) rows.push(v);
    return rows;
  }

  // ---- reading ----------------------------------------------------------------------------

  private view(m: StoredMessage, user: string, device: string): HistoryMessage {
    const body = m.payloads !== undefined ? (m.payloads[`${user}/${device}`] ?? null) : (m.body ?? null);
    return { conv: this.conv, seq: m.seq, id: m.id, from: m.from, device: m.device, ts: m.ts, type: m.type, body };
  }

  private async history(user: string, device: string, before: number | undefined, limit: number): Promise<unknown> {
    const denied = this.access(user);
    if (denied) return denied;
    const last = this.rec?.lastSeq ?? 0;
    const hi = Math.min(before === undefined ? last : before - 1, last);
    if (hi < 1) return { messages: [], more: false };
    const lo = Math.max(1, hi - limit); // one extra row tells whether older ones exist
    const rows = await this.messages(lo, hi);
    const more = rows.length > limit;
    const page = rows.length > limit ? rows.slice(rows.length - limit) : rows;
    return { messages: page.map((m) => this.view(m, user, device)), more };
  }

  private async fetch(user: string, device: string, seqs: number[]): Promise<Array<HistoryMessage | null>> {
    if (!this.isMember(user) && this.group !== null) {
      // A former member may still hold pointers to what it was sent before its removal.
      if (this.rec === null) return seqs.map(() => null);
    }
    if (seqs.length === 0) return [];
    const lo = Math.min(...seqs);
    const hi = Math.max(...seqs);
    const by = new Map((await this.messages(lo, hi)).map((m) => [m.seq, m]));
    return seqs.map((s) => {
      const m = by.get(s);
      return m === undefined ? null : this.view(m, user, device);
    });
  }

  // ---- receipts -----------------------------------------------------------------------------

  private async read(by: string, upTo: number): Promise<void> {
    const r = this.rec;
    if (r === null || !this.isMember(by)) return;
    const top = Math.min(upTo, r.lastSeq);
    const prev = r.reads[by] ?? 0;
    if (top <= prev) return;
    r.reads[by] = top;
    this.dirty = true;
    this.armRetry();
    const senders = new Set<string>();
    for (const m of await this.messages(prev + 1, top)) if (m.from !== by) senders.add(m.from);
    for (const s of senders) this.user(s).send({ t: 'entry', entry: { k: 'r', conv: this.conv, by, status: 'read', upTo: top } });
  }

  // ---- groups -------------------------------------------------------------------------------

  private groupView(): GroupInfo {
    const r = this.rec!;
    return { id: this.group!, name: r.name, members: [...r.members], admins: [...r.admins], createdAt: r.createdAt };
  }

  private groupEvent(event: GroupEventName, by: string, users: string[], to: string[]): void {
    const entry: InboxEntry = { k: 'g', conv: this.conv, group: this.group!, event, by, users };
    for (const u of to) this.user(u).send({ t: 'entry', entry });
  }

  private membership(u: string, member: boolean): void {
    const r = this.rec!;
    this.user(u).send({ t: 'membership', conv: this.conv, member, lastSeq: r.lastSeq, lastTs: r.lastTs });
  }

  private async groupCreate(by: string, name: string, members: string[]): Promise<unknown> {
    if (this.group === null) return fail('bad_request', 'group_create: not a group conversation');
    if (this.rec !== null) return fail('conflict', `group ${this.group} exists`);
    const all = [...new Set([by, ...members])];
    if (all.length > this.env.limits.groupMembers) return fail('conflict', `group_create.members: a group has at most ${this.env.limits.groupMembers} members`);
    const now = this.env.clock.now();
    this.rec = { kind: 'group', members: all, admins: [by], name, createdAt: now, lastSeq: 0, lastTs: now, cursors: Object.fromEntries(all.map((u) => [u, 0])), reads: {} };
    this.dirty = true;
    await this.persist();
    for (const u of all) this.membership(u, true);
    this.groupEvent('created', by, all, all);
    return this.groupView();
  }

  private adminCheck(by: string): DomainError | null {
    if (this.rec === null) return fail('not_found', `no group ${this.group}`);
    if (!this.rec.members.includes(by)) return fail('forbidden', `${by} is not a member of group ${this.group}`);
    if (!this.rec.admins.includes(by)) return fail('forbidden', `only admins of group ${this.group} may do this`);
    return null;
  }

  private async groupAdd(by: string, users: string[]): Promise<unknown> {
    const denied = this.adminCheck(by);
    if (denied) return denied;
    const r = this.rec!;
    const added = [...new Set(users)].filter((u) => !r.members.includes(u));
    if (r.members.length + added.length > this.env.limits.groupMembers) {
      return fail('conflict', `group_add.users: a group has at most ${this.env.limits.groupMembers} members`);
    }
    if (added.length === 0) return this.groupView();
    for (const u of added) {
      r.members.push(u);
      r.cursors[u] = r.lastSeq; // new members get what is sent from now on
    }
    this.dirty = true;
    await this.persist();
    for (const u of added) this.membership(u, true);
    this.groupEvent('added', by, added, r.members);
    return this.groupView();
  }

  private async groupRemove(by: string, users: string[]): Promise<unknown> {
    const denied = this.adminCheck(by);
    if (denied) return denied;
    const r = this.rec!;
    const removed = [...new Set(users)].filter((u) => r.members.includes(u));
    if (removed.length === 0) return this.groupView();
    const before = [...r.members];
    this.drop(removed);
    await this.persist();
    for (const u of removed) this.membership(u, false);
    this.groupEvent('removed', by, removed, before);
    return this.groupView();
  }

  private async groupLeave(by: string): Promise<unknown> {
    if (this.rec === null) return fail('not_found', `no group ${this.group}`);
    if (!this.rec.members.includes(by)) return fail('forbidden', `${by} is not a member of group ${this.group}`);
    const before = [...this.rec.members];
    this.drop([by]);
    await this.persist();
    this.membership(by, false);
    this.groupEvent('left', by, [by], before);
    return { ok: true };
  }

  /** Removes members; a group left without admins gets its longest-standing member as admin. */
  private drop(users: string[]): void {
    const r = this.rec!;
    const gone = new Set(users);
    r.members = r.members.filter((u) => !gone.has(u));
    r.admins = r.admins.filter((u) => !gone.has(u));
    for (const u of users) {
      delete r.cursors[u];
      delete r.reads[u];
      this.behind.delete(u);
    }
    if (r.admins.length === 0 && r.members.length > 0) r.admins.push(r.members[0]!);
    this.dirty = true;
  }

  private async groupUpdate(by: string, name: string): Promise<unknown> {
    const denied = this.adminCheck(by);
    if (denied) return denied;
    this.rec!.name = name;
    this.dirty = true;
    await this.persist();
    this.groupEvent('renamed', by, [], this.rec!.members);
    return this.groupView();
  }

  private groupInfo(by: string): unknown {
    if (this.rec === null) return fail('not_found', `no group ${this.group}`);
    if (!this.rec.members.includes(by)) return fail('forbidden', `${by} is not a member of group ${this.group}`);
    return this.groupView();
  }
}
