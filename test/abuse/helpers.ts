/**
 * Helpers for the abuse tests: a real node on 127.0.0.1 (ephemeral port,
 * data under os.tmpdir(), removed on stop), accounts over HTTP, and a raw
 * `ws` peer that records every frame it receives, so a test can say exactly
 * what came back and when the socket closed. Every wait is bounded.
 *
 * The node signs tokens with a known secret (`SECRET`), so tests can forge
 * expired or wrongly signed ones.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { createNode, type NodeOptions, type ParleyNode } from '../../src/server/node.js';

export const SECRET = 'abuse-tests-secret-0123456789abcdef';
export const PASSWORD = 'correct horse battery';

/** Where a node answers: HTTP at `url`, WebSocket at `wsUrl`. */
export interface Endpoint {
  url: string;
  wsUrl: string;
}

export interface TestNode extends Endpoint {
  node: ParleyNode;
  stop(): Promise<void>;
}

/** Starts a node with one scheduler thread; `stop()` stops it and removes its data. */
export async function startNode(o: NodeOptions = {}): Promise<TestNode> {
  const dir = mkdtempSync(join(os.tmpdir(), 'parley-abuse-'));
  const node = await createNode({ port: 0, host: '127.0.0.1', data: dir, workers: 1, partitions: 8, log: 'error', secret: SECRET, ...o });
  try {
    await node.start();
  } catch (e) {
    await node.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    node,
    url: node.url,
    wsUrl: node.url.replace(/^http/, 'ws') + '/v1/ws',
    async stop() {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          node.stop(),
          new Promise<never>((_, rej) => {
            timer = setTimeout(() => rej(new Error('the node did not stop within 20 s')), 20_000);
          }),
        ]);
      } finally {
        clearTimeout(timer);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Runs `body` against a fresh node, stopped (and its data removed) afterwards whatever happens. */
export async function withNode(o: NodeOptions, body: (t: TestNode) => Promise<void>): Promise<void> {
  const t = await startNode(o);
  try {
    await body(t);
  } finally {
    await t.stop();
  }
}

let unique = 0;
/** A user name no other test of this process uses. */
export function uniqueUser(prefix: string): string {
  return `${prefix}${process.pid.toString(36)}${(unique++).toString(36)}`;
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

export async function signup(t: Endpoint, user: string): Promise<void> {
  const r = await postJson(`${t.url}/v1/accounts`, { user, password: PASSWORD });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

export async function login(t: Endpoint, user: string, device = 'd1'): Promise<string> {
  const r = await postJson(`${t.url}/v1/sessions`, { user, password: PASSWORD, device });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.token as string;
}

/** The node answers over HTTP. */
export async function healthy(t: Endpoint): Promise<void> {
  const r = await fetch(`${t.url}/healthz`, { signal: AbortSignal.timeout(5000) });
  assert.equal(r.status, 200);
}

export type Frame = Record<string, unknown> & { t: string };
export type Codec = 'json' | 'msgpack';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', moreTypes: false });
export const packPlain = (v: unknown): Buffer => Buffer.from(packr.pack(v));

interface Waiter {
  pred: (f: Frame) => boolean;
  resolve: (f: Frame) => void;
  reject: (e: Error) => void;
}

/** A raw WebSocket peer: frames in arrival order, bounded waits, the close code. */
export class Peer {
  /** Frames received and not yet taken by a wait. */
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  closeCode: number | null = null;
  private waiters: Waiter[] = [];
  private rids = 0;

  private constructor(
    readonly ws: WebSocket,
    readonly codec: Codec,
  ) {
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        resolve({ code, reason: reason.toString() });
        // Every frame has been delivered before 'close': nothing more will come.
        for (const w of this.waiters.splice(0)) w.reject(new Error(`socket closed (${code} ${reason.toString()}); unclaimed frames: ${JSON.stringify(this.frames).slice(0, 600)}`));
      }),
    );
    ws.on('message', (data: Buffer, isBinary) => {
      const f = (isBinary ? packr.unpack(data) : JSON.parse(data.toString('utf8'))) as Frame;
      const i = this.waiters.findIndex((w) => w.pred(f));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(f);
      else this.frames.push(f);
    });
  }

  /** Opens a socket; `protocol` null offers no subprotocol. */
  static open(t: Endpoint, o: { protocol?: Codec | null; origin?: string } = {}): Promise<Peer> {
    const protocol = o.protocol === undefined ? 'json' : o.protocol;
    const ws = new WebSocket(t.wsUrl, protocol === null ? [] : [`parley.v1.${protocol}`], {
      ...(o.origin !== undefined ? { origin: o.origin } : {}),
      handshakeTimeout: 5000,
    });
    const p = new Peer(ws, protocol === 'msgpack' ? 'msgpack' : 'json');
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(p));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(frame: unknown): void {
    this.ws.send(this.codec === 'json' ? JSON.stringify(frame) : packPlain(frame));
  }

  /** Sends bytes as they are: a text frame, or a binary one. */
  raw(data: string | Buffer, binary = typeof data !== 'string'): void {
    this.ws.send(data, { binary });
  }

  /** The first frame (received or to come) that matches; fails after `timeoutMs`. */
  next(pred: (f: Frame) => boolean, timeoutMs = 5000, what = 'a frame'): Promise<Frame> {
    const i = this.frames.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    if (this.closeCode !== null) return Promise.reject(new Error(`no ${what}: the socket is closed (${this.closeCode})`));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(new Error(`no ${what}: ${e.message}`));
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no ${what} within ${timeoutMs} ms; unclaimed frames: ${JSON.stringify(this.frames).slice(0, 600)}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Sends a frame with a fresh `rid` and waits for its answer or error. */
  async request(frame: Record<string, unknown>, timeoutMs = 5000): Promise<Frame> {
    // Long enough that no rid of a random frame is mistaken for it.
    const rid = `req-${process.pid}-${this.rids++}`;
    this.send({ ...frame, rid });
    return this.next((f) => f.rid === rid, timeoutMs, `answer to ${String(frame.t)} (${rid})`);
  }

  /** The `error` frame answering `key` (an `rid` or an `id`), or any error when omitted. */
  error(key?: string, timeoutMs = 5000): Promise<Frame> {
    return this.next((f) => f.t === 'error' && (key === undefined || f.rid === key || f.id === key), timeoutMs, `error${key ? ` for ${key}` : ''}`);
  }

  /** The connection still answers: a ping gets its pong. */
  async alive(): Promise<void> {
    assert.equal(this.ws.readyState, WebSocket.OPEN, `socket closed (${this.closeCode})`);
    const pong = await this.request({ t: 'ping' });
    assert.equal(pong.t, 'pong');
  }

  /** Waits for the close and returns its code. */
  async closedWith(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`socket not closed within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Nothing matching arrives for `ms`. */
  async quiet(pred: (f: Frame) => boolean, ms: number): Promise<void> {
    await sleep(ms);
    const f = this.frames.find(pred);
    assert.equal(f, undefined, `unexpected frame ${JSON.stringify(f)}`);
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/** Opens and authenticates a socket for `user`/`device`. */
export async function connect(t: Endpoint, user: string, device = 'd1', protocol: Codec = 'json', token?: string): Promise<Peer> {
  // The token first: the auth timeout runs from the upgrade.
  const tok = token ?? (await login(t, user, device));
  const p = await Peer.open(t, { protocol });
  p.send({ t: 'auth', token: tok });
  const ready = await p.next((f) => f.t === 'ready' || f.t === 'error', 5000, 'ready');
  assert.equal(ready.t, 'ready', JSON.stringify(ready));
  return p;
}

/** A new account, logged in on device d1. */
export async function newUser(t: Endpoint, prefix: string, protocol: Codec = 'json'): Promise<{ name: string; peer: Peer }> {
  const name = uniqueUser(prefix);
  await signup(t, name);
  return { name, peer: await connect(t, name, 'd1', protocol) };
}

export function dm(a: string, b: string): string {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

let ids = 0;
/** A fresh client message id. */
export function msgId(): string {
  return `m${process.pid.toString(36)}x${(ids++).toString(36).padStart(6, '0')}`;
}

/**
 * `from` sends `body` to `to`; waits for `sent`, for `to` to receive it and
 * acknowledge it, and for the delivered receipt to come back, so nothing of
 * the exchange is still in flight when it returns.
 */
export async function exchange(from: { name: string; peer: Peer }, to: { name: string; peer: Peer }, body: unknown = 'hello'): Promise<Frame> {
  const id = msgId();
  from.peer.send({ t: 'send', id, to: `user:${to.name}`, body });
  const sent = await from.peer.next((f) => (f.t === 'sent' || f.t === 'error') && f.id === id, 10_000, `sent ${id}`);
  assert.equal(sent.t, 'sent', JSON.stringify(sent));
  const msg = await to.peer.next((f) => f.t === 'msg' && f.id === id, 10_000, `msg ${id}`);
  assert.deepEqual(msg.body, body);
  to.peer.send({ t: 'ack', inbox: msg.inbox });
  await delivered(from.peer, to.name, sent);
  return sent;
}

/** Waits for the delivered receipt of `sent` by `by`, and acknowledges it. */
export async function delivered(p: Peer, by: string, sent: Frame): Promise<void> {
  const r = await p.next(
    (f) => f.t === 'receipt' && f.status === 'delivered' && f.by === by && f.conv === sent.conv && (f.seqs as number[]).includes(sent.seq as number),
    10_000,
    `delivered receipt of ${String(sent.id)} by ${by}`,
  );
  p.send({ t: 'ack', inbox: r.inbox });
}

/** What a user's store holds as the protocol shows it: the chats list and every conversation's history. */
export async function snapshot(p: Peer): Promise<unknown> {
  const chats = await p.request({ t: 'chats' });
  assert.equal(chats.t, 'chats', JSON.stringify(chats));
  const list = chats.chats as Array<{ conv: string }>;
  const histories: Record<string, unknown> = {};
  for (const c of list) {
    const h = await p.request({ t: 'history', conv: c.conv, limit: 100 });
    assert.equal(h.t, 'history', JSON.stringify(h));
    histories[c.conv] = { messages: h.messages, more: h.more };
  }
  return { chats: list, histories };
}

/** Two users who talk to each other while others misbehave. */
export interface Bystanders {
  a: { name: string; peer: Peer };
  b: { name: string; peer: Peer };
  snapshot(): Promise<unknown>;
  /** One message each way; both arrive. */
  talk(): Promise<void>;
  close(): void;
}

export async function bystanders(t: Endpoint): Promise<Bystanders> {
  const a = await newUser(t, 'bya');
  const b = await newUser(t, 'byb');
  const by: Bystanders = {
    a,
    b,
    snapshot: async () => ({ a: await snapshot(a.peer), b: await snapshot(b.peer) }),
    talk: async () => {
      await exchange(a, b, { text: 'ping from a' });
      await exchange(b, a, { text: 'ping from b' });
    },
    close: () => {
      a.peer.close();
      b.peer.close();
    },
  };
  await by.talk();
  return by;
}

/**
 * Runs `abuse`, then checks what every abuse test promises: the node is up,
 * the bystanders' stored state is what it was, and they still talk.
 */
export async function unaffected(t: Endpoint, by: Bystanders, abuse: () => Promise<void>): Promise<void> {
  const before = await by.snapshot();
  await abuse();
  await healthy(t);
  assert.deepEqual(await by.snapshot(), before, 'bystanders’ chats and history changed');
  await by.talk();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every 20 ms until it holds; fails after `timeoutMs`. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** `r` is an error frame with `code`, whose message contains `text` when given. */
export function expectError(r: Frame, code: string, text?: string): void {
  assert.equal(r.t, 'error', `expected error ${code}, got ${JSON.stringify(r).slice(0, 400)}`);
  assert.equal(r.code, code, String(r.message));
  if (text !== undefined) assert.ok(String(r.message).includes(text), `message ${JSON.stringify(r.message)} lacks ${JSON.stringify(text)}`);
}
