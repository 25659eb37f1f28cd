/**
 * The little of a WebSocket the client uses, so that any implementation with
 * the WHATWG shape fits: the `ws` package (the default), a browser's or
 * Node 22's global `WebSocket`, or a test double.
 *
 * The client sets the `on*` handler properties (one owner per socket, no
 * listener bookkeeping) and always sets `onerror`: a `ws` socket with no
 * error listener throws, and that takes the whole process down.
 */
import WebSocket from 'ws';

export interface WebSocketLike {
  readonly readyState: number;
  /** The negotiated subprotocol ('' for none). */
  readonly protocol: string;
  binaryType: string;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drops the socket without the closing handshake. */
  terminate?(): void;
}

/**
 * A WebSocket class. The third argument carries `ws` options when the default
 * class is used; WHATWG implementations ignore it.
 */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: any) => WebSocketLike;

export const OPEN = 1;

/** The default: the `ws` package. */
export const DefaultWebSocket: WebSocketConstructor = WebSocket;

/**
 * Options for the default class. No permessage-deflate: `ws` would compress
 * every frame unless no-context-takeover is negotiated, at about 13x the cost,
 * and chat frames are small.
 */
export const DEFAULT_WS_OPTIONS = { perMessageDeflate: false } as const;

/** A received frame's payload as the codec wants it. */
export function messageData(data: unknown): string | Uint8Array | undefined {
  if (typeof data === 'string') return data;
  if (data instanceof Uint8Array) return data; // Node Buffer too
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (Array.isArray(data)) return concat(data as Uint8Array[]); // ws binaryType 'fragments'
  return undefined;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
