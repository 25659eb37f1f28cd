/**
 * The client's options, normalised once (in the constructor), one validator
 * each; a wrong option throws `ParleyClientError` `invalid_option` naming it.
 *
 * | option | default |
 * | --- | --- |
 * | `url` | required: the WebSocket endpoint, `ws://host:port/v1/ws` |
 * | `token` | required: a JWT, or a function returning one, called before every (re)connect so an expiring token can be refreshed |
 * | `codec` | `'json'` (`'msgpack'` for `parley.v1.msgpack`) |
 * | `autoAck` | `true` |
 * | `reconnect` | `{minMs: 250, maxMs: 30000, maxAttempts: Infinity}`; `false` for none |
 * | `rateLimitRetry` | `{minMs: 50, maxMs: 2000}` (the server refills 50 sends/s: one token per 20 ms) |
 * | `requestTimeoutMs` | `10000` |
 * | `heartbeatMs` | `30000`: after this long without a frame from the server, a `ping`; no `pong` within `requestTimeoutMs` and the connection counts as dead; `0` for none |
 * | `maxFrameBytes` | `131072` (the server's default frame limit, 128 KiB); `0` for no check |
 * | `WebSocket` | the `ws` package |
 */
import type { BackoffPolicy } from './backoff.js';
import type { CodecName } from './codec.js';
import { ParleyClientError } from './errors.js';
import { DefaultWebSocket, type WebSocketConstructor } from './socket.js';

export interface ReconnectPolicy extends BackoffPolicy {
  /** Consecutive failed attempts before the client gives up and closes. */
  maxAttempts: number;
}

export type TokenSource = string | (() => string | Promise<string>);

export interface ParleyClientOptions {
  url: string;
  token: TokenSource;
  codec?: CodecName;
  autoAck?: boolean;
  reconnect?: Partial<ReconnectPolicy> | false;
  rateLimitRetry?: Partial<BackoffPolicy>;
  requestTimeoutMs?: number;
  heartbeatMs?: number;
  maxFrameBytes?: number;
  WebSocket?: WebSocketConstructor;
}

export interface NormalizedOptions {
  url: string;
  token: TokenSource;
  codec: CodecName;
  autoAck: boolean;
  reconnect: ReconnectPolicy | false;
  rateLimitRetry: BackoffPolicy;
  requestTimeoutMs: number;
  heartbeatMs: number;
  maxFrameBytes: number;
  WebSocket: WebSocketConstructor;
  /** Whether `WebSocket` is the default `ws` class (which takes `ws` options). */
  defaultWebSocket: boolean;
}

export const DEFAULT_RECONNECT: Readonly<ReconnectPolicy> = { minMs: 250, maxMs: 30_000, maxAttempts: Infinity };
export const DEFAULT_RATE_LIMIT_RETRY: Readonly<BackoffPolicy> = { minMs: 50, maxMs: 2_000 };
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_HEARTBEAT_MS = 30_000;
export const DEFAULT_MAX_FRAME_BYTES = 128 * 1024;

function invalid(option: string, rule: string): ParleyClientError {
  return new ParleyClientError('invalid_option', `option ${option}: ${rule}`);
}

function checkUrl(url: unknown): string {
  if (typeof url !== 'string') throw invalid('url', 'must be a ws:// or wss:// URL string');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('url', `cannot parse ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw invalid('url', `must be ws:// or wss://, got ${parsed.protocol}`);
  return url;
}

function checkToken(token: unknown): TokenSource {
  if (typeof token === 'function') return token as TokenSource;
  if (typeof token !== 'string' || token === '') throw invalid('token', 'must be a non-empty string or a function returning one');
  return token;
}

function checkCodec(codec: unknown): CodecName {
  if (codec === undefined) return 'json';
  if (codec !== 'json' && codec !== 'msgpack') throw invalid('codec', `must be 'json' or 'msgpack', got ${String(codec)}`);
  return codec;
}

function checkBoolean(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(option, 'must be a boolean');
  return value;
}

function checkMs(option: string, value: unknown, fallback: number, { min = 0, infinite = false } = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || (!infinite && !Number.isFinite(value))) {
    throw invalid(option, `must be a number >= ${min}${infinite ? ' (Infinity allowed)' : ''}`);
  }
  return value;
}

function checkBackoff(option: string, value: Partial<BackoffPolicy> | undefined, fallback: BackoffPolicy): BackoffPolicy {
  if (value !== undefined && (typeof value !== 'object' || value === null)) throw invalid(option, 'must be an object');
  const minMs = checkMs(`${option}.minMs`, value?.minMs, fallback.minMs, { min: 1 });
  const maxMs = checkMs(`${option}.maxMs`, value?.maxMs, Math.max(fallback.maxMs, minMs), { min: 1 });
  if (maxMs < minMs) throw invalid(option, 'maxMs must be >= minMs');
  return { minMs, maxMs };
}

function checkReconnect(value: unknown): ReconnectPolicy | false {
  if (value === false) return false;
  if (value !== undefined && (typeof value !== 'object' || value === null)) throw invalid('reconnect', 'must be an object or false');
  const v = value as Partial<ReconnectPolicy> | undefined;
  const { minMs, maxMs } = checkBackoff('reconnect', v, DEFAULT_RECONNECT);
  const maxAttempts = checkMs('reconnect.maxAttempts', v?.maxAttempts, DEFAULT_RECONNECT.maxAttempts, { min: 1, infinite: true });
  return { minMs, maxMs, maxAttempts };
}

function checkWebSocket(value: unknown): WebSocketConstructor {
  if (value === undefined) return DefaultWebSocket;
  if (typeof value !== 'function') throw invalid('WebSocket', 'must be a WebSocket class');
  return value as WebSocketConstructor;
}

export function normalizeOptions(options: ParleyClientOptions): NormalizedOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'must be an object');
  const WebSocket = checkWebSocket(options.WebSocket);
  return {
    url: checkUrl(options.url),
    token: checkToken(options.token),
    codec: checkCodec(options.codec),
    autoAck: checkBoolean('autoAck', options.autoAck, true),
    reconnect: checkReconnect(options.reconnect),
    rateLimitRetry: checkBackoff('rateLimitRetry', options.rateLimitRetry, DEFAULT_RATE_LIMIT_RETRY),
    requestTimeoutMs: checkMs('requestTimeoutMs', options.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS, { min: 1 }),
    heartbeatMs: checkMs('heartbeatMs', options.heartbeatMs, DEFAULT_HEARTBEAT_MS),
    maxFrameBytes: checkMs('maxFrameBytes', options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, { infinite: true }),
    WebSocket,
    defaultWebSocket: WebSocket === DefaultWebSocket,
  };
}
