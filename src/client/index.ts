/**
 * The Parley client SDK: protocol v1 over WebSocket, and the HTTP calls for
 * accounts and sessions. It depends on the protocol only (no server code):
 * `ws`, `msgpackr` and `nanoid`.
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
export * from './frames.js';
