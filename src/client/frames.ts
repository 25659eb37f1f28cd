/**
 * The frames of client protocol v1 (docs/protocol.md and the contract it implements, "WebSocket"),
 * as discriminated unions on `t`.
 *
 * - {@link ClientFrame}: every row of "Client to server".
 * - {@link ServerFrame}: every row of "Server to client", plus the answers the
 *   client table names (`ready`, `sent`, `history`, `chats`, `ok`, `group`,
 *   `keys`, `pong`).
 * - {@link InboxFrame}: the server frames that carry `inbox` and must be
 *   acknowledged.
 *
 * These are types only: they describe what a conforming peer writes, they do
 * not check it. A server may add fields (docs/protocol.md is allowed to); the
 * types name only what the contract promises. Where the contract leaves a
 * shape open, the choice made here is written on the field.
 */

/** Every `code` an `error` frame may carry. */
export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

export const ERROR_CODES: readonly ErrorCode[] = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'too_large',
  'rate_limited',
  'unavailable',
  'internal',
];

/** A message's recipient in `send`: one user or one group. */
export type SendTarget = `user:${string}` | `group:${string}`;

/** A conversation: `dm:<a>:<b>` with a < b (byte order), or `g:<group>`. */
export type ConvId = string;

/** `^[A-Za-z0-9_-]{8,64}$`: the client message id. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

/** A `rid` is a string of at most 64 characters. */
export const MAX_RID_LENGTH = 64;

// ---------------------------------------------------------------------------
// Shared shapes

export interface Group {
  id: string;
  name: string;
  members: string[];
  admins: string[];
  createdAt: number;
}

export interface ChatSummary {
  conv: ConvId;
  lastSeq: number;
  lastTs: number;
  unread: number;
}

/**
 * A stored message as `history` returns it: the `msg` fields without `inbox`.
 * `type` is optional on `send`; what the server puts here when the sender
 * gave none is not fixed by the contract, hence `string | null`, maybe absent.
 */
export interface StoredMessage {
  conv: ConvId;
  seq: number;
  id: string;
  from: string;
  device: string;
  ts: number;
  type?: string | null;
  body: unknown;
}

/**
 * Key material is opaque to the protocol. JSON can carry only strings, so the
 * types say `string` (base64 by convention); over MessagePack a server may
 * choose bytes, which arrive as `Uint8Array`.
 */
export type KeyBytes = string;

export interface SignedPreKey {
  id: number;
  key: KeyBytes;
  sig: KeyBytes;
}

export interface OneTimePreKey {
  id: number;
  key: KeyBytes;
}

export interface DeviceKeys {
  device: string;
  identityKey: KeyBytes;
  signedPreKey: SignedPreKey;
  /** Consumed by this fetch; null once the device has none left. */
  oneTimePreKey: OneTimePreKey | null;
}

// ---------------------------------------------------------------------------
// Client to server

export interface AuthFrame {
  t: 'auth';
  token: string;
}

interface SendCommon {
  t: 'send';
  id: string;
  to: SendTarget;
  type?: string;
}

/** `body` is any JSON value. */
export interface SendBodyFrame extends SendCommon {
  body: unknown;
  payloads?: never;
}

/** `payloads` maps `"<user>/<device>"` to the opaque value that device receives as `body`. */
export interface SendPayloadsFrame extends SendCommon {
  payloads: Record<string, unknown>;
  body?: never;
}

export type SendFrame = SendBodyFrame | SendPayloadsFrame;

export interface AckFrame {
  t: 'ack';
  inbox: number;
}

export interface ReadFrame {
  t: 'read';
  conv: ConvId;
  seq: number;
}

export interface HistoryRequest {
  t: 'history';
  rid: string;
  conv: ConvId;
  /** Exclusive. */
  before?: number;
  /** At most 100; the server's default is 50. */
  limit?: number;
}

export interface ChatsRequest {
  t: 'chats';
  rid: string;
}

export interface PresenceSubRequest {
  t: 'presence_sub';
  rid: string;
  users: string[];
}

export type LastSeenVisibility = 'everyone' | 'nobody';

export interface SettingsRequest {
  t: 'settings';
  rid: string;
  lastSeen: LastSeenVisibility;
}

export interface TypingRequest {
  t: 'typing';
  conv: ConvId;
  on: boolean;
}

export interface GroupCreateRequest {
  t: 'group_create';
  rid: string;
  name: string;
  members: string[];
}

export interface GroupAddRequest {
  t: 'group_add';
  rid: string;
  group: string;
  users: string[];
}

export interface GroupRemoveRequest {
  t: 'group_remove';
  rid: string;
  group: string;
  users: string[];
}

export interface GroupLeaveRequest {
  t: 'group_leave';
  rid: string;
  group: string;
}

export interface GroupUpdateRequest {
  t: 'group_update';
  rid: string;
  group: string;
  name: string;
}

export interface GroupInfoRequest {
  t: 'group_info';
  rid: string;
  group: string;
}

export interface KeysPutRequest {
  t: 'keys_put';
  rid: string;
  identityKey: KeyBytes;
  signedPreKey: SignedPreKey;
  oneTimePreKeys: OneTimePreKey[];
}

export interface KeysGetRequest {
  t: 'keys_get';
  rid: string;
  user: string;
}

export interface PingRequest {
  t: 'ping';
  rid?: string;
}

export type ClientFrame =
  | AuthFrame
  | SendFrame
  | AckFrame
  | ReadFrame
  | HistoryRequest
  | ChatsRequest
  | PresenceSubRequest
  | SettingsRequest
  | TypingRequest
  | GroupCreateRequest
  | GroupAddRequest
  | GroupRemoveRequest
  | GroupLeaveRequest
  | GroupUpdateRequest
  | GroupInfoRequest
  | KeysPutRequest
  | KeysGetRequest
  | PingRequest;

/** The client frames that carry a `rid` and expect one answer. */
export type RequestFrame = Extract<ClientFrame, { rid: string }> | PingRequest;

// ---------------------------------------------------------------------------
// Server to client: answers

export interface ReadyFrame {
  t: 'ready';
  user: string;
  device: string;
  /** The last inbox number this device acknowledged (0 for a new device). */
  inbox: number;
  /** The server's clock. */
  now: number;
}

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
  /** Older messages exist. */
  more: boolean;
}

export interface ChatsFrame {
  t: 'chats';
  rid: string;
  chats: ChatSummary[];
}

export interface OkFrame {
  t: 'ok';
  rid: string;
}

export interface GroupFrame {
  t: 'group';
  rid: string;
  group: Group;
}

export interface KeysFrame {
  t: 'keys';
  rid: string;
  user: string;
  devices: DeviceKeys[];
}

export interface PongFrame {
  t: 'pong';
  rid?: string;
}

export type AnswerFrame = HistoryFrame | ChatsFrame | OkFrame | GroupFrame | KeysFrame | PongFrame;

// ---------------------------------------------------------------------------
// Server to client: events

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
  conv: ConvId;
  /** The group's id (the contract does not say id or object; `conv` is `g:<group>`). */
  group: string;
  event: GroupEventKind;
  by: string;
  users: string[];
}

export interface ReadSyncFrame {
  t: 'read_sync';
  inbox: number;
  conv: ConvId;
  upTo: number;
}

export interface PresenceFrame {
  t: 'presence';
  user: string;
  online: boolean;
  /** Null where the user hides it. */
  lastSeen: number | null;
}

export interface TypingFrame {
  t: 'typing';
  conv: ConvId;
  user: string;
  on: boolean;
}

export interface ErrorFrame {
  t: 'error';
  code: ErrorCode;
  message: string;
  /** The `rid` of the request this answers, if it answers one. */
  rid?: string;
  /** The `id` of the `send` this answers, if it answers one. */
  id?: string;
  /** With `conflict` on `send` with `payloads`: `"user/device"` strings. */
  missing?: string[];
  extra?: string[];
}

export type InboxFrame = MsgFrame | ReceiptFrame | GroupEventFrame | ReadSyncFrame;

export type ServerFrame =
  | ReadyFrame
  | SentFrame
  | AnswerFrame
  | InboxFrame
  | PresenceFrame
  | TypingFrame
  | ErrorFrame;

/** Close codes of the contract ("Close codes"). */
export const CloseCode = {
  normal: 1000,
  frameTooLarge: 1009,
  unauthorized: 4001,
  noAuthInTime: 4002,
  rateLimitAbused: 4008,
  replaced: 4010,
} as const;

export const SUBPROTOCOL_JSON = 'parley.v1.json';
export const SUBPROTOCOL_MSGPACK = 'parley.v1.msgpack';
