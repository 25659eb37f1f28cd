/**
 * Behaviours and the context an actor sees.
 *
 * A behaviour is `init`, `handle(message)` and optional `terminate`, `info`
 * and `passivate`. Guarantees:
 *
 * - One message at a time, in mailbox order. A handler runs to completion,
 *   awaited promises included, before the next message starts
 *   (non-reentrant). So while actor A awaits a call to B, A handles nothing
 *   else: if B (directly or through others) calls A back, both wait until a
 *   call times out. That is why every call has a timeout, and why
 *   `ctx.call(ctx.self, …)` fails at once with `calling_self`.
 * - System signals (trapped exits, monitor `down`s) are delivered to `info`
 *   before any queued user message. Unlike Erlang, a signal can therefore
 *   overtake messages the same actor sent before it died: an actor that
 *   must see a peer's last messages before its `down` should not treat
 *   `down` as "nothing more will come" (the user actor keeps a closed
 *   connection's late acks for this reason).
 * - The return value of `handle` (or what its promise resolves to) is the
 *   reply when the message came by `call`; it is ignored for a cast. A
 *   handler that must answer later takes the reply slot with
 *   `ctx.deferReply()` and keeps handling other messages meanwhile.
 * - A handler that throws or rejects crashes the actor: its caller (if the
 *   message was a call) gets `crashed`, links and monitors get the error.
 */
import type { ActorRef, CallOptions } from './ref.js';
import type { ExitReason, ExitSignalReason } from './exit-reason.js';

export interface Behaviour<M = any> {
  /** Runs before the first message. A throw here is a start failure. */
  init?(ctx: ActorContext<M>): void | Promise<void>;
  /** Handles one message; the result is the reply to a call. */
  handle(message: M, ctx: ActorContext<M>): unknown;
  /** Trapped exits and monitor notifications. */
  info?(signal: Signal, ctx: ActorContext<M>): void | Promise<void>;
  /** Runs when the actor stops gracefully (not when killed). */
  terminate?(reason: ExitReason, ctx: ActorContext<M>): void | Promise<void>;
  /** Virtual actors: the save hook, run before an idle actor is passivated (and at shutdown). */
  passivate?(ctx: ActorContext<M>): void | Promise<void>;
  /** Virtual actors: while this returns true the actor is not passivated, however long it is idle (e.g. it has sockets to serve). */
  keepAlive?(): boolean;
}

/** A monitor's identity, as returned by `ctx.monitor`. */
export type MonitorRef = string;
export type TimerRef = number;

export type Signal =
  | { type: 'exit'; from: ActorRef; reason: ExitReason }
  | { type: 'down'; monitor: MonitorRef; from: ActorRef; reason: ExitReason };

/** What to do when a bounded mailbox is full. Every dropped message is counted. */
export type OverflowPolicy = 'drop_newest' | 'drop_oldest' | 'exit';

export interface MailboxOptions {
  /** Most messages queued before `overflow` applies; default Infinity (unbounded, as Erlang). */
  maxMailbox?: number;
  /** Default `drop_newest`: the arriving message is dropped (a call gets `mailbox_full`). */
  overflow?: OverflowPolicy;
  /** Messages handled per turn before yielding to other actors; default 300. */
  throughput?: number;
}

export interface SpawnOptions extends MailboxOptions {
  /** Link the new actor to the spawning actor (OTP's spawn_link). */
  link?: boolean;
  /** Trap exits from the start (can also be changed with `ctx.trapExits`). */
  trapExits?: boolean;
  /** A label kept in the id for logs, e.g. `gateway` gives `gateway$1.1.7`. */
  name?: string;
}

/** A kind of virtual actor: ids `<kind>:<rest>` are activated from it. */
export interface KindSpec extends MailboxOptions {
  create(id: string): Behaviour;
  /** Idle milliseconds before passivation; default 60000. 0 disables passivation. */
  idleMs?: number;
}

export interface Reply {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export interface ActorContext<M = any> {
  readonly self: ActorRef<M>;
  readonly id: string;
  readonly node: string;
  /** The thread this actor runs on (0 is the main thread). */
  readonly thread: number;
  /** The actor that spawned this one with `link: true`, if any. */
  readonly parent: ActorRef | null;
  /** A ref to a virtual actor by id (activated by its first message). */
  ref<T = unknown>(id: string): ActorRef<T>;
  /** Starts an actor on this thread; resolves once its `init` has finished. */
  spawn<T>(behaviour: Behaviour<T>, options?: SpawnOptions): Promise<ActorRef<T>>;
  /** Call another actor; fails at once with `calling_self` for our own ref. */
  call<R = unknown>(to: ActorRef, msg: unknown, options?: CallOptions): Promise<R>;
  link(to: ActorRef): void;
  unlink(to: ActorRef): void;
  monitor(to: ActorRef): MonitorRef;
  demonitor(monitor: MonitorRef): void;
  /**
   * Resolves with `to`'s exit reason once it has exited (`noproc` if it did
   * not exist), or `timeout`. A monitor whose answer comes to this promise
   * instead of `info`: it works while the caller's own handler is awaiting,
   * which a `down` signal could not (it waits behind the running handler).
   */
  waitExit(to: ActorRef, timeoutMs?: number): Promise<ExitReason | 'timeout'>;
  trapExits(on: boolean): void;
  /** Sends an exit signal; `kill` cannot be trapped. */
  exit(to: ActorRef, reason: ExitSignalReason): void;
  /** Stops this actor after the current message, with `terminate(reason)`. */
  stop(reason?: ExitReason): void;
  sendAfter(ms: number, msg: unknown, to?: ActorRef): TimerRef;
  cancelTimer(timer: TimerRef): boolean;
  /** Takes the reply slot of the call being handled (null for a cast). */
  deferReply(): Reply | null;
}
