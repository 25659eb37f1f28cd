/**
 * The messages chat actors understand, and what they answer.
 *
 * Actor ids: `user:<user>` (one per user: account, devices, inbox, presence,
 * settings, keys) and `conv:<conv>` (one per conversation, `dm:a:b` or
 * `g:<group>`: the log, dedupe, members, fan-out, receipts). A gateway talks
 * to them with these messages and nothing else; the actors never see a
 * socket. Replies that can fail are `{ error }` values rather than throws: a
 * throw would crash the actor, and a bad request is not a crash.
 */
import type { ActorRef } from '../actors/ref.js';
import type { ClientCodec } from '../protocol/connection.js';

/** PROTOCOL.md's error codes, declared once with the protocol's frame types. */
import type { ErrorCode } from '../protocol/errors.js';
import type { Group } from '../protocol/server-frames.js';
export type { ErrorCode };

export interface DomainError {
  error: { code: ErrorCode; message: string; missing?: string[]; extra?: string[] };
}

export function fail(code: ErrorCode, message: string, more: { missing?: string[]; extra?: string[] } = {}): DomainError {
  return { error: { code, message, ...more } };
}

export function isError(x: unknown): x is DomainError {
  return typeof x === 'object' && x !== null && 'error' in x && typeof (x as DomainError).error?.code === 'string';
}

/** A message as kept in a conversation log. */
export interface StoredMessage {
  seq: number;
  id: string;
  from: string;
  device: string;
  ts: number;
  type: string;
  /** The body, or for end-to-end messages the per-device payloads ("user/device" → value). */
  body?: unknown;
  payloads?: Record<string, unknown>;
}

/** What a user's inbox holds. Messages are pointers into their conversation's log. */
export type InboxEntry =
  | { k: 'm'; conv: string; seq: number; from: string; device: string }
  | { k: 'r'; conv: string; by: string; status: 'delivered'; seqs: number[] }
  | { k: 'r'; conv: string; by: string; status: 'read'; upTo: number }
  | { k: 'g'; conv: string; group: string; event: GroupEventName; by: string; users: string[] }
  | { k: 's'; conv: string; upTo: number; device: string };

export type GroupEventName = 'created' | 'added' | 'removed' | 'left' | 'renamed';

export type GroupInfo = Group;

export interface ChatSummary {
  conv: string;
  lastSeq: number;
  lastTs: number;
  unread: number;
}

export interface DeviceInfo {
  device: string;
  registeredAt: number;
  online: boolean;
}

export interface DeviceKeys {
  device: string;
  identityKey: string;
  signedPreKey: { id: number; key: string; sig: string };
  oneTimePreKey: { id: number; key: string } | null;
}

// ---- to user:<u> ------------------------------------------------------------

export type UserMsg =
  | { t: 'account_create'; hash: string } // → { created: boolean }
  | { t: 'account_get' } // → { hash: string | null }
  /** A send from one of the user's devices: deduplicated by client id for the user, then handed to `conv`. */
  | { t: 'send'; conv: string; msg: SendMsg } // → Sent | DomainError
  /** A device connected; answers its last acknowledged inbox number. */
  /** `issuedAt`: the token's `iat` (ms; 0 if none), checked against a removal of the device. */
  | { t: 'connect'; device: string; conn: ActorRef; codec: ClientCodec; issuedAt: number } // → { inbox, now } | DomainError
  | { t: 'disconnect'; device: string; conn: ActorRef }
  | { t: 'ack'; device: string; inbox: number; conn: ActorRef }
  | { t: 'read'; device: string; conv: string; seq: number; conn: ActorRef }
  | { t: 'chats' } // → ChatSummary[]
  /** At least one of the two; either alone leaves the other as it was. */
  | { t: 'settings'; lastSeen?: 'everyone' | 'nobody' | undefined; groupAdd?: 'everyone' | 'nobody' | undefined } // → { ok: true } | DomainError
  /** Whether the user exists: an account, a registered device, or declared by the operator. */
  | { t: 'exists' } // → boolean
  /** The operator declares the user (durable before the answer). */
  | { t: 'declare' } // → { ok: true }
  /** May `by` add this user to a group? Asked by the group before anything is written. */
  | { t: 'can_add'; by: string } // → 'ok' | 'unknown' | 'refuses'
  /** Whether the inbox holds `limits.inboxEntries` unacknowledged entries (a dm refuses sends then). */
  | { t: 'inbox_full' } // → boolean
  | { t: 'device_list' } // → DeviceInfo[]
  /** Forgets a device: its inbox cursor, its keys, its connection (closed 4001). */
  | { t: 'device_remove'; device: string } // → { ok: true } | DomainError
  | { t: 'presence_watch'; conn: ActorRef; codec: ClientCodec }
  | { t: 'presence_unwatch'; conn: ActorRef }
  | { t: 'keys_put'; device: string; identityKey: string; signedPreKey: { id: number; key: string; sig: string }; oneTimePreKeys: Array<{ id: number; key: string }> } // → { ok: true }
  | { t: 'keys_get' } // → DeviceKeys[]
  | { t: 'devices' } // → string[]
  // from conversations
  | { t: 'deliver'; conv: string; msg: StoredMessage; convRef: ActorRef }
  /** Appends an entry (a receipt, a group event); answered once it is durable. */
  | { t: 'entry'; entry: InboxEntry }
  | { t: 'pump'; device: string }
  /** Timer: write the acknowledgements taken since the last transaction. */
  | { t: 'flush_acks' }
  /** Timer: retry handing over delivered receipts (delivered-receipts.ts). */
  | { t: 'receipts' }
  /** The startup sweep: this user owed receipts when its thread stopped. */
  | { t: 'resume' }
  /**
   * A group announcement (announcements.ts) numbered `ev`: the user joined
   * (`member`, everything up to `lastSeq` is before its time) or left a
   * group, or neither (no `member`); `entry` (the group event) is appended
   * with it. Answered once durable; a number already applied is answered
   * and ignored. Without `ev`: a group restating a member's join floor.
   */
  | { t: 'membership'; conv: string; ev?: number; member?: boolean; lastSeq: number; lastTs: number; entry?: InboxEntry }
  | { t: 'typing'; conv: string; user: string; on: boolean };

// ---- to conv:<conv> -----------------------------------------------------------

/**
 * A send to a conversation. `self`: it comes through the sender's user
 * actor, which takes the message into its own inbox from the answer
 * (`OwnSent`), so the conversation does not deliver it to that user.
 */
export type SendMsg = { t: 'send'; from: string; device: string; id: string; type: string; body?: unknown; payloads?: Record<string, unknown>; self?: true };

/** The message a send becomes once the conversation gave it `seq` and `ts` (what its log stores). */
export function storedMessage(m: SendMsg, seq: number, ts: number): StoredMessage {
  return { seq, id: m.id, from: m.from, device: m.device, ts, type: m.type, ...(m.payloads !== undefined ? { payloads: m.payloads } : { body: m.body ?? null }) };
}

export type ConvMsg =
  | SendMsg // → Sent | DomainError
  | { t: 'history'; user: string; device: string; before?: number; limit: number } // → { messages, more } | DomainError
  | { t: 'fetch'; user: string; device: string; seqs: number[] } // → Array<HistoryMessage | null>
  /** `full`: the member's inbox is at `limits.inboxEntries` (a dm refuses further sends until it is not). */
  | { t: 'accepted'; user: string; seq: number; full?: true }
  /** A member saw a gap: send it everything from `from`. */
  | { t: 'resend'; user: string; from: number }
  /** The startup sweep: this conversation may owe deliveries. */
  | { t: 'resume' }
  | { t: 'retry' }
  | { t: 'read'; by: string; upTo: number }
  | { t: 'typing'; user: string; on: boolean }
  | { t: 'group_create'; by: string; name: string; members: string[] } // → GroupInfo | DomainError
  | { t: 'group_add'; by: string; users: string[] } // → GroupInfo | DomainError
  | { t: 'group_remove'; by: string; users: string[] }
  | { t: 'group_leave'; by: string } // → { ok: true } | DomainError
  | { t: 'group_update'; by: string; name: string }
  | { t: 'group_info'; by: string };

export interface Sent {
  id: string;
  conv: string;
  seq: number;
  ts: number;
}

/** The conversation's answer to a `self` send it stored just now: the sender's user actor delivers it to itself. */
export type OwnSent = Sent & { own: true };

/** A message as a client sees it in `history` (and, with `inbox`, in `msg`): one device's view. */
export type HistoryMessage = Omit<StoredMessage, 'body' | 'payloads'> & { conv: string; body: unknown };

// ---- to a connection (the gateway's actor for one socket) --------------------------

export type ConnMsg =
  /** Frames already encoded for this connection's codec, in order. */
  | { t: 'out'; data: Array<string | Uint8Array> }
  /** Another connection of the same device took over: close 4010. */
  | { t: 'replaced' }
  | { t: 'close'; code: number; reason: string };
