// The package's entry: the runtime, supervision, the node, and their types.
// The client is a separate entry (`parley/client`), so apps that only talk
// to a node do not load the server.
export * from './actors/index.js';
export * from './supervisor/index.js';
export * from './runtime/index.js';
export { CpuPool } from './runtime/cpu-pool.js';
export { createNode, type ParleyNode, type NodeOptions } from './server/node.js';
export { resolveConfig, defaultConfig, DEFAULT_LIMITS, type NodeConfig, type Limits, type ConfigInput } from './server/config.js';
export { startBot, type Bot, type BotOptions, type BotMessage } from './server/bot.js';
export type { MessageFilter } from './server/gateway/session.js';
export type { PushProvider, PushNotification } from './chat/push/provider.js';
export { signWebhook } from './chat/push/webhook.js';
