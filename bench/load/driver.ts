/**
 * A load driver process, controlled by run.ts over the IPC channel.
 *
 * It holds many client connections with a lean raw-`ws` client (not
 * src/client's ParleyClient: no resume, no typed events, no promise per
 * frame, so the driver spends as little of the shared CPU as it can): JSON
 * subprotocol, no deflate, optional source address (127.0.0.x) per
 * connection. Tokens are HS256 JWTs signed here with the node's secret
 * (`{sub, dev, exp}`), before any timing starts.
 *
 * Every client acknowledges what it receives, as a real one does: each
 * connection acks the highest `inbox` it has seen (msg, receipt,
 * group_event) once per turn of the event loop, so the acks of a burst of
 * frames are one `ack` frame.
 *
 * Senders and their recipients live in the same driver process, so a
 * message's end-to-end latency is measured on one clock: the body (100
 * bytes) starts with the send time in microseconds of this process's
 * `performance.now()`. In window mode that is the time the frame was
 * written; in rate mode it is the time the send was due (open loop, so a
 * stalled server shows up in the latency instead of being hidden by the
 * driver waiting: no coordinated omission).
 */
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { newHistogram, encodeHistogram } from './hist.js';
import type { DriverCmd, DriverReply, Snapshot } from './ipc.js';

const BODY_BYTES = 100;
const PAD = 'x'.repeat(BODY_BYTES);

let url = '';
let secretKey = new Uint8Array();

const nowUs = (): number => Math.round(performance.now() * 1000);

function body(stampUs: number): string {
  const s = `${stampUs}|`;
  return s + PAD.slice(s.length);
}

class Conn {
  ws: WebSocket | null = null;
  ready = false;
  /** Highest inbox number seen, and the highest acked. */
  seen = 0;
  acked = 0;
  /** Where this connection's sends go: `user:<u>` or `group:<g>`. */
  to = '';
  outstanding = 0;
  /** Send times (µs) of sends not answered yet, oldest first. */
  sendTimes: number[] = [];
  sendHead = 0;
  n = 0;
  onReady: ((ok: boolean, why?: string) => void) | null = null;
  onClose: (() => void) | null = null;
  constructor(
    readonly user: string,
    readonly device: string,
    readonly token: string,
    readonly local: string | undefined,
  ) {}

  send(stampUs: number): void {
    const id = `${this.user}_${(this.n++).toString(36).padStart(6, '0')}`;
    this.outstanding++;
    this.sendTimes.push(nowUs());
    this.ws!.send(`{"t":"send","id":"${id}","to":"${this.to}","body":"${body(stampUs)}"}`);
  }
}

// ---- state ---------------------------------------------------------------------------------

const conns = new Map<string, Conn>();
const ackQueue = new Set<Conn>();
let ackScheduled = false;

const counters = { delivered: 0, sent: 0, receipts: 0, errors: 0 };
let errorCodes: Record<string, number> = {};
const firstErrors: string[] = [];
const e2e = newHistogram();
const sentLat = newHistogram();

/** Load generation. */
let running = false;
let mode: 'window' | 'rate' = 'window';
let windowSize = 4;
let senders: Conn[] = [];
let rateTimer: ReturnType<typeof setTimeout> | null = null;

/** Waiters on specific frames (group answers; drain). */
const ridWaiters = new Map<string, (f: Frame) => void>();
let onMsg: ((c: Conn, f: Frame) => void) | null = null;

interface Frame {
  t: string;
  inbox?: number;
  body?: unknown;
  rid?: string;
  id?: string;
  code?: string;
  message?: string;
  conv?: string;
  group?: { id: string };
  [k: string]: unknown;
}

function scheduleAck(c: Conn): void {
  ackQueue.add(c);
  if (!ackScheduled) {
    ackScheduled = true;
    setImmediate(flushAcks);
  }
}

function flushAcks(): void {
  ackScheduled = false;
  for (const c of ackQueue) {
    if (c.seen > c.acked && c.ws !== null && c.ws.readyState === WebSocket.OPEN) {
      c.acked = c.seen;
      c.ws.send(`{"t":"ack","inbox":${c.seen}}`);
    }
  }
  ackQueue.clear();
}

function onFrame(c: Conn, raw: WebSocket.RawData): void {
  const f = JSON.parse(raw.toString()) as Frame;
  switch (f.t) {
    case 'msg': {
      counters.delivered++;
      const b = f.body;
      if (typeof b === 'string') {
        const bar = b.indexOf('|');
        if (bar > 0) e2e.recordValue(Math.max(1, nowUs() - Number(b.slice(0, bar))));
      }
      if (f.inbox !== undefined && f.inbox > c.seen) c.seen = f.inbox;
      scheduleAck(c);
      if (onMsg !== null) onMsg(c, f);
      return;
    }
    case 'sent':
    case 'error': {
      if (f.t === 'error') {
        counters.errors++;
        errorCodes[f.code ?? '?'] = (errorCodes[f.code ?? '?'] ?? 0) + 1;
        if (firstErrors.length < 5) firstErrors.push(`${c.user}: ${f.code} ${f.message}`);
        if (f.rid !== undefined) {
          ridWaiters.get(f.rid)?.(f);
          ridWaiters.delete(f.rid);
        }
        if (f.id === undefined) return;
      }
      if (c.outstanding > 0) {
        c.outstanding--;
        const t0 = c.sendTimes[c.sendHead++];
        if (c.sendHead > 1024) {
          c.sendTimes = c.sendTimes.slice(c.sendHead);
          c.sendHead = 0;
        }
        if (f.t === 'sent') {
          counters.sent++;
          if (t0 !== undefined) sentLat.recordValue(Math.max(1, nowUs() - t0));
        }
        if (running && mode === 'window' && c.outstanding < windowSize) c.send(nowUs());
      }
      return;
    }
    case 'receipt':
    case 'group_event':
    case 'read_sync':
      if (f.t === 'receipt') counters.receipts++;
      if (f.inbox !== undefined && f.inbox > c.seen) c.seen = f.inbox;
      scheduleAck(c);
      return;
    case 'ready':
      c.ready = true;
      c.onReady?.(true);
      c.onReady = null;
      return;
    default:
      if (f.rid !== undefined) {
        ridWaiters.get(f.rid)?.(f);
        ridWaiters.delete(f.rid);
      }
  }
}

function open(c: Conn, timeoutMs = 30_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws`, 'parley.v1.json', {
      perMessageDeflate: false,
      ...(c.local !== undefined ? { localAddress: c.local } : {}),
    });
    c.ws = ws;
    c.ready = false;
    c.seen = c.acked = 0;
    const timer = setTimeout(() => done(false, 'no ready in time'), timeoutMs);
    const done = (ok: boolean, why?: string): void => {
      clearTimeout(timer);
      c.onReady = null;
      if (ok) resolve();
      else {
        ws.terminate();
        reject(new Error(why ?? 'connect failed'));
      }
    };
    c.onReady = done;
    ws.on('open', () => ws.send(JSON.stringify({ t: 'auth', token: c.token })));
    ws.on('message', (d) => onFrame(c, d));
    ws.on('error', (e) => c.onReady?.(false, e.message));
    ws.on('close', (code, reason) => {
      c.onReady?.(false, `closed ${code} ${reason.toString()}`);
      c.ready = false;
      c.onClose?.();
      c.onClose = null;
    });
  });
}

function close(c: Conn): Promise<void> {
  const ws = c.ws;
  if (ws === null || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      ws.terminate();
      resolve();
    }, 5000);
    c.onClose = () => {
      clearTimeout(t);
      resolve();
    };
    ws.close(1000);
  });
}

async function token(user: string, device: string): Promise<string> {
  return new SignJWT({ dev: device })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 24 * 3600)
    .sign(secretKey);
}

// ---- commands ------------------------------------------------------------------------------

async function connect(users: string[], addrs: string[], concurrency: number): Promise<DriverReply> {
  const fresh: Conn[] = [];
  for (let i = 0; i < users.length; i++) {
    const u = users[i]!;
    let c = conns.get(u);
    if (c === undefined) {
      c = new Conn(u, 'd1', await token(u, 'd1'), addrs.length > 0 ? addrs[i % addrs.length] : undefined);
      conns.set(u, c);
    }
    fresh.push(c);
  }
  const t0 = performance.now();
  let next = 0;
  let failed = 0;
  const errors: string[] = [];
  const lat = newHistogram();
  const worker = async (): Promise<void> => {
    while (next < fresh.length) {
      const c = fresh[next++]!;
      const s = nowUs();
      try {
        await open(c);
        lat.recordValue(Math.max(1, nowUs() - s));
      } catch (e) {
        failed++;
        if (errors.length < 5) errors.push(`${c.user}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, fresh.length) }, worker));
  return { ok: true, ms: performance.now() - t0, failed, errors, hist: encodeHistogram(lat) };
}

function startLoad(pairs: Array<[string, string]>, m: 'window' | 'rate', window: number, rate: number): DriverReply {
  senders = [];
  for (const [from, to] of pairs) {
    const c = conns.get(from);
    if (c === undefined || !c.ready) throw new Error(`sender ${from} is not connected`);
    c.to = to;
    senders.push(c);
  }
  mode = m;
  windowSize = window;
  running = true;
  if (m === 'window') {
    for (const c of senders) while (c.outstanding < window) c.send(nowUs());
  } else {
    const t0 = performance.now();
    const perMs = rate / 1000;
    let issued = 0;
    const tick = (): void => {
      if (!running) return;
      const due = Math.floor((performance.now() - t0) * perMs);
      while (issued < due) {
        const c = senders[issued % senders.length]!;
        // Stamped with the time it was due, not the time it went out.
        c.send(Math.round((t0 + issued / perMs) * 1000));
        issued++;
      }
      rateTimer = setTimeout(tick, 1);
    };
    tick();
  }
  return { ok: true };
}

function mark(): DriverReply {
  counters.delivered = counters.sent = counters.receipts = counters.errors = 0;
  errorCodes = {};
  e2e.reset();
  sentLat.reset();
  return { ok: true, at: performance.now() };
}

function snap(): Snapshot {
  let outstanding = 0;
  for (const c of senders) outstanding += c.outstanding;
  return {
    ok: true,
    at: performance.now(),
    ...counters,
    outstanding,
    errorCodes: { ...errorCodes },
    firstErrors: [...firstErrors],
    e2e: encodeHistogram(e2e),
    sentLat: encodeHistogram(sentLat),
  };
}

async function halt(timeoutMs: number): Promise<DriverReply> {
  running = false;
  if (rateTimer !== null) clearTimeout(rateTimer);
  rateTimer = null;
  const end = Date.now() + timeoutMs;
  const left = (): number => senders.reduce((a, c) => a + c.outstanding, 0);
  while (left() > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return { ok: true, outstanding: left() };
}

async function groupCreate(owner: string, members: string[]): Promise<DriverReply> {
  const c = conns.get(owner);
  if (c === undefined || !c.ready) throw new Error(`${owner} is not connected`);
  const rid = `g${Date.now()}`;
  const f = await new Promise<Frame>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('group_create: no answer in 30 s')), 30_000);
    ridWaiters.set(rid, (x) => {
      clearTimeout(t);
      resolve(x);
    });
    c.ws!.send(JSON.stringify({ t: 'group_create', rid, name: 'load', members }));
  });
  if (f.t !== 'group' || f.group === undefined) throw new Error(`group_create: ${f.code ?? f.t} ${f.message ?? ''}`);
  return { ok: true, group: f.group.id };
}

/**
 * Drain: `receiver` registers its device and goes offline; `sender` sends
 * `count` messages to it (window 256) and waits for every `sent`; then the
 * receiver reconnects, and the time runs from its connect until it has
 * received all `count` messages (acking as they come).
 */
async function drain(sender: string, receiver: string, count: number): Promise<DriverReply> {
  await connect([receiver], [], 1);
  const r = conns.get(receiver)!;
  await close(r);
  await new Promise((res) => setTimeout(res, 200));
  await connect([sender], [], 1);
  const s = conns.get(sender)!;
  s.to = `user:${receiver}`;
  const tFill = performance.now();
  let issued = 0;
  await new Promise<void>((resolve, reject) => {
    const end = Date.now() + 120_000;
    const pump = (): void => {
      while (issued < count && s.outstanding < 256) {
        s.send(nowUs());
        issued++;
      }
      if (issued >= count && s.outstanding === 0) return resolve();
      if (Date.now() > end) return reject(new Error(`drain: ${s.outstanding} sends unanswered after 120 s`));
      setTimeout(pump, 1);
    };
    pump();
  });
  const fillMs = performance.now() - tFill;
  let got = 0;
  const seen = new Set<string>();
  let finish: () => void = () => undefined;
  const all = new Promise<void>((res) => (finish = res));
  onMsg = (c, f) => {
    if (c !== r || f.id === undefined || seen.has(f.id)) return;
    seen.add(f.id);
    if (++got === count) finish();
  };
  const t0 = performance.now();
  await open(r);
  const readyMs = performance.now() - t0;
  const timeout = new Promise<void>((res) => setTimeout(res, 120_000));
  await Promise.race([all, timeout]);
  const ms = performance.now() - t0;
  onMsg = null;
  return { ok: true, ms, readyMs, got, fillMs };
}

async function closeAll(): Promise<DriverReply> {
  running = false;
  await Promise.all([...conns.values()].map(close));
  conns.clear();
  return { ok: true };
}

async function handle(m: DriverCmd): Promise<DriverReply> {
  switch (m.cmd) {
    case 'init':
      url = m.url;
      secretKey = new TextEncoder().encode(m.secret);
      return { ok: true };
    case 'connect':
      return connect(m.users, m.addrs, m.concurrency);
    case 'load':
      return startLoad(m.pairs, m.mode, m.window, m.rate);
    case 'mark':
      return mark();
    case 'snap':
      return snap();
    case 'halt':
      return halt(m.timeoutMs);
    case 'group_create':
      return groupCreate(m.owner, m.members);
    case 'drain':
      return drain(m.sender, m.receiver, m.count);
    case 'close_all':
      return closeAll();
    case 'exit':
      setImmediate(() => process.exit(0));
      return { ok: true };
  }
}

process.on('message', (m: DriverCmd & { n: number }) => {
  handle(m).then(
    (r) => process.send!({ ...r, n: m.n }),
    (e: unknown) => process.send!({ ok: false, error: (e as Error).message, n: m.n }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send!({ ok: true, n: 0 });
