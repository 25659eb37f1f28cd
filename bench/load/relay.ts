/**
 * The baseline: a raw `ws` relay, in memory, with no durability, no receipts,
 * no actors and no threads — the least a server must do to move the same
 * frames. It speaks just enough of protocol v1 (JSON) for the same driver:
 *
 * - `auth {token}`: checks the HS256 signature with node:crypto and reads
 *   `sub`, answers `ready`;
 * - `send {id, to, body}` to `user:<u>`: writes a `msg` frame (the node's
 *   fields, with a per-recipient `inbox` counter so the driver acks exactly
 *   as it does against the node) to the recipient's socket, then `sent` to
 *   the sender; to `group:<g>`: encodes the `msg` once and writes it to every
 *   other member's socket (so `inbox` is omitted), then `sent`;
 * - `group_create {rid, members}`: an in-memory group, answered `group`;
 * - `ack`: read and dropped.
 *
 * Same socket settings as the node: no deflate, `maxPayload` 128 KiB, an
 * error listener on every socket. Forked by run.ts: tells `{t: 'up', url,
 * pid}`, exits on `{t: 'stop'}`.
 */
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';

const secret = Buffer.from(process.argv[2] ?? '');

interface Conn {
  ws: WebSocket;
  user: string;
  device: string;
  inbox: number;
}

const users = new Map<string, Conn>();
const groups = new Map<string, string[]>();
const seqs = new Map<string, number>();
let groupN = 0;

function verify(token: string): { sub: string; dev: string } | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const mac = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const sig = Buffer.from(parts[2]!, 'base64url');
  if (sig.length !== mac.length || !timingSafeEqual(sig, mac)) return null;
  const p = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { sub?: string; dev?: string; exp?: number };
  if (typeof p.sub !== 'string' || typeof p.dev !== 'string' || (p.exp ?? 0) * 1000 < Date.now()) return null;
  return { sub: p.sub, dev: p.dev };
}

function nextSeq(conv: string): number {
  const s = (seqs.get(conv) ?? 0) + 1;
  seqs.set(conv, s);
  return s;
}

const server = http.createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ noServer: true, maxPayload: 128 * 1024, perMessageDeflate: false, clientTracking: false });
wss.on('error', () => undefined);
server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  wss.handleUpgrade(req, socket, head, (ws) => connected(ws));
});

function connected(ws: WebSocket): void {
  let me: Conn | null = null;
  ws.on('error', () => undefined);
  ws.on('close', () => {
    if (me !== null && users.get(me.user) === me) users.delete(me.user);
  });
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    let f: { t?: string; [k: string]: unknown };
    try {
      f = JSON.parse(data.toString()) as typeof f;
    } catch {
      return;
    }
    if (me === null) {
      const claims = f.t === 'auth' && typeof f.token === 'string' ? verify(f.token) : null;
      if (claims === null) {
        ws.close(4001, 'unauthorized');
        return;
      }
      me = { ws, user: claims.sub, device: claims.dev, inbox: 0 };
      users.set(me.user, me);
      ws.send(JSON.stringify({ t: 'ready', user: me.user, device: me.device, inbox: 0, now: Date.now() }));
      return;
    }
    switch (f.t) {
      case 'ack':
        return;
      case 'send': {
        const to = String(f.to);
        const ts = Date.now();
        if (to.startsWith('user:')) {
          const u = to.slice(5);
          const conv = me.user < u ? `dm:${me.user}:${u}` : `dm:${u}:${me.user}`;
          const seq = nextSeq(conv);
          const r = users.get(u);
          if (r !== undefined) {
            r.ws.send(JSON.stringify({ t: 'msg', inbox: ++r.inbox, conv, seq, id: f.id, from: me.user, device: me.device, ts, type: 'text', body: f.body }));
          }
          ws.send(JSON.stringify({ t: 'sent', id: f.id, conv, seq, ts }));
        } else {
          const g = to.slice(6);
          const members = groups.get(g) ?? [];
          const conv = `g:${g}`;
          const seq = nextSeq(conv);
          const frame = JSON.stringify({ t: 'msg', conv, seq, id: f.id, from: me.user, device: me.device, ts, type: 'text', body: f.body });
          for (const u of members) {
            if (u === me.user) continue;
            users.get(u)?.ws.send(frame);
          }
          ws.send(JSON.stringify({ t: 'sent', id: f.id, conv, seq, ts }));
        }
        return;
      }
      case 'group_create': {
        const id = `relay${++groupN}`;
        const members = [...new Set([me.user, ...(f.members as string[])])];
        groups.set(id, members);
        ws.send(JSON.stringify({ t: 'group', rid: f.rid, group: { id, name: f.name, members, admins: [me.user], createdAt: Date.now() } }));
        return;
      }
      case 'ping':
        ws.send(JSON.stringify({ t: 'pong', rid: f.rid }));
        return;
    }
  });
}

server.listen(0, '127.0.0.1', () => {
  const a = server.address() as { port: number };
  process.send!({ t: 'up', url: `http://127.0.0.1:${a.port}`, pid: process.pid });
});
process.on('message', (m: { t?: string }) => {
  if (m.t === 'stop') process.exit(0);
});
process.on('disconnect', () => process.exit(0));
