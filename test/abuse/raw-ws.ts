/**
 * A WebSocket client on a bare `net` socket, for the abuse tests that need
 * what a library hides: an upgrade request written byte by byte, a client
 * that stops reading (a paused socket, so nothing is buffered on our side),
 * a peer that never answers pings. Only what those tests need: masked client
 * frames out, unfragmented server frames in.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';

export interface RawOptions {
  protocol?: string;
  origin?: string;
  path?: string;
}

/** The upgrade request, as bytes. */
export function upgradeRequest(host: string, o: RawOptions = {}): string {
  const lines = [
    `GET ${o.path ?? '/v1/ws'} HTTP/1.1`,
    `Host: ${host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...(o.protocol ? [`Sec-WebSocket-Protocol: ${o.protocol}`] : []),
    ...(o.origin ? [`Origin: ${o.origin}`] : []),
  ];
  return lines.join('\r\n') + '\r\n\r\n';
}

/** A masked client frame (FIN set). Opcode 1 text, 2 binary, 8 close, 10 pong. */
export function clientFrame(payload: Buffer | string, opcode = 1): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const n = data.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126 && n < 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(n, 2);
  } else if (n >= 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  const mask = randomBytes(4);
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = data[i]! ^ mask[i & 3]!;
  return Buffer.concat([head, mask, body]);
}

export interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

/** Splits complete server frames off the front of `buf`; returns them and the rest. */
export function parseFrames(buf: Buffer): { frames: ServerFrame[]; rest: Buffer } {
  const frames: ServerFrame[] = [];
  let o = 0;
  for (;;) {
    if (buf.length - o < 2) break;
    const opcode = buf[o]! & 0x0f;
    let len = buf[o + 1]! & 0x7f;
    let h = 2;
    if (len === 126) {
      if (buf.length - o < 4) break;
      len = buf.readUInt16BE(o + 2);
      h = 4;
    } else if (len === 127) {
      if (buf.length - o < 10) break;
      len = Number(buf.readBigUInt64BE(o + 2));
      h = 10;
    }
    if (buf.length - o < h + len) break;
    frames.push({ opcode, payload: buf.subarray(o + h, o + h + len) });
    o += h + len;
  }
  return { frames, rest: buf.subarray(o) };
}

export interface RawSocket {
  socket: net.Socket;
  /** The status line and headers of the answer to the upgrade. */
  status: number;
  /** Server frames received so far (while the socket is read). */
  frames: ServerFrame[];
  /** Resolves when the socket is closed by either side. */
  closed: Promise<void>;
  send(payload: Buffer | string, opcode?: number): boolean;
  /** The first JSON text frame matching `pred`, within `timeoutMs`. */
  next(pred: (f: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Connects and upgrades; resolves once the server answered the upgrade request. */
export function rawConnect(port: number, o: RawOptions = {}): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer to the upgrade within 5 s'));
    }, 5000);
    let buf = Buffer.alloc(0);
    let raw: RawSocket | null = null;
    const waiters: Array<() => void> = [];
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      if (raw === null) reject(new Error('closed before the upgrade was answered'));
    });
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (raw === null) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        clearTimeout(timer);
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buf.subarray(0, end).toString('latin1'))?.[1] ?? 0);
        buf = buf.subarray(end + 4);
        raw = {
          socket,
          status,
          frames: [],
          closed,
          send: (payload, opcode = 1) => socket.write(clientFrame(payload, opcode)),
          next: (pred, timeoutMs = 5000) =>
            new Promise((res, rej) => {
              const t = setTimeout(() => rej(new Error(`no matching frame within ${timeoutMs} ms`)), timeoutMs);
              const check = (): void => {
                for (const f of raw!.frames) {
                  if (f.opcode !== 1) continue;
                  const v = JSON.parse(f.payload.toString('utf8')) as Record<string, unknown>;
                  if (pred(v)) {
                    clearTimeout(t);
                    waiters.splice(waiters.indexOf(check), 1);
                    res(v);
                    return;
                  }
                }
              };
              waiters.push(check);
              check();
            }),
        };
        resolve(raw);
      }
      const p = parseFrames(buf);
      buf = Buffer.from(p.rest);
      raw.frames.push(...p.frames.map((f) => ({ opcode: f.opcode, payload: Buffer.from(f.payload) })));
      for (const w of [...waiters]) w();
    });
    socket.write(upgradeRequest(`127.0.0.1:${port}`, o));
  });
}
