/**
 * The one checker of client histories for fault tests: it reads what every
 * device of every user saw (each inbox number once, as a client dedupes)
 * and what each send was answered, and lists every broken promise:
 *
 * - `unanswered`: a send never got `sent` (the client retried it with its id);
 * - `refused`: a send answered with an error a client does not retry;
 * - `duplicated`: one client id stored under two seqs, a seq nobody was
 *   answered for (a resend stored again), or a message a device was given
 *   twice under different inbox numbers;
 * - `lost`: an acknowledged message a member's device never received;
 * - `reordered`: a device received a conversation's messages out of seq order;
 * - `divergent`: two devices disagree on what a seq is, or two devices of a
 *   user hold different histories of a conversation;
 * - `leaked`: a member added later saw a message from before it joined;
 * - `receipt`: a delivered receipt a sender's device never got;
 * - `event`: a group event a member's device never got.
 *
 * It returns the violations (empty: the histories are consistent), so a test
 * can poll it until the node has converged and then report what is left.
 */
import type { Frame } from '../fixtures/chat-node.js';
import type { FaultDevice } from './fault-device.js';

export interface Membership {
  /** Every user of the conversation, late joiners included. */
  members: string[];
  /** A group's events every member device must get: [event, the users it names, who must get it]. */
  events?: Array<{ event: string; users: string[]; to: string[] }>;
  /**
   * Users added while traffic ran: they must see no seq at or below `low`
   * and every seq above `high` (between the two, the add raced the sends:
   * either is right, but what they see is a contiguous tail).
   */
  late?: Map<string, { low: number; high: number }>;
}

export interface World {
  devices: FaultDevice[];
  convs: Map<string, Membership>;
}

const MAX_SHOWN = 12;

export function checkHistories(w: World): string[] {
  const out: string[] = [];
  const say = (s: string): void => void (out.length < 10_000 && out.push(s));
  const byUser = new Map<string, FaultDevice[]>();
  for (const d of w.devices) {
    let a = byUser.get(d.user);
    if (a === undefined) byUser.set(d.user, (a = []));
    a.push(d);
  }
  const name = (d: FaultDevice): string => `${d.user}/${d.device}`;

  // What each seq is, from the answers to the senders.
  const acked = new Map<string, Map<number, { from: FaultDevice; id: string }>>();
  for (const d of w.devices) {
    if (d.outstanding > 0) say(`unanswered: ${name(d)} has ${d.outstanding} sends without \`sent\``);
    // A send refused with anything but a limit may still have been stored: the client would drop a message it thinks failed.
    for (const r of d.refused) say(`refused: ${name(d)} send ${r.id}: ${r.code} ${r.message}`);
    for (const s of d.sent.values()) {
      let m = acked.get(s.conv);
      if (m === undefined) acked.set(s.conv, (m = new Map()));
      const prev = m.get(s.seq);
      if (prev !== undefined && (prev.id !== s.id || prev.from !== d)) say(`divergent: ${s.conv} seq ${s.seq} answered to ${prev.id} and ${s.id}`);
      m.set(s.seq, { from: d, id: s.id });
    }
  }
  for (const [conv, m] of acked) {
    const max = Math.max(...m.keys());
    const holes: number[] = [];
    for (let s = 1; s <= max; s++) if (!m.has(s)) holes.push(s);
    if (holes.length > 0) say(`duplicated: ${conv} stored seqs no send was answered with (a repeat stored again?): ${short(holes)}`);
  }

  // Per device: each conversation's messages once, in seq order, as answered.
  const got = new Map<FaultDevice, Map<string, Set<number>>>();
  for (const d of w.devices) {
    const perConv = new Map<string, Set<number>>();
    got.set(d, perConv);
    for (const f of d.seen) {
      if (f.t !== 'msg') continue;
      let s = perConv.get(f.conv);
      if (s === undefined) perConv.set(f.conv, (s = new Set()));
      if (s.has(f.seq)) say(`duplicated: ${name(d)} got ${f.conv} seq ${f.seq} twice (inbox ${f.inbox})`);
      const last = Math.max(0, ...s);
      if (f.seq < last) say(`reordered: ${name(d)} got ${f.conv} seq ${f.seq} after ${last}`);
      s.add(f.seq);
      const a = acked.get(f.conv)?.get(f.seq);
      if (a !== undefined && (a.id !== f.id || a.from.user !== f.from || a.from.device !== f.device)) {
        say(`divergent: ${name(d)} got ${f.conv} seq ${f.seq} as ${f.id} from ${f.from}/${f.device}; its sender was answered ${a.id}`);
      }
    }
  }

  const receipts = new Map<FaultDevice, Set<string>>();
  for (const d of w.devices) receipts.set(d, receiptIndex(d.seen));
  for (const [conv, mem] of w.convs) {
    const msgs = acked.get(conv) ?? new Map();
    for (const u of mem.members) {
      const late = mem.late?.get(u);
      for (const d of byUser.get(u) ?? []) {
        const have = got.get(d)!.get(conv) ?? new Set<number>();
        const lost: number[] = [];
        const leaked: number[] = [];
        for (const [seq, a] of msgs) {
          const mine = a.from === d;
          if (late !== undefined && seq <= late.low) {
            if (have.has(seq)) leaked.push(seq);
            continue;
          }
          if (late !== undefined && seq <= late.high) continue;
          if (!mine && !have.has(seq)) lost.push(seq);
        }
        if (lost.length > 0) say(`lost: ${name(d)} never got ${conv} seqs ${short(lost)}`);
        if (leaked.length > 0) say(`leaked: ${name(d)} joined ${conv} after seq ${late!.low} and got seqs ${short(leaked)}`);
        if (late !== undefined) {
          const seen = [...have].filter((s) => s > late.low).sort((a, b) => a - b);
          const tail = seen.length > 0 ? seen[0]! : Infinity;
          const skipped = [...msgs.keys()].filter((s) => s > tail && s <= late.high && !have.has(s) && msgs.get(s)!.from !== d);
          if (skipped.length > 0) say(`lost: ${name(d)} got ${conv} from seq ${tail} on but not ${short(skipped)}`);
        }
      }
      // Every device of a user: the same history of the conversation.
      const ds = byUser.get(u) ?? [];
      const hist = ds.map((d) => {
        const s = new Set(got.get(d)!.get(conv) ?? []);
        for (const x of d.sent.values()) if (x.conv === conv) s.add(x.seq);
        return [...s].sort((a, b) => a - b).join(',');
      });
      if (new Set(hist).size > 1) say(`divergent: the devices of ${u} hold different histories of ${conv}`);
    }
    // Delivered receipts: every recipient that is a member reports to every device of the sender.
    for (const [seq, a] of msgs) {
      for (const r of mem.members) {
        if (r === a.from.user) continue;
        const late = mem.late?.get(r);
        if (late !== undefined && seq <= late.high) continue;
        for (const sd of byUser.get(a.from.user) ?? []) {
          if (!receipts.get(sd)!.has(`${conv}\u0000${r}\u0000${seq}`)) say(`receipt: ${name(sd)} never got ${r}'s delivered receipt for ${conv} seq ${seq}`);
        }
      }
    }
    for (const ev of mem.events ?? []) {
      for (const u of ev.to) {
        for (const d of byUser.get(u) ?? []) {
          const ok = d.seen.some((f) => f.t === 'group_event' && f.conv === conv && f.event === ev.event && sameSet(f.users, ev.users));
          if (!ok) say(`event: ${name(d)} never got ${conv} ${ev.event} ${ev.users.join(',')}`);
        }
      }
    }
  }
  return out;
}

/** Every (conv, by, seq) a device got a delivered receipt for. */
function receiptIndex(seen: Frame[]): Set<string> {
  const out = new Set<string>();
  for (const f of seen) {
    if (f.t !== 'receipt' || f.status !== 'delivered' || !Array.isArray(f.seqs)) continue;
    for (const s of f.seqs as number[]) out.add(`${f.conv}\u0000${f.by}\u0000${s}`);
  }
  return out;
}

function sameSet(a: unknown, b: string[]): boolean {
  return Array.isArray(a) && a.length === b.length && b.every((x) => a.includes(x));
}

function short(xs: number[]): string {
  return xs.length > MAX_SHOWN ? `${xs.slice(0, MAX_SHOWN).join(',')} and ${xs.length - MAX_SHOWN} more` : xs.join(',');
}
