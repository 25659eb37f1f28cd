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
 * A member added later has a join floor (`joined`, the last seq when it was
 * added): no `msg`, `history`, `fetch` or resend gives it a seq at or below
 * it, so it cannot read what was said before it came.
 *
 * Adding members (`group_create`, `group_add`) asks each user first, a
 * slice of `SLICE` (64) calls at a time: an unknown user is `not_found`, one
 * whose `settings.groupAdd` is `nobody` is `forbidden` (one may still make a
 * group oneself), and on any refusal nothing is written. Then the record is
 * made durable with its announcement, and only then are the members told
 * (`membership` with the group event), again in awaited slices. The
 * conversation handles nothing else meanwhile.
 *
 * A dm checks that its other user exists once, on its first message (the
 * record does not exist yet); after that its sends pay nothing for it. A dm
 * also refuses sends (`rate_limited`) while the recipient reported its
 * inbox full (`limits.inboxEntries`) in an `accepted`, asking it again on
 * each send until it is not. Groups ignore that report: one member who
 * never reads must not be able to silence a whole group.
 *
 * Group changes are announced durably (announcements.ts): every user they
 * go to applies each exactly once, in order, across crashes. Delivered
 * receipts go from recipient to sender without passing here
 * (delivered-receipts.ts).
 *
 * Not guaranteed: read receipts and typing travel by plain casts; a thread
 * dying with one in flight loses it (messages are never lost).
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
  type OwnSent,
  type Sent,
  type StoredMessage,
  type UserMsg,
} from './messages.js';
import { parseConv } from '../protocol/ids.js';
import { Announcer, announce, inSlices } from './announcements.js';

const CACHE = 1024;
const RETRY_MS = 5000;
/** Bound on each of those calls: a user's thread may be busy, and the client's own call gives up after 10 s. */
const USER_CALL_MS = 5000;
/** Names an error lists at most (a refused group of 1024 would otherwise make a huge frame). */
const NAMES_SHOWN = 5;

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
  /** Dm only: members whose last `accepted` said their inbox is full (null: none, the usual case). */
  private full: Set<string> | null = null;
  private readonly announcer: Announcer;

  constructor(
    private readonly id: string,
    private readonly env: ChatEnv,
  ) {
    this.conv = id.slice(5);
    const p = parseConv(this.conv);
    this.group = p?.kind === 'group' ? p.group : null;
    this.announcer = new Announcer(this.conv, (u, m) => this.user(u).call(m, { timeout: USER_CALL_MS }));
  }

  async init(ctx: ActorContext<ConvMsg>): Promise<void> {
    this.ctx = ctx;
    const t = this.env.tables;
    // A previous activation that crashed may still have a commit in flight (write-behind.ts).
    await WriteBehind.settled(this.id);
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
    if (this.marker || this.behind.size > 0 || r?.pending !== undefined) this.armRetry();
  }

  keepAlive(): boolean {
    return this.writer.busy || this.behind.size > 0 || this.marker || this.rec?.pending !== undefined;
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
        if (this.group === null) this.noteFull(m.user, m.full === true);
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

  /** A member's join floor: it sees no seq at or below it (0 for creators and dm users). */
  private floor(u: string): number {
    return this.rec?.joined?.[u] ?? 0;
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
    // A dm with a record and no full inbox reported (nearly every send) skips this, await included.
    if (this.group === null && (this.rec === null || this.full !== null)) {
      const refused = await this.dmRecipient(m.from);
      if (refused) return refused;
    }
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
          // Cached only once durable: `history` and resends must never serve a
          // message whose commit may still fail (its seq would then be reused).
          this.remember(msg);
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

  /**
   * A dm's recipient must exist (asked once: on the first message, before
   * the record exists) and have room in its inbox (asked only while it
   * reported it full). The usual send, to a known user with room, does
   * not get here (see `send`).
   */
  private async dmRecipient(from: string): Promise<DomainError | null> {
    const peer = this.members().find((u) => u !== from);
    if (peer === undefined) return null;
    if (this.rec === null) {
      const known = await this.user(peer).call<boolean>({ t: 'exists' }, { timeout: USER_CALL_MS }).catch(() => null);
      if (known === null) return fail('unavailable', `send.to: could not check that ${peer} exists; send it again with the same id`);
      if (!known) return fail('not_found', `send.to: no user ${peer}`);
    }
    if (this.full !== null && this.full.has(peer)) {
      const full = await this.user(peer).call<boolean>({ t: 'inbox_full' }, { timeout: USER_CALL_MS }).catch(() => true);
      if (full) return fail('rate_limited', `send.to: ${peer}'s inbox is full (limits.inboxEntries); try later`);
      this.noteFull(peer, false);
    }
    return null;
  }

  private noteFull(u: string, full: boolean): void {
    if (full) (this.full ??= new Set()).add(u);
    else if (this.full !== null) {
      this.full.delete(u);
      if (this.full.size === 0) this.full = null;
    }
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
    if (this.rec?.pending !== undefined) void this.deliverAnnouncements().catch(() => undefined);
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
    const floor = this.floor(u);
    if (from <= floor) {
      // It waits for seqs before its time (its `membership` was lost): restate the floor, then send what follows it.
      this.user(u).send({ t: 'membership', conv: this.conv, member: true, lastSeq: floor, lastTs: 0 });
      from = floor + 1;
    }
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
    const floor = this.floor(user);
    if (hi <= floor) return { messages: [], more: false };
    const lo = Math.max(floor + 1, hi - limit); // one extra row tells whether older ones exist
    const rows = await this.messages(lo, hi);
    // Newest first until the page holds `historyBytes` of bodies (at least
    // one message): a page of 100 × 64 KiB is never built whole, and a
    // client pages on with `before` as usual.
    const page: HistoryMessage[] = [];
    let bytes = 0;
    for (let i = rows.length - 1; i >= 0 && page.length < limit; i--) {
      const v = this.view(rows[i]!, user, device);
      bytes += bodyBytes(v.body);
      if (page.length > 0 && bytes > this.env.limits.historyBytes) break;
      page.push(v);
    }
    page.reverse();
    return { messages: page, more: rows.length > page.length };
  }

  private async fetch(user: string, device: string, seqs: number[]): Promise<Array<HistoryMessage | null>> {
    if (!this.isMember(user) && this.group !== null) {
      // A former member may still hold pointers to what it was sent before its removal.
      if (this.rec === null) return seqs.map(() => null);
    }
    // A member's inbox may still point below its floor (from before a removal): those stay hidden.
    const floor = this.isMember(user) ? this.floor(user) : 0;
    const wanted = seqs.filter((s) => s > floor);
    if (wanted.length === 0) return seqs.map(() => null);
    const lo = Math.min(...wanted);
    const hi = Math.max(...wanted);
    const by = new Map((await this.messages(lo, hi)).map((m) => [m.seq, m]));
    return seqs.map((s) => {
      const m = s > floor ? by.get(s) : undefined;
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

  /**
   * Asks every user `by` would add whether it may (exists, accepts being
   * added); the first refusal found, naming the users, or null. Nothing is
   * written before this answers null.
   */
  private async checkAdd(by: string, users: string[], field: string): Promise<DomainError | null> {
    const others = users.filter((u) => u !== by);
    const verdicts = await inSlices(others, (u) =>
      this.user(u)
        .call<'ok' | 'unknown' | 'refuses'>({ t: 'can_add', by }, { timeout: USER_CALL_MS })
        .catch(() => 'unanswered' as const),
    );
    const named = (v: string): string[] => others.filter((_, i) => verdicts[i] === v);
    const unknown = named('unknown');
    if (unknown.length > 0) return fail('not_found', `${field}: no user ${shortList(unknown)}`);
    const refusing = named('refuses');
    if (refusing.length > 0) {
      return fail('forbidden', `${field}: ${shortList(refusing)} ${refusing.length === 1 ? 'does' : 'do'} not accept being added to groups (settings.groupAdd)`);
    }
    const silent = named('unanswered');
    if (silent.length > 0) return fail('unavailable', `${field}: could not check ${shortList(silent)} in time; try again`);
    return null;
  }

  /**
   * Records a change's announcement with the change, makes both durable,
   * then tells the users (announcements.ts); what a pass misses, the retry
   * tick tells again until every user answered.
   */
  private async announceChange(event: GroupEventName, by: string, users: string[], to: string[], changed: string[], member: boolean): Promise<void> {
    announce(this.rec!, { k: 'g', conv: this.conv, group: this.group!, event, by, users }, to, changed, member);
    this.dirty = true;
    await this.persist();
    await this.deliverAnnouncements();
  }

  private async deliverAnnouncements(): Promise<void> {
    if (this.rec?.pending === undefined) return;
    const done = await this.announcer.deliver(this.rec);
    this.dirty = true; // what is left is written with the next transaction (or the tick's)
    if (!done) this.armRetry();
  }

  private async groupCreate(by: string, name: string, members: string[]): Promise<unknown> {
    if (this.group === null) return fail('bad_request', 'group_create: not a group conversation');
    if (this.rec !== null) return fail('conflict', `group ${this.group} exists`);
    const all = [...new Set([by, ...members])];
    if (all.length > this.env.limits.groupMembers) return fail('conflict', `group_create.members: a group has at most ${this.env.limits.groupMembers} members`);
    const refused = await this.checkAdd(by, all, 'group_create.members');
    if (refused) return refused;
    const now = this.env.clock.now();
    this.rec = { kind: 'group', members: all, admins: [by], name, createdAt: now, lastSeq: 0, lastTs: now, cursors: Object.fromEntries(all.map((u) => [u, 0])), reads: {} };
    this.dirty = true;
    await this.announceChange('created', by, all, all, all, true);
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
    const refused = await this.checkAdd(by, added, 'group_add.users');
    if (refused) return refused;
    const joined = (r.joined ??= {});
    for (const u of added) {
      r.members.push(u);
      r.cursors[u] = r.lastSeq; // new members get what is sent from now on
      joined[u] = r.lastSeq; // and nothing from before (module header)
    }
    this.dirty = true;
    await this.announceChange('added', by, added, r.members, added, true);
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
    await this.announceChange('removed', by, removed, before, removed, false);
    return this.groupView();
  }

  private async groupLeave(by: string): Promise<unknown> {
    if (this.rec === null) return fail('not_found', `no group ${this.group}`);
    if (!this.rec.members.includes(by)) return fail('forbidden', `${by} is not a member of group ${this.group}`);
    const before = [...this.rec.members];
    this.drop([by]);
    await this.announceChange('left', by, [by], before, [by], false);
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
      if (r.joined !== undefined) delete r.joined[u];
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
    await this.announceChange('renamed', by, [], this.rec!.members, [], true);
    return this.groupView();
  }

  private groupInfo(by: string): unknown {
    if (this.rec === null) return fail('not_found', `no group ${this.group}`);
    if (!this.rec.members.includes(by)) return fail('forbidden', `${by} is not a member of group ${this.group}`);
    return this.groupView();
  }
}

/** At most `NAMES_SHOWN` names, then how many more. */
function shortList(names: string[]): string {
  const shown = names.slice(0, NAMES_SHOWN).join(', ');
  return names.length > NAMES_SHOWN ? `${shown} and ${names.length - NAMES_SHOWN} more` : shown;
}

/** About the encoded size of a body: exact enough to bound a page, without encoding a string twice. */
function bodyBytes(v: unknown): number {
  if (typeof v === 'string') return v.length;
  if (v === null || typeof v !== 'object') return 8;
  return JSON.stringify(v)?.length ?? 8;
}
