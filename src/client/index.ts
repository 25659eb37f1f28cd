/**
 * The Parley client SDK: protocol v1 over WebSocket, and the HTTP calls for
 * accounts and sessions. It depends on the protocol only (`src/protocol`, no
 * server code): `ws`, `msgpackr` and `nanoid`.
 */
export { ParleyClient } from './client.js';
export type {
  CloseInfo,
  HistoryOptions,
  KeyBundle,
  ParleyClientEvent,
  ParleyClientEvents,
  ParleyClientHandler,
  ParleyClientState,
  ReconnectInfo,
  SendOptions,
  SendResult,
  UserSettings,
} from './client.js';
export {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_RATE_LIMIT_RETRY,
  DEFAULT_RECONNECT,
  DEFAULT_REQUEST_TIMEOUT_MS,
} from './options.js';
export type { ParleyClientOptions, ReconnectPolicy, TokenSource } from './options.js';
export { ParleyClientError } from './errors.js';
export type { ClientErrorCode, ParleyClientErrorCode, ParleyClientErrorDetails } from './errors.js';
export { createAccount, login, endpoint } from './http.js';
export type { HttpOptions, Session } from './http.js';
export { codecFor, codecForSubprotocol, jsonCodec, msgpackCodec } from './codec.js';
export type { Codec, CodecName, WireData } from './codec.js';
export { backoffDelay } from './backoff.js';
export type { BackoffPolicy } from './backoff.js';
export type { WebSocketConstructor, WebSocketLike } from './socket.js';
// The protocol as a client sees it (docs/protocol.md). At run time only the
// modules without dependencies; the frame modules for their types, so the
// client never loads the server's schema checker.
export * from '../protocol/ids.js';
export * from '../protocol/errors.js';
export * from '../protocol/connection.js';
export type * from '../protocol/server-frames.js';
export type {
  AckFrame,
  Audience,
  AuthFrame,
  ChatsRequest,
  ClientFrame,
  DeviceRemoveRequest,
  DevicesRequest,
  GroupAddRequest,
  GroupAddSetting,
  GroupCreateRequest,
  GroupInfoRequest,
  GroupLeaveRequest,
  GroupRemoveRequest,
  GroupUpdateRequest,
  HistoryRequest,
  KeyBytes,
  KeysGetRequest,
  KeysPutRequest,
  LastSeenVisibility,
  OneTimePreKey,
  PingRequest,
  PresenceSubRequest,
  ReadFrame,
  RequestFrame,
  SendBodyFrame,
  SendFrame,
  SendPayloadsFrame,
  SettingsRequest,
  SignedPreKey,
  TypingRequest,
} from '../protocol/client-frames.js';
