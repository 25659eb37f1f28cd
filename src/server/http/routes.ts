/**
 * The HTTP API (PROTOCOL.md, "HTTP"), media endpoints excepted:
 *
 * | route                 | answer                                                      |
 * |-----------------------|-------------------------------------------------------------|
 * | POST /v1/accounts     | 201 {user}; 409 taken; 400 bad input                         |
 * | POST /v1/sessions     | 200 {token, expiresAt}; 401                                  |
 * | GET /healthz          | 200 {status: "ok", node, uptime} (uptime in seconds)         |
 * | GET /metrics          | Prometheus text                                              |
 *
 * Passwords: 8 to 1024 characters (scrypt's input is bounded so a huge
 * password cannot cost the node seconds). Accounts live in the user actor
 * `user:<name>`, like everything else about a user.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Host } from '../../actors/host.js';
import { isError, type UserMsg } from '../../chat/messages.js';
import type { NodeConfig } from '../config.js';
import type { Tokens } from '../auth/tokens.js';
import { hashPassword, verifyPassword } from '../auth/passwords.js';
import { isDevice, isUser, USER_PATTERN, DEVICE_PATTERN } from '../protocol/ids.js';
import type { GatewayMetrics } from '../gateway/metrics.js';
import { HttpError, readJson, sendError, sendJson } from './respond.js';

export interface HttpDeps {
  host: Host;
  cfg: NodeConfig;
  tokens: Tokens;
  metrics: GatewayMetrics;
  startedAt: number;
}

type Route = (req: IncomingMessage, res: ServerResponse, d: HttpDeps) => Promise<void>;

const routes: Record<string, Record<string, Route>> = {
  '/v1/accounts': { POST: createAccount },
  '/v1/sessions': { POST: createSession },
  '/healthz': { GET: health },
  '/metrics': { GET: metrics },
};

export function httpHandler(d: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const byMethod = routes[path];
    const route = byMethod?.[req.method ?? 'GET'];
    const done = (status: number): void => {
      d.metrics.httpRequests.inc({ route: byMethod ? path : 'other', status: String(status) });
    };
    if (byMethod === undefined) {
      sendError(res, 404, 'not_found', `no route ${path}`);
      return done(404);
    }
    if (route === undefined) {
      res.setHeader('allow', Object.keys(byMethod).join(', '));
      sendError(res, 405, 'bad_request', `${req.method} is not allowed on ${path}`);
      return done(405);
    }
    route(req, res, d).then(
      () => done(res.statusCode),
      (e) => {
        if (e instanceof HttpError) sendError(res, e.status, e.code, e.message);
        else if (!res.headersSent) sendError(res, 503, 'unavailable', 'the node could not answer; try again');
        done(res.statusCode);
      },
    );
  };
}

function password(v: unknown): string {
  if (typeof v !== 'string' || v.length < 8 || v.length > 1024) throw new HttpError(400, 'bad_request', 'password must be a string of 8 to 1024 characters');
  return v;
}

async function createAccount(req: IncomingMessage, res: ServerResponse, d: HttpDeps): Promise<void> {
  const b = await readJson(req, d.cfg.limits.httpBodyBytes);
  if (!isUser(b.user)) throw new HttpError(400, 'bad_request', `user must match ${USER_PATTERN}`);
  const hash = await hashPassword(password(b.password));
  const r = await d.host.ref<UserMsg>(`user:${b.user}`).call<{ created: boolean }>({ t: 'account_create', hash }, { timeout: 10_000 });
  if (!r.created) throw new HttpError(409, 'conflict', `user ${b.user} is taken`);
  sendJson(res, 201, { user: b.user });
}

async function createSession(req: IncomingMessage, res: ServerResponse, d: HttpDeps): Promise<void> {
  const b = await readJson(req, d.cfg.limits.httpBodyBytes);
  if (!isUser(b.user)) throw new HttpError(400, 'bad_request', `user must match ${USER_PATTERN}`);
  if (!isDevice(b.device)) throw new HttpError(400, 'bad_request', `device must match ${DEVICE_PATTERN}`);
  if (typeof b.password !== 'string' || b.password.length > 1024) throw new HttpError(401, 'unauthorized', 'wrong user or password');
  const r = await d.host.ref<UserMsg>(`user:${b.user}`).call<{ hash: string | null }>({ t: 'account_get' }, { timeout: 10_000 });
  if (isError(r) || r.hash === null || !(await verifyPassword(b.password, r.hash))) {
    throw new HttpError(401, 'unauthorized', 'wrong user or password');
  }
  sendJson(res, 200, await d.tokens.sign(b.user, b.device));
}

async function health(_req: IncomingMessage, res: ServerResponse, d: HttpDeps): Promise<void> {
  sendJson(res, 200, { status: 'ok', node: d.cfg.node, uptime: Math.floor((Date.now() - d.startedAt) / 1000) });
}

async function metrics(_req: IncomingMessage, res: ServerResponse, d: HttpDeps): Promise<void> {
  const text = await d.metrics.registry.metrics();
  res.writeHead(200, { 'content-type': d.metrics.registry.contentType });
  res.end(text);
}
