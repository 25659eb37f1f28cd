/**
 * The HTTP half of the client: accounts and sessions (docs/protocol.md, "HTTP").
 *
 * - `createAccount` → `POST /v1/accounts {user, password}` → `{user}` (201).
 * - `login` → `POST /v1/sessions {user, password, device}` → `{token, expiresAt}`
 *   (200); `expiresAt` in ms since the epoch.
 *
 * `baseUrl` is the node's HTTP root (`http://127.0.0.1:8080`); a path in it is
 * kept, so a node behind a prefix (`https://host/parley`) works too. An answer
 * that is not 2xx rejects with a `ParleyClientError` carrying the server's
 * `{error: {code, message}}` and the HTTP `status`; without that body, code
 * `http_error`. A request that gets no answer rejects with `connect_failed`,
 * and after `timeoutMs` (10 000 by default) with `timeout`.
 */
import { ParleyClientError, type ParleyClientErrorCode } from './errors.js';
import { isErrorCode } from '../protocol/errors.js';

export interface HttpOptions {
  /** Default 10 000 ms. */
  timeoutMs?: number;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

export interface Session {
  token: string;
  expiresAt: number;
}

export async function createAccount(baseUrl: string, user: string, password: string, options: HttpOptions = {}): Promise<{ user: string }> {
  return (await postJson(baseUrl, 'v1/accounts', { user, password }, options)) as { user: string };
}

export async function login(baseUrl: string, user: string, password: string, device: string, options: HttpOptions = {}): Promise<Session> {
  return (await postJson(baseUrl, 'v1/sessions', { user, password, device }, options)) as Session;
}

/** `path` is relative (no leading slash), so a path prefix in `baseUrl` stays. */
export function endpoint(baseUrl: string, path: string): URL {
  return new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
}

async function postJson(baseUrl: string, path: string, body: unknown, options: HttpOptions): Promise<unknown> {
  const url = endpoint(baseUrl, path);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const doFetch = options.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (cause) {
    const timedOut = cause instanceof Error && cause.name === 'TimeoutError';
    throw new ParleyClientError(
      timedOut ? 'timeout' : 'connect_failed',
      timedOut ? `POST ${url.href}: no answer within ${timeoutMs} ms` : `POST ${url.href}: ${String(cause)}`,
      { cause },
    );
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (res.ok) {
    if (parsed === undefined) throw new ParleyClientError('http_error', `POST ${url.href}: ${res.status} without a JSON body`, { status: res.status });
    return parsed;
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (error !== undefined && typeof error.code === 'string') {
    const code: ParleyClientErrorCode = isErrorCode(error.code) ? error.code : 'http_error';
    const message = typeof error.message === 'string' ? error.message : `${error.code}`;
    throw new ParleyClientError(code, message, { status: res.status });
  }
  throw new ParleyClientError('http_error', `POST ${url.href}: ${res.status} ${res.statusText}`, { status: res.status });
}
