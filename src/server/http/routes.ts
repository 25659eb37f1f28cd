/**
 * The HTTP API (docs/protocol.md, "HTTP"), media endpoints excepted:
 *
 * | route                 | answer                                                              |
 * |-----------------------|---------------------------------------------------------------------|
 * | POST /v1/accounts     | 201 {user}; 409 taken; 400 bad input; 404 built-in accounts off; 429; 503 |
 * | POST /v1/sessions     | 200 {token, expiresAt}; 401; 404 built-in accounts off; 429; 503      |
 * | GET /healthz          | 200 {status: "ok", node, uptime} (uptime in seconds)                 |
 * | GET /metrics          | Prometheus text, where `metrics` says (node.ts); 401 without its token |
 *
 * Identity routes, in order, each step before anything costlier:
 * built-in accounts on (`builtinAccounts`, else 404 `not_found`); the
 * address's request bucket; the body; the failure buckets of the address
 * and of the user name (attempts.ts; 429 `rate_limited` with Retry-After);
 * for an account, whether the name exists in any way (a password, a
 * device, as an operator-token user has; 409 before any hashing) and the
 * address's accounts per hour; a slot among `limits.hashesInFlight` (503
 * `unavailable`, Retry-After: 1); then scrypt on the node's CPU pool. A
 * login for an unknown user or a user without a password checks a dummy
 * hash, so it costs what a wrong password costs.
 *
 * Passwords: 8 to 1024 characters (scrypt's input is bounded so a huge
 * password cannot cost the node seconds). Accounts live in the user actor
 * `user:<name>`, like everything else about a user. Every error message
 * is written for clients; internal errors become a fixed 503.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Host } from '../../actors/host.js';
import { isError, type UserMsg } from '../../chat/messages.js';
import type { CpuPool } from '../../runtime/cpu-pool.js';
import type { NodeConfig } from '../config.js';
import type { Tokens } from '../auth/tokens.js';
import { hashPassword, verifyDummy, verifyPassword } from '../auth/passwords.js';
import { isDevice, isUser, USER_PATTERN, DEVICE_PATTERN } from '../../protocol/ids.js';
import type { GatewayMetrics } from '../gateway/metrics.js';
import { addressKey, Attempts, isRefusal, type Refusal } from './attempts.js';
import { clientAddress } from '../client-address.js';
import { HttpError, readJson, sendError, sendJson } from './respond.js';

export interface HttpDeps {
  host: Host;
  cfg: NodeConfig;
  tokens: Tokens;
  metrics: GatewayMetrics;
  /** The node's CPU pool: password hashing runs there, never on libuv's pool. */
  pool: CpuPool;
  startedAt: number;
}

/** What one handler serves: the public routes (with or without /metrics), or /metrics alone (the admin listener). */
export interface HandlerOptions {
  metrics: boolean;
  api: boolean;
}

interface Ctx extends HttpDeps {
  attempts: Attempts;
}

type Route = (req: IncomingMessage, res: ServerResponse, d: Ctx) => Promise<void>;

const CALL = { timeout: 10_000 };

export function httpHandler(d: HttpDeps, o: HandlerOptions = { metrics: true, api: true }): (req: IncomingMessage, res: ServerResponse) => void {
  const routes: Record<string, Record<string, Route>> = {};
  if (o.api) {
    routes['/v1/accounts'] = { POST: createAccount };
    routes['/v1/sessions'] = { POST: createSession };
    routes['/healthz'] = { GET: health };
  }
  if (o.metrics) routes['/metrics'] = { GET: metrics };
  // The buckets of this handler's identity routes; nothing else holds them.
  const ctx: Ctx = { ...d, attempts: new Attempts(d.cfg.limits) };
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const byMethod = routes[path];
    const route = byMethod?.[req.method ?? 'GET'];
    const done = (status: number): void => {
      d.metrics.httpRequests.inc({ route: byMethod ? path : 'other', status: String(status) });
    };
    if (byMethod === undefined) {
      sendError(res, 404, 'not_found', `no route ${path.slice(0, 200)}`);
      return done(404);
    }
    if (route === undefined) {
      res.setHeader('allow', Object.keys(byMethod).join(', '));
      sendError(res, 405, 'bad_request', `${String(req.method).slice(0, 20)} is not allowed on ${path}`);
      return done(405);
    }
    route(req, res, ctx).then(
      () => done(res.statusCode),
      (e) => {
        if (res.headersSent) res.destroy();
        else if (e instanceof HttpError) sendError(res, e.status, e.code, e.message, e.headers);
        else sendError(res, 503, 'unavailable', 'the node could not answer; try again');
        done(res.statusCode);
      },
    );
  };
}

function password(v: unknown): string {
  if (typeof v !== 'string' || v.length < 8 || v.length > 1024) throw new HttpError(400, 'bad_request', 'password must be a string of 8 to 1024 characters');
  return v;
}

function builtinOn(d: Ctx): void {
  if (!(d.cfg.builtinAccounts ?? d.cfg.operator === undefined)) throw new HttpError(404, 'not_found', 'built-in accounts are off on this node (builtinAccounts)');
}

function refused(r: Refusal): HttpError {
  return new HttpError(429, 'rate_limited', r.message, { 'retry-after': String(r.retryAfterS) });
}

function busy(): HttpError {
  return new HttpError(503, 'unavailable', 'too many password checks in progress (limits.hashesInFlight); retry shortly', { 'retry-after': '1' });
}

async function createAccount(req: IncomingMessage, res: ServerResponse, d: Ctx): Promise<void> {
  builtinOn(d);
  const addr = addressKey(clientAddress(req, d.cfg.trustedProxies));
  const r0 = d.attempts.request(addr);
  if (r0) throw refused(r0);
  const b = await readJson(req, d.cfg.limits.httpBodyBytes);
  if (!isUser(b.user)) throw new HttpError(400, 'bad_request', `user must match ${USER_PATTERN}`);
  const user = b.user;
  const pw = password(b.password);
  const ticket = d.attempts.reserve('account', addr, user);
  if (isRefusal(ticket)) throw refused(ticket);
  const taken = (): HttpError => new HttpError(409, 'conflict', `user ${user} is taken`);
  try {
    // A name that exists in any way (an account, a device, declared by the
    // operator) is answered before any hashing: a flood of sign-ups for
    // taken names costs one actor call each.
    const ref = d.host.ref<UserMsg>(`user:${user}`);
    const exists = await ref.call<boolean>({ t: 'exists' }, CALL);
    if (exists) {
      ticket.failed();
      throw taken();
    }
    const quota = d.attempts.account(addr);
    if (isRefusal(quota)) throw refused(quota);
    const release = d.attempts.hashSlot();
    if (release === null) {
      quota.undo();
      throw busy();
    }
    let hash: string;
    try {
      hash = await hashPassword(d.pool, pw);
    } catch (e) {
      quota.undo();
      throw e;
    } finally {
      release();
    }
    const r = await ref.call<{ created: boolean }>({ t: 'account_create', hash }, CALL);
    if (isError(r) || !r.created) {
      // Declared by the operator, or created by a concurrent request.
      quota.undo();
      ticket.failed();
      throw taken();
    }
    sendJson(res, 201, { user });
  } finally {
    // Anything but a taken name (a refusal, a timeout) is not the client's failure.
    ticket.succeeded();
  }
}

async function createSession(req: IncomingMessage, res: ServerResponse, d: Ctx): Promise<void> {
  builtinOn(d);
  const addr = addressKey(clientAddress(req, d.cfg.trustedProxies));
  const r0 = d.attempts.request(addr);
  if (r0) throw refused(r0);
  const b = await readJson(req, d.cfg.limits.httpBodyBytes);
  if (!isUser(b.user)) throw new HttpError(400, 'bad_request', `user must match ${USER_PATTERN}`);
  if (!isDevice(b.device)) throw new HttpError(400, 'bad_request', `device must match ${DEVICE_PATTERN}`);
  const user = b.user;
  const device = b.device;
  const wrong = (): HttpError => new HttpError(401, 'unauthorized', 'wrong user or password');
  const ticket = d.attempts.reserve('login', addr, user);
  if (isRefusal(ticket)) throw refused(ticket);
  try {
    if (typeof b.password !== 'string' || b.password.length > 1024) {
      ticket.failed();
      throw wrong();
    }
    const pw = b.password;
    const r = await d.host.ref<UserMsg>(`user:${user}`).call<{ hash: string | null }>({ t: 'account_get' }, CALL);
    const release = d.attempts.hashSlot();
    if (release === null) throw busy();
    let ok: boolean;
    try {
      // No account (or an operator-token user, who has no password): the
      // cost of a real check all the same, so timing tells nothing.
      ok = isError(r) || r.hash === null ? await verifyDummy(d.pool, pw) : await verifyPassword(d.pool, pw, r.hash);
    } finally {
      release();
    }
    if (!ok) {
      ticket.failed();
      throw wrong();
    }
    sendJson(res, 200, await d.tokens.sign(user, device));
  } finally {
    ticket.succeeded();
  }
}

async function health(_req: IncomingMessage, res: ServerResponse, d: Ctx): Promise<void> {
  sendJson(res, 200, { status: 'ok', node: d.cfg.node, uptime: Math.floor((Date.now() - d.startedAt) / 1000) });
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

async function metrics(req: IncomingMessage, res: ServerResponse, d: Ctx): Promise<void> {
  const token = d.cfg.metrics?.token;
  if (token !== undefined) {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    // Digests first: timingSafeEqual needs equal lengths, and the length must not leak either.
    if (m === null || !timingSafeEqual(digest(m[1]!), digest(token))) {
      throw new HttpError(401, 'unauthorized', 'GET /metrics needs Authorization: Bearer <metrics.token>', { 'www-authenticate': 'Bearer' });
    }
  }
  const text = await d.metrics.registry.metrics();
  res.writeHead(200, { 'content-type': d.metrics.registry.contentType });
  res.end(text);
}
