/**
 * Helpers for the identity abuse tests (identity.test.ts,
 * login-limits.test.ts): a POST that keeps the status, the JSON body and
 * `Retry-After`, and the check of a 429 that names its limit. Every request
 * is bounded (15 s).
 */
import assert from 'node:assert/strict';
import type { Endpoint } from './helpers.js';

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  retryAfter: string | null;
}

export async function post(t: Endpoint, path: string, body: unknown): Promise<Answer> {
  const r = await fetch(`${t.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown>, retryAfter: r.headers.get('retry-after') };
}

export function errorCode(r: { body: Record<string, unknown> }): unknown {
  return (r.body.error as { code?: unknown } | undefined)?.code;
}

/** 429 `rate_limited`, the message naming `limits.<limit>`, Retry-After in whole seconds ≥ 1. */
export function isRateLimited(r: Answer, limit: string): void {
  assert.equal(r.status, 429, JSON.stringify(r.body));
  assert.equal(errorCode(r), 'rate_limited');
  assert.match(String((r.body.error as { message: string }).message), new RegExp(`limits\\.${limit}\\b`));
  assert.match(r.retryAfter ?? '', /^[1-9]\d*$/, 'Retry-After in whole seconds');
}
