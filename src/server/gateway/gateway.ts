/**
 * Gateway: the WebSocket endpoint `/v1/ws`.
 *
 * - Subprotocols `parley.v1.json` and `parley.v1.msgpack`; none (or none we
 *   know) means JSON.
 * - `maxPayload` is the frame limit (a bigger frame closes with 1009), and
 *   every socket has an `'error'` listener: without one, ws's oversized-frame
 *   error would take the whole process down.
 * - No per-message deflate (it costs ~13× in CPU for chat-sized frames).
 * - An optional Origin allow-list is checked before the upgrade (403).
 * - Connections per client address are capped (`connectionsPerAddress`,
 *   1024): past it the upgrade is refused with HTTP 429 before any
 *   WebSocket state exists. The count follows the raw socket, so it is
 *   released however the connection ends. The address is the socket's peer,
 *   or for a connection from a `trustedProxies` address the last entry of
 *   its `X-Forwarded-For`.
 * - Heartbeat: a ping every `heartbeatMs` (30 s); a socket that did not
 *   answer the previous one is dropped. An upgraded socket has no other
 *   idle timeout in Node, so this is what finds dead peers.
 * - `stop()` closes every connection with 1001.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Host } from '../../actors/host.js';
import { CloseCode, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, SUBPROTOCOLS, WS_PATH, type ClientCodec } from '../../protocol/connection.js';
import type { NodeConfig } from '../config.js';
import type { Tokens } from '../auth/tokens.js';
import type { GatewayMetrics } from './metrics.js';
import { Session, type MessageFilter, type SessionDeps } from './session.js';
import { Admission } from './admission.js';
import { clientAddress } from '../client-address.js';

export class Gateway {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<Session>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private stopping = false;
  private readonly inflight = { n: 0, sends: 0, draining: false };
  /** One for every session: a per-connection copy costs memory for nothing. */
  private readonly deps: SessionDeps;
  readonly admission: Admission;

  constructor(
    private readonly host: Host,
    private readonly cfg: NodeConfig,
    private readonly tokens: Tokens,
    private readonly metrics: GatewayMetrics,
    private readonly filter?: MessageFilter,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: cfg.limits.frameBytes,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (protocols) => {
        for (const p of [SUBPROTOCOL_MSGPACK, SUBPROTOCOL_JSON]) if (protocols.has(p)) return p;
        return false;
      },
    });
    this.wss.on('error', () => undefined);
    this.admission = new Admission(cfg.limits);
    this.deps = {
      admission: this.admission,
      host,
      limits: cfg.limits,
      tokens,
      metrics,
      callTimeoutMs: 10_000,
      inflight: this.inflight,
      ...(filter ? { filter } : {}),
      onEnd: (x) => {
        if (this.sessions.delete(x)) this.metrics.connections.dec();
      },
    };
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.heartbeat = setInterval(() => this.beat(), this.cfg.heartbeatMs);
    this.heartbeat.unref();
    this.admission.start();
  }


  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', destroySocket);
    const path = (req.url ?? '').split('?')[0];
    if (path !== WS_PATH) return reject(socket, 404, 'Not Found');
    if (this.stopping) return reject(socket, 503, 'Service Unavailable');
    const origin = req.headers.origin;
    if (this.cfg.origins.length > 0 && (origin === undefined || !this.cfg.origins.includes(origin))) return reject(socket, 403, 'Forbidden');
    const addr = clientAddress(req, this.cfg.trustedProxies);
    if (!this.admission.openAddress(addr)) {
      this.metrics.rateLimited.inc();
      return reject(socket, 429, 'Too Many Requests', `connections: at most ${this.cfg.limits.connectionsPerAddress} per client address (limits.connectionsPerAddress)`);
    }
    socket.once('close', () => this.admission.closeAddress(addr));
    this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws, addr));
  }

  private connected(ws: WebSocket, addr: string): void {
    const codec: ClientCodec = SUBPROTOCOLS[ws.protocol] ?? 'json';
    const s = new Session(ws, codec, this.deps, addr);
    this.sessions.add(s);
    this.metrics.connections.inc();
    // Shared listeners that find the session on the socket: four closures per
    // connection would be ~250 bytes of every idle connection.
    (ws as SessionSocket)[SESSION] = s;
    ws.on('error', ignore); // the 'close' that follows does the cleanup
    ws.on('close', onClose);
    ws.on('pong', onPong);
    ws.on('message', onMessage);
    this.host.spawn(s, { name: 'conn' }).then(
      () => s.started(),
      () => s.close(CloseCode.goingAway, 'node shutting down'),
    );
  }

  private beat(): void {
    for (const s of this.sessions) {
      if (!s.alive) {
        s.ws.terminate();
        s.onClose();
        continue;
      }
      s.alive = false;
      try {
        s.ws.ping();
      } catch {
        /* closing */
      }
    }
  }

  /** Refuses new frames (`unavailable`) and waits until in-flight calls are answered, up to `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    this.stopping = true;
    this.inflight.draining = true;
    const end = Date.now() + timeoutMs;
    while (this.inflight.n > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  }

  /** Stops accepting upgrades and closes every connection with 1001. */
  stop(): void {
    this.stopping = true;
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.admission.stop();
    for (const s of [...this.sessions]) s.close(CloseCode.goingAway, 'node shutting down');
    this.wss.close();
  }
}

const SESSION = Symbol('session');
type SessionSocket = WebSocket & { [SESSION]: Session };

// `ws` and `net` call listeners with `this` set to the emitter.
function ignore(): void {}
function onClose(this: WebSocket): void {
  (this as SessionSocket)[SESSION].onClose();
}
function onPong(this: WebSocket): void {
  (this as SessionSocket)[SESSION].alive = true;
}
function onMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
  (this as SessionSocket)[SESSION].onMessage(data, isBinary);
}
function destroySocket(this: Duplex): void {
  this.destroy();
}

function reject(socket: Duplex, status: number, text: string, why = ''): void {
  const body = why === '' ? '' : JSON.stringify({ error: { code: status === 429 ? 'rate_limited' : 'forbidden', message: why } });
  const extra = status === 429 ? 'Retry-After: 1\r\nContent-Type: application/json\r\n' : '';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
