/**
 * The chat thread module: on each scheduler thread, opens that thread's
 * store, declares the chat tables, and registers the `user` and `conv`
 * actor kinds. At start it wakes every conversation of its partitions that
 * still owes deliveries (the `fanout` markers), so a message stored just
 * before a crash is delivered after it.
 *
 * Each thread keeps its partitions in its own LevelDB at
 * `<data>/store/t<thread>`: LevelDB allows one opener per directory, and a
 * partition is owned by one thread at a time. The node records the layout
 * (threads, partitions) in `<data>/layout.json` and refuses to start with
 * another one, since moving partitions between stores is not built yet.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { ThreadEnv, ThreadModule } from '../runtime/thread-module.js';
import { openStore, type LogMode } from '../store/index.js';
import type { Limits } from '../server/config.js';
import { declareTables } from './tables.js';
import { OffsetClock, type ChatEnv } from './env.js';
import { UserActor } from './user-actor.js';
import { ConvActor } from './conv-actor.js';
import type { ConvMsg } from './messages.js';
import { AdminActor } from './admin-actor.js';
import { PushSender } from './push/push-sender.js';
import { WebhookProvider } from './push/webhook.js';
import type { PushNotification } from './push/provider.js';

export interface ChatModuleConfig {
  data: string;
  durability: 'fsync' | 'os';
  /** The stores' partition log mode (NodeConfig `partitionLog`). */
  partitionLog: LogMode;
  limits: Limits;
  push?: { webhook?: { url: string; secret: string; timeoutMs?: number; maxAttempts?: number } };
  faults: boolean;
  /** Idle time before user and conversation actors are passivated; default 60 000 ms. */
  idleMs?: number;
}

export default async function setup(env: ThreadEnv): Promise<ThreadModule> {
  const cfg = env.config as ChatModuleConfig;
  const dir = join(cfg.data, 'store', `t${env.thread}`);
  mkdirSync(dir, { recursive: true });
  const clock = new OffsetClock();
  const store = await openStore({ location: dir, partitions: env.partitions, durability: cfg.durability, log: cfg.partitionLog, clock: () => clock.now() });
  const hook = cfg.push?.webhook;
  const push = hook
    ? new PushSender(store, store.queue<PushNotification>('push', { ttlMs: cfg.limits.retentionMs }), new WebhookProvider(hook.url, hook.secret, hook.timeoutMs), env.partitions, hook.maxAttempts)
    : null;
  const chat: ChatEnv = { store, tables: declareTables(store, cfg.limits.retentionMs), limits: cfg.limits, clock, push };
  const idleMs = cfg.idleMs ?? 60_000;
  setImmediate(() => {
    void wakePending(env, chat).catch(() => undefined);
    void push?.start(env.owned).catch(() => undefined);
  });
  return {
    kinds: {
      user: { create: (id) => new UserActor(id, chat), idleMs },
      conv: { create: (id) => new ConvActor(id, chat), idleMs },
      ...(cfg.faults ? { admin: { create: () => new AdminActor(chat, clock), idleMs: 0 } } : {}),
    },
    stop: async () => {
      push?.stop();
      await store.close();
    },
  };
}

/** Conversations that had not delivered everything when the thread last stopped. */
async function wakePending(env: ThreadEnv, chat: ChatEnv): Promise<void> {
  for (const p of env.owned) {
    for await (const [[conv]] of chat.tables.fanout.range({ partition: p })) env.host.ref<ConvMsg>(conv).send({ t: 'resume' });
  }
}
