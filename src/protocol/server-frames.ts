/**
 * The frames a server sends (docs/protocol.md, "Server to client"), as
 * discriminated unions on `t`: {@link ServerFrame} is every frame a Parley
 * node writes on a client connection, answers and events alike.
 *
 * - {@link AnswerFrame}: the answers to requests that carry a `rid`.
 * - {@link InboxFrame}: the frames that carry `inbox` and must be
 *   acknowledged (`ack`).
 * - {@link EventFrame}: everything a client did not ask for.
 *
 * Types only: they describe what the node writes and what a client may
 * rely on; nothing here checks a frame. Where a field is optional, the
 * comment says when it is there.
 */
import type { ErrorCode } from './errors.js';
import type { ConvId } from './ids.js';
import type { KeyBytes, OneTimePreKey, SignedPreKey } from './client-frames.js';

// ---------------------------------------------------------------------------
// Shared shapes

/** A group as `group` answers carry it. The creator is its first admin. */
export interface Group {
  id: string;
  name: string;
  members: string[];
  admins: string[];
  createdAt: number;
}

/** One conversation of the `chats` answer. */
export interface ChatSummary {
  conv: ConvId;
  lastSeq: number;
  lastTs: number;
  /** Messages from others after the user's read position. */
  unread: number;
}

/**
 * A stored message as `history` returns it: the `msg` fields without
 * `inbox`. `body` is the message's body, or, for a message sent with
 * `payloads`, this device's entry (null if the send named no entry for it).
 */
export interface StoredMessage {
  conv: ConvId;
  seq: number;
  /** The sender's client id. */
  id: string;
  from: string;
  /** The sending device. */
  device: string;
  ts: number;
  /** The `type` the sender gave, `text` when it gave none. */
  type: string;
  body: unknown;
}

/** One device's bundle in a `keys` answer. */
export interface DeviceKeys {
  device: string;
  identityKey: KeyBytes;
  signedPreKey: SignedPreKey;
  /** Consumed by this fetch; null once the device has none left. */
  oneTimePreKey: OneTimePreKey | null;
}

/** One registered device in a `devices` answer. */
export interface DeviceInfo {
  device: string;
  /** When its first `auth` registered it. */
  registeredAt: number;
  /** Whether it has a connection open now. */
  online: boolean;
}

// ---------------------------------------------------------------------------
// Answers

/** The answer to `auth`: the connection is ready. */
export interface ReadyFrame {
  t: 'ready';
  user: string;
  device: string;
  /** The last inbox number this device acknowledged; for a new device, the one before the oldest entry still kept. */
  inbox: number;
  /** The node's clock (ms), so a client can measure skew. */
  now: number;
}

/** The answer to `send`, once the message is durable (also to a repeated id: the same values). */
export interface SentFrame {
  t: 'sent';
  id: string;
  conv: ConvId;
  seq: number;
  ts: number;
}

export interface HistoryFrame {
  t: 'history';
  rid: string;
  conv: ConvId;
  /** Newest last. */
  messages: StoredMessage[];
  /** Older messages exist (before the first of `messages`) that this user may read. */
  more: boolean;
}

export interface ChatsFrame {
  t: 'chats';
  rid: string;
  /** Most recent first. */
  chats: ChatSummary[];
}

/** The answer to `presence_sub`, `settings`, `group_leave`, `keys_put`, `device_remove`. */
export interface OkFrame {
  t: 'ok';
  rid: string;
}

/** The answer to `group_create`, `group_add`, `group_remove`, `group_update`, `group_info`. */
export interface GroupFrame {
  t: 'group';
  rid: string;
  group: Group;
}

export interface KeysFrame {
  t: 'keys';
  rid: string;
  user: string;
  /** The devices of `user` that published keys, sorted by device. */
  devices: DeviceKeys[];
}

export interface DevicesFrame {
  t: 'devices';
  rid: string;
  /** The user's registered devices, sorted by device. */
  devices: DeviceInfo[];
}

export interface PongFrame {
  t: 'pong';
  /** The `rid` of the `ping`, when it had one. */
  rid?: string;
}

/** The answers that carry the `rid` of their request (`pong` only when the `ping` had one). */
export type AnswerFrame = HistoryFrame | ChatsFrame | OkFrame | GroupFrame | KeysFrame | DevicesFrame | PongFrame;

export interface ErrorFrame {
  t: 'error';
  code: ErrorCode;
  /** Written for people: it names the field and the rule (`send.id: must match …`). */
  message: string;
  /** The `rid` of the request this answers, if it answers one. */
  rid?: string;
  /** The `id` of the `send` this answers, if it answers one (and has no `rid`). */
  id?: string;
  /** With `conflict` on `send` with `payloads`: `"user/device"` strings. */
  missing?: string[];
  extra?: string[];
}

// ---------------------------------------------------------------------------
// Inbox entries: numbered per user, kept until acknowledged

export interface MsgFrame extends StoredMessage {
  t: 'msg';
  inbox: number;
}

export interface DeliveredReceiptFrame {
  t: 'receipt';
  inbox: number;
  conv: ConvId;
  by: string;
  status: 'delivered';
  /** The messages of this user in `conv` that a device of `by` acknowledged. */
  seqs: number[];
}

export interface ReadReceiptFrame {
  t: 'receipt';
  inbox: number;
  conv: ConvId;
  by: string;
  status: 'read';
  /** Cumulative: everything up to this seq. */
  upTo: number;
}

export type ReceiptFrame = DeliveredReceiptFrame | ReadReceiptFrame;

export type GroupEventKind = 'created' | 'added' | 'removed' | 'left' | 'renamed';

export interface GroupEventFrame {
  t: 'group_event';
  inbox: number;
  /** `g:<group>`. */
  conv: ConvId;
  /** The group's id. */
  group: string;
  event: GroupEventKind;
  by: string;
  /** The users added, removed or who left; every member for `created`; empty for `renamed`. */
  users: string[];
}

/** The user read `conv` up to `upTo` on another of its devices. */
export interface ReadSyncFrame {
  t: 'read_sync';
  inbox: number;
  conv: ConvId;
  upTo: number;
}

export type InboxFrame = MsgFrame | ReceiptFrame | GroupEventFrame | ReadSyncFrame;

// ---------------------------------------------------------------------------
// Ephemeral events

export interface PresenceFrame {
  t: 'presence';
  user: string;
  online: boolean;
  /** The user's last disconnect (ms); null if it never disconnected or hides it. */
  lastSeen: number | null;
}

export interface TypingFrame {
  t: 'typing';
  conv: ConvId;
  user: string;
  on: boolean;
}

/** What a client gets without asking: inbox entries and ephemeral events. */
export type EventFrame = InboxFrame | PresenceFrame | TypingFrame;

/** Every frame a Parley node writes on a client connection. */
export type ServerFrame = ReadyFrame | SentFrame | AnswerFrame | ErrorFrame | EventFrame;

/** The server frame of type `K`. */
export type ServerFrameOf<K extends ServerFrame['t']> = Extract<ServerFrame, { t: K }>;
