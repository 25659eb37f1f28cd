/**
 * Push: waking a user who has no device online.
 *
 * A PushProvider is told about each message appended to the inbox of a user
 * with no device connected. Notifications carry no body (it may be
 * end-to-end encrypted, and a push service is a third party): who, which
 * conversation, from whom, and the inbox number. A provider that throws is
 * retried (see push-sender.ts); it should be idempotent on `(user, inbox)`.
 */
export interface PushNotification {
  user: string;
  inbox: number;
  conv: string;
  seq: number;
  from: string;
  ts: number;
}

export interface PushProvider {
  notify(n: PushNotification): Promise<void>;
}

export interface PushConfig {
  webhook?: { url: string; secret: string; timeoutMs?: number; maxAttempts?: number };
}
