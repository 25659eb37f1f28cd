/**
 * The WebSocket connection of client protocol v1 (docs/protocol.md,
 * "Connection"): its path, the subprotocols that choose a codec, and the
 * close codes. Constants only, so the client loads this file as it is.
 *
 * Defaults: no subprotocol (or none the server knows) means JSON; when a
 * client offers both, the server picks MessagePack.
 */

/** The WebSocket endpoint, on the node's HTTP port. */
export const WS_PATH = '/v1/ws';

export const SUBPROTOCOL_JSON = 'parley.v1.json';
export const SUBPROTOCOL_MSGPACK = 'parley.v1.msgpack';

/** The two wire codecs: JSON in text frames, plain MessagePack in binary frames. */
export type ClientCodec = 'json' | 'msgpack';

/** The codec each subprotocol selects. */
export const SUBPROTOCOLS: Readonly<Record<string, ClientCodec>> = { [SUBPROTOCOL_JSON]: 'json', [SUBPROTOCOL_MSGPACK]: 'msgpack' };

/**
 * Close codes. `goingAway` and `tooManyConnections` are what this
 * implementation adds to the base contract's (docs/protocol.md, "Close
 * codes"). A connection dropped without a close frame (a slow reader, a
 * peer that missed the heartbeat) shows as 1006 at the other end.
 */
export const CloseCode = {
  /** The client closed (or the server, for no particular reason). */
  normal: 1000,
  /** The node is stopping, or could not register the device now: reconnect later. */
  goingAway: 1001,
  /** A frame larger than `limits.frameBytes`. */
  frameTooLarge: 1009,
  /** `auth` refused (or another frame first), or this device was removed. Do not reconnect with the same token. */
  unauthorized: 4001,
  /** No `auth` within `limits.authTimeoutMs`. */
  noAuthInTime: 4002,
  /** Rate limits refused frames without a pause for `limits.rateAbuseMs`. */
  rateLimitAbused: 4008,
  /** The same device connected again elsewhere. Do not reconnect: the newer connection is the device's. */
  replaced: 4010,
  /** The user has `limits.connectionsPerUser` connections open. */
  tooManyConnections: 4029,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];
