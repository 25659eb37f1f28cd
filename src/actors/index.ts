export { ActorRef, DEFAULT_CALL_TIMEOUT_MS, type CallOptions } from './ref.js';
export type { Behaviour, ActorContext, Signal, MonitorRef, TimerRef, SpawnOptions, KindSpec, MailboxOptions, OverflowPolicy, Reply } from './behaviour.js';
export { Host, type HostOptions, type HostStats } from './host.js';
export { Mailbox } from './mailbox.js';
export { ParleyError, CallError, ConfigError, type CallErrorCode } from './errors.js';
export { toExitReason, isAbnormal, formatReason, type ExitReason, type AtomReason, type ErrorReason, type ExitSignalReason } from './exit-reason.js';
export { DeadLetters, type DeadLetter, type DeadLetterReason } from './dead-letters.js';
export { partitionOf, fnv1a32, DEFAULT_PARTITIONS } from './partition.js';
export type { Transport } from './transport.js';
