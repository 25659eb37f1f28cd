/**
 * WebhookProvider: POSTs each notification as JSON to the operator's URL.
 *
 * Headers: `content-type: application/json`, `x-parley-timestamp` (ms) and
 * `x-parley-signature: sha256=<hex>`, the HMAC-SHA256 with the shared secret
 * of `<timestamp>.<body>` — the receiver recomputes it and rejects old
 * timestamps, so a captured request cannot be replayed later. A non-2xx
 * answer or no answer within `timeoutMs` (default 5000) is a failure, retried.
 */
import { createHmac } from 'node:crypto';
import type { PushNotification, PushProvider } from './provider.js';

export function signWebhook(secret: string, timestamp: number, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export class WebhookProvider implements PushProvider {
  constructor(
    private readonly url: string,
    private readonly secret: string,
    private readonly timeoutMs = 5000,
  ) {}

  async notify(n: PushNotification): Promise<void> {
    const body = JSON.stringify(n);
    const ts = Date.now();
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-parley-timestamp': String(ts), 'x-parley-signature': signWebhook(this.secret, ts, body) },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status < 200 || res.status > 299) throw new Error(`push webhook answered ${res.status}`);
  }
}
