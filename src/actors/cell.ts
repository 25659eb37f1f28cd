/**
 * Cell: one actor's state inside its Host, and the context it sees.
 *
 * A cell is the mailbox, the behaviour, and the bookkeeping for links,
 * monitors and timers. Everything optional starts as `null` and is made on
 * first use, so an idle actor with no links costs one object, its behaviour
 * and its map entry (see the memory benchmark). The cell implements
 * {@link ActorContext} itself rather than allocating a context object.
 */
import type { ActorContext, Behaviour, MonitorRef, Reply, SpawnOptions, TimerRef, OverflowPolicy, Signal } from './behaviour.js';
import type { ActorRef, CallOptions } from './ref.js';
import { checkTimeout } from './ref.js';
import { S_EXIT } from './transport.js';
import type { ExitReason, ExitSignalReason } from './exit-reason.js';
import type { Mailbox } from './mailbox.js';
import type { SmallMap } from './small-map.js';
import type { Host } from './host.js';
import type { CallMeta } from './calls.js';
import { errorReply } from './calls.js';

export const ST_NEW = 0; // waiting for init
export const ST_IDLE = 1; // nothing to do
export const ST_QUEUED = 2; // in the run queue
export const ST_RUNNING = 3; // its handler is on the stack
export const ST_AWAITING = 4; // its handler returned a promise not yet settled
export const ST_STOPPING = 5; // passivate/terminate running; messages still queue
export const ST_DEAD = 6;

export class Cell implements ActorContext {
  state = ST_NEW;
  mbox: Mailbox | null = null;
  sys: Signal[] | null = null;
  links: Map<string, ActorRef> | null = null;
  /** Monitors this cell holds, and monitors on it (most cells have one of each at most: SmallMap). */
  monitors: SmallMap<MonitorRef, ActorRef> | null = null;
  watchers: SmallMap<MonitorRef, ActorRef> | null = null;
  timers: Map<number, ReturnType<typeof setTimeout>> | null = null;
  trap = false;
  lastActive = 0;
  /** The call being handled, until replied or deferred. */
  meta: CallMeta | undefined = undefined;
  deferred: Set<CallMeta> | null = null;
  pendingExit: ExitReason | null = null;
  starter: { resolve(r: ActorRef): void; reject(e: unknown): void } | null = null;
  /** The actor that spawned this one with `link: true` (OTP's parent). */
  parentRef: ActorRef | null = null;
  selfRef: ActorRef | null = null;

  constructor(
    readonly host: Host,
    readonly id: string,
    readonly partition: number,
    readonly incarnation: number,
    readonly virtual: boolean,
    readonly beh: Behaviour,
    readonly maxMailbox: number,
    readonly overflow: OverflowPolicy,
    readonly throughput: number,
    readonly idleMs: number,
  ) {}

  // ---- ActorContext -------------------------------------------------------

  get self(): ActorRef {
    return (this.selfRef ??= this.host.refOfCell(this));
  }

  get node(): string {
    return this.host.node;
  }

  get thread(): number {
    return this.host.thread;
  }

  get parent(): ActorRef | null {
    return this.parentRef;
  }

  ref<T = unknown>(id: string): ActorRef<T> {
    return this.host.ref<T>(id);
  }

  spawn<T>(behaviour: Behaviour<T>, options?: SpawnOptions): Promise<ActorRef<T>> {
    return this.host.spawn(behaviour, options, this);
  }

  call<R = unknown>(to: ActorRef, msg: unknown, options?: CallOptions): Promise<R> {
    let timeout: number;
    try {
      timeout = checkTimeout(options?.timeout);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.host.call<R>(to, msg, timeout, this);
  }

  link(to: ActorRef): void {
    this.host.signals.link(this, to);
  }

  unlink(to: ActorRef): void {
    this.host.signals.unlink(this, to);
  }

  monitor(to: ActorRef): MonitorRef {
    return this.host.signals.monitor(this, to);
  }

  demonitor(monitor: MonitorRef): void {
    this.host.signals.demonitor(this, monitor);
  }

  waitExit(to: ActorRef, timeoutMs?: number): Promise<ExitReason | 'timeout'> {
    return this.host.signals.waitExit(this, to, timeoutMs);
  }

  trapExits(on: boolean): void {
    this.trap = on;
  }

  exit(to: ActorRef, reason: ExitSignalReason): void {
    this.host.signals.send(to, S_EXIT, this.self, reason, false);
  }

  stop(reason: ExitReason = 'normal'): void {
    this.host.requestExit(this, reason);
  }

  sendAfter(ms: number, msg: unknown, to?: ActorRef): TimerRef {
    return this.host.sendAfter(this, ms, msg, to ?? this.self);
  }

  cancelTimer(timer: TimerRef): boolean {
    const h = this.timers?.get(timer);
    if (h === undefined) return false;
    clearTimeout(h);
    this.timers!.delete(timer);
    return true;
  }

  deferReply(): Reply | null {
    const meta = this.meta;
    if (meta === undefined) return null;
    this.meta = undefined;
    (this.deferred ??= new Set()).add(meta);
    const host = this.host;
    const done = (ok: boolean, v: unknown): void => {
      if (this.deferred?.delete(meta) !== true) return; // already answered, or the actor died
      host.reply(meta, ok, ok ? v : errorReply(v));
    };
    return { resolve: (v) => done(true, v), reject: (e) => done(false, e) };
  }
}
