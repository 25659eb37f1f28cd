/**
 * The client's address, for the per-address limits of the gateway and the
 * HTTP API: the TCP peer, or for a peer listed in `trustedProxies` the last
 * `X-Forwarded-For` entry (the one that proxy added; the entries before it
 * are whatever the client wrote). From any other peer the header is
 * ignored, since a client could put anything there. One rule in one place,
 * so the WebSocket upgrade and the HTTP routes count the same client.
 */
import type { IncomingMessage } from 'node:http';

export function clientAddress(req: IncomingMessage, trustedProxies: readonly string[]): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  const fwd = req.headers['x-forwarded-for'];
  if (fwd === undefined || !trustedProxies.includes(peer)) return peer;
  const hops = (Array.isArray(fwd) ? fwd.join(',') : fwd).split(',');
  return hops[hops.length - 1]!.trim() || peer;
}
