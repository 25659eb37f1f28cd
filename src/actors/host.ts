/**
 * Host: the actors of one thread, and the scheduler that runs them.
 *
 * Every thread of a node (the main thread is thread 0, scheduler workers are
 * 1..N) has one Host. It owns the cells placed on that thread, a run queue,
 * the reply slots of calls made from it, and the dead-letter counts.
 *
 * Guarantees
 * - Per-actor FIFO and per-pair FIFO: two messages from one sender to one
 *   receiver are handled in the order sent, on one thread (direct enqueue)
 *   and across threads (one ordered outbox per destination, see transport.ts).
 * - Non-reentrant handlers (behaviour.ts); system signals before messages.
 * - Fairness: an actor handles at most `throughput` messages (default 300)
 *   per turn, then goes to the back of the run queue; the host yields to the
 *   event loop after `sliceMs` (default 4 ms) so ports, sockets and timers
 *   are served even while one actor is flooded.
 * - Virtual actors (`<kind>:<rest>` ids) are activated by their first message
 *   and passivated after `idleMs` idle (default 60 000, checked every
 *   `sweepMs`, default 1000): `passivate` (the save hook), then `terminate`.
 *   Messages that arrive meanwhile are handed to the next activation, in
 *   order: never dropped. A crash also hands the rest of the mailbox to a
 *   fresh activation: only the message that crashed is lost, so one poison
 *   message cannot block an id for ever.
 * - A reply reaches only the call that asked for it: a late reply (after its
 *   timeout) or one addressed to an earlier generation of this thread is
 *   dropped and counted (`lateReplies`). Signals carry the incarnation they
 *   target and never reach a later one.
 *
 * Non-guarantees
 * - Messages in flight to a thread that dies are lost (Erlang's semantics for
 *   a lost node); links and monitors across that thread fire `noconnection`,
 *   and pending calls to it fail with `noconnection`.
 * - Mailboxes are unbounded unless `maxMailbox` is set.
 */
import { ActorRef, MAX_TIMEOUT_MS, type RefHost } from './ref.js';
import type { Behaviour, KindSpec, MonitorRef, OverflowPolicy, Signal, SpawnOptions, TimerRef } from './behaviour.js';
import { Cell, ST_AWAITING, ST_DEAD, ST_IDLE, ST_NEW, ST_QUEUED, ST_RUNNING, ST_STOPPING } from './cell.js';
import { Mailbox } from './mailbox.js';
import { CallError, ConfigError, type CallErrorCode } from './errors.js';
import { formatReason, toExitReason, type ExitReason, type ExitSignalReason } from './exit-reason.js';
import { DeadLetters, type DeadLetterReason } from './dead-letters.js';
import { DEFAULT_PARTITIONS, partitionOf } from './partition.js';
import {
  S_CRASH, S_DEMONITOR, S_DOWN, S_EXIT, S_LINK, S_MONITOR, S_UNLINK,
  W_CALL, W_CAST, W_REPLY, W_SIGNAL, type Transport,
} from './transport.js';

/** The reply slot of one call: where the answer goes. */
export interface CallMeta {
  t: number; // caller's thread
  g: number; // caller thread's generation
  r: number; // request id in that thread
  c: string | null; // caller actor id, if an actor called
  done: boolean;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: ReturnType<typeof setTimeout>;
  thread: number;
  to: string;
}

/** Wire form of a failed call. */
interface ErrorReply {
  code: CallErrorCode;
  message: string;
  reason?: unknown;
}

export interface HostOptions {
  node: string;
  /** 0 is the main thread. */
  thread?: number;
  /** Bumped each time this thread is restarted. */
  generation?: number;
  partitions?: number;
  /** partition → owning thread; default: everything on this thread. */
  table?: ArrayLike<number>;
  kinds?: Record<string, KindSpec>;
  transport?: Transport | null;
  /** Default throughput for spawned actors; 300. */
  throughput?: number;
  /** Longest run of the scheduler before yielding to the event loop, ms; 4. */
  sliceMs?: number;
  /** How often idle virtual actors are looked for, ms; 1000. */
  sweepMs?: number;
}

export interface HostStats {
  thread: number;
  generation: number;
  actors: number;
  processed: number;
  activations: number;
  passivations: number;
  crashes: number;
  lateReplies: number;
  pendingCalls: number;
  mailboxDropped: number;
  deadLetters: Record<DeadLetterReason, number>;
}

const DEFAULT_IDLE_MS = 60_000;
const DEFAULT_THROUGHPUT = 300;

/** The host whose ActorRef extension is decoding right now (see transport/codec.ts). */
let decodingHost: Host | null = null;
export function withDecodingHost<T>(host: Host, fn: () => T): T {
  const prev = decodingHost;
  decodingHost = host;
  try {
    return fn();
  } finally {
    decodingHost = prev;
  }
}
export function currentDecodingHost(): Host | null {
  return decodingHost;
}

export class Host implements RefHost {
  readonly node: string;
  readonly thread: number;
  readonly generation: number;
  readonly partitions: number;
  readonly deadLetters = new DeadLetters();
  /** The cell whose handler is on the stack right now (for `calling_self` on ref.call). */
  current: Cell | null = null;

  private table: Int32Array;
  private transport: Transport | null;
  private readonly kinds = new Map<string, KindSpec>();
  private readonly cells = new Map<string, Cell>();
  private runQ: Cell[] = [];
  private runHead = 0;
  private scheduled = false;
  private draining = false;
  private readonly sliceMs: number;
  private readonly defaultThroughput: number;
  private now = Date.now();
  private readonly pending = new Map<number, Pending>();
  private reqSeq = 0;
  private spawnSeq = 0;
  private monSeq = 0;
  private timerSeq = 0;
  private incSeq = 0;
  private readonly incBase: number;
  private readonly remoteWatch = new Map<number, Set<Cell>>();
  /** Monitors whose `down` resolves a promise (waitExit) instead of reaching `info`. */
  private readonly exitWaiters = new Map<MonitorRef, (r: ExitReason) => void>();
  private sweeper: ReturnType<typeof setInterval> | null = null;
  private readonly crashListeners: Array<(id: string, reason: ExitReason) => void> = [];
  private stopping = false;
  private readonly stats = { processed: 0, activations: 0, passivations: 0, crashes: 0, lateReplies: 0, mailboxDropped: 0 };

  constructor(o: HostOptions) {
    this.node = o.node;
    this.thread = o.thread ?? 0;
    this.generation = o.generation ?? 0;
    this.partitions = o.partitions ?? DEFAULT_PARTITIONS;
    if (!Number.isInteger(this.partitions) || this.partitions < 1) {
      throw new ConfigError('invalid_partitions', `partitions must be an integer >= 1, got ${o.partitions}`);
    }
    this.table = new Int32Array(this.partitions).fill(this.thread);
    if (o.table) this.setTable(o.table);
    this.transport = o.transport ?? null;
    this.sliceMs = o.sliceMs ?? 4;
    this.defaultThroughput = o.throughput ?? DEFAULT_THROUGHPUT;
    // Incarnations are unique per activation: a random base per thread life
    // plus a counter, so a restarted thread never repeats an earlier one.
    this.incBase = Math.floor(Math.random() * 2 ** 31) * 2 ** 21;
    for (const [k, spec] of Object.entries(o.kinds ?? {})) this.registerKind(k, spec);
    const sweepMs = o.sweepMs ?? 1000;
    if (sweepMs > 0) {
      this.sweeper = setInterval(() => this.sweep(), sweepMs);
      this.sweeper.unref();
    }
  }

  // ---- configuration --------------------------------------------------------

  setTransport(t: Transport | null): void {
    this.transport = t;
  }

  setTable(table: ArrayLike<number>): void {
    if (table.length !== this.partitions) {
      throw new ConfigError('invalid_table', `partition table has ${table.length} entries, expected ${this.partitions}`);
    }
    this.table = Int32Array.from(table);
  }

  /** Registers a kind of virtual actor: ids `<kind>:...` are activated from `spec`. */
  registerKind(kind: string, spec: KindSpec): void {
    if (!/^[a-z][a-z0-9_]*$/.test(kind)) throw new ConfigError('invalid_kind', `kind must match ^[a-z][a-z0-9_]*$, got ${JSON.stringify(kind)}`);
    if (typeof spec?.create !== 'function') throw new ConfigError('invalid_kind', `kind ${kind} needs a create(id) function`);
    this.kinds.set(kind, spec);
  }

  onCrash(fn: (id: string, reason: ExitReason) => void): void {
    this.crashListeners.push(fn);
  }

  // ---- refs -----------------------------------------------------------------

  /** A ref to the virtual actor `id`. */
  ref<T = unknown>(id: string): ActorRef<T> {
    if (typeof id !== 'string' || id.length === 0) throw new ConfigError('invalid_id', 'an actor id is a non-empty string');
    return new ActorRef<T>(this, this.node, id, partitionOf(id, this.partitions), -1, 0);
  }

  refOfCell(cell: Cell): ActorRef {
    const r = new ActorRef(this, this.node, cell.id, cell.partition, cell.virtual ? -1 : this.thread, cell.incarnation);
    r._cell = cell;
    return r;
  }

  /** Rebuilds a ref that crossed a thread (used by the codec). */
  decodeRef(node: string, id: string, partition: number, thread: number, incarnation: number): ActorRef {
    return new ActorRef(this, node, id, partition, thread, incarnation);
  }

  /** The thread that hosts `ref` now. */
  route(ref: ActorRef): number {
    return ref.partition >= 0 ? this.table[ref.partition]! : ref.thread;
  }

  ownerOf(partition: number): number {
    return this.table[partition]!;
  }

  // ---- spawning ---------------------------------------------------------------

  spawn<T>(beh: Behaviour<T>, opts: SpawnOptions = {}, parent?: Cell): Promise<ActorRef<T>> {
    if (this.stopping) return Promise.reject(new CallError('shutdown', 'cannot spawn: the runtime is shutting down'));
    if (typeof beh?.handle !== 'function') return Promise.reject(new ConfigError('invalid_behaviour', 'a behaviour needs a handle(message, ctx) method'));
    const name = opts.name ?? 'pid';
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(name)) return Promise.reject(new ConfigError('invalid_name', `spawn name must match ^[A-Za-z0-9_.:-]{1,64}$, got ${JSON.stringify(name)}`));
    const id = `${name}$${this.thread}.${this.generation}.${++this.spawnSeq}`;
    const cell = this.newCell(id, -1, false, beh, opts, 0);
    if (opts.trapExits) cell.trap = true;
    this.cells.set(id, cell);
    if (parent !== undefined && opts.link) {
      this.addLink(cell, parent.self);
      this.addLink(parent, cell.self);
      cell.parentRef = parent.self;
    }
    return new Promise<ActorRef<T>>((resolve, reject) => {
      cell.starter = { resolve: resolve as (r: ActorRef) => void, reject };
      this.schedule(cell);
    });
  }

  private newCell(id: string, partition: number, virtual: boolean, beh: Behaviour, o: SpawnOptions | KindSpec, idleMs: number): Cell {
    const max = o.maxMailbox ?? Infinity;
    if (!(max >= 1)) throw new ConfigError('invalid_max_mailbox', `maxMailbox must be >= 1, got ${o.maxMailbox}`);
    const overflow: OverflowPolicy = o.overflow ?? 'drop_newest';
    if (overflow !== 'drop_newest' && overflow !== 'drop_oldest' && overflow !== 'exit') {
      throw new ConfigError('invalid_overflow', `overflow must be drop_newest, drop_oldest or exit, got ${String(overflow)}`);
    }
    const tp = o.throughput ?? this.defaultThroughput;
    if (!Number.isInteger(tp) || tp < 1) throw new ConfigError('invalid_throughput', `throughput must be an integer >= 1, got ${tp}`);
    const cell = new Cell(this, id, partition, this.incBase + ++this.incSeq, virtual, beh, max, overflow, tp, idleMs);
    cell.lastActive = this.now;
    return cell;
  }

  private activate(id: string, partition: number): Cell | null {
    if (this.stopping) return null;
    const colon = id.indexOf(':');
    const spec = colon > 0 ? this.kinds.get(id.slice(0, colon)) : undefined;
    if (spec === undefined) return null;
    let beh: Behaviour;
    try {
      beh = spec.create(id);
    } catch (e) {
      this.notifyCrash(id, toExitReason(e));
      return null;
    }
    const cell = this.newCell(id, partition, true, beh, spec, spec.idleMs ?? DEFAULT_IDLE_MS);
    this.cells.set(id, cell);
    this.stats.activations++;
    this.schedule(cell);
    return cell;
  }

  // ---- sending ----------------------------------------------------------------

  cast(to: ActorRef, msg: unknown): void {
    const c = to._cell as Cell | null;
    if (c !== null && c.state !== ST_DEAD && c.host === this) {
      this.enqueue(c, undefined, msg);
      return;
    }
    const t = this.route(to);
    if (t === this.thread) {
      const cell = this.lookup(to.id, to.partition);
      if (cell === null) {
        this.deadLetters.record(to.id, 'noproc');
        return;
      }
      to._cell = cell;
      this.enqueue(cell, undefined, msg);
      return;
    }
    const ob = this.transport?.outbox(t) ?? null;
    if (ob === null) this.deadLetters.record(to.id, 'no_route');
    else ob.push(W_CAST, to.id, to.partition, to.thread, to.incarnation, msg);
  }

  call<R>(to: ActorRef, msg: unknown, timeoutMs: number, caller: Cell | null = this.current): Promise<R> {
    if (this.stopping) return Promise.reject(new CallError('shutdown', `call to ${to.id}: the runtime is shutting down`));
    const t = this.route(to);
    if (caller !== null && caller.id === to.id && t === this.thread) {
      return Promise.reject(new CallError('calling_self', `${to.id} called itself; it would wait for its own reply until the timeout`));
    }
    const r = ++this.reqSeq;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(r)) reject(new CallError('timeout', `call to ${to.id} had no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(r, { resolve: resolve as (v: unknown) => void, reject, timer, thread: t, to: to.id });
      const callerId = caller?.id ?? null;
      if (t === this.thread) {
        const meta: CallMeta = { t: this.thread, g: this.generation, r, c: callerId, done: false };
        const cell = this.lookup(to.id, to.partition);
        if (cell === null) {
          this.deadLetters.record(to.id, 'noproc');
          this.reply(meta, false, { code: 'noproc', message: `no actor ${to.id}` });
        } else {
          this.enqueue(cell, meta, msg);
        }
        return;
      }
      const ob = this.transport?.outbox(t) ?? null;
      if (ob === null) {
        this.deadLetters.record(to.id, 'no_route');
        this.settle(r, false, { code: 'noproc', message: `no thread ${t} for ${to.id}` });
      } else {
        ob.push(W_CALL, to.id, to.partition, to.thread, to.incarnation, msg, this.thread, this.generation, r, callerId);
      }
    });
  }

  /** Finds the cell for an id on this thread, activating a virtual actor if needed. */
  private lookup(id: string, partition: number): Cell | null {
    const cell = this.cells.get(id);
    if (cell !== undefined) return cell;
    return partition >= 0 ? this.activate(id, partition) : null;
  }

  private enqueue(cell: Cell, meta: CallMeta | undefined, msg: unknown): void {
    let mb = cell.mbox;
    if (mb === null) mb = cell.mbox = new Mailbox();
    if (mb.size >= cell.maxMailbox && !this.overflow(cell, mb, meta)) return;
    mb.push(meta, msg);
    cell.lastActive = this.now;
    if (cell.state === ST_IDLE) this.schedule(cell);
  }

  /** Applies the overflow policy; returns whether the new message may be queued. */
  private overflow(cell: Cell, mb: Mailbox, meta: CallMeta | undefined): boolean {
    this.stats.mailboxDropped++;
    this.deadLetters.record(cell.id, 'mailbox_full');
    const full: ErrorReply = { code: 'mailbox_full', message: `mailbox of ${cell.id} is full (${cell.maxMailbox})` };
    if (cell.overflow === 'drop_oldest') {
      const oldMeta = mb.peekMeta() as CallMeta | undefined;
      mb.shift();
      if (oldMeta !== undefined) this.reply(oldMeta, false, full);
      return true;
    }
    if (meta !== undefined) this.reply(meta, false, full);
    if (cell.overflow === 'exit') this.requestExit(cell, { error: 'MailboxOverflow', code: 'mailbox_overflow', message: full.message });
    return false;
  }

  // ---- replies ----------------------------------------------------------------

  reply(meta: CallMeta, ok: boolean, value: unknown): void {
    if (meta.done) return;
    meta.done = true;
    if (meta.t === this.thread) {
      if (meta.g === this.generation) this.settle(meta.r, ok, value);
      else this.stats.lateReplies++;
      return;
    }
    const ob = this.transport?.outbox(meta.t) ?? null;
    if (ob !== null) ob.push(W_REPLY, meta.g, meta.r, ok, value);
  }

  /** Turns what a handler rejected with into the wire form of a failed call. */
  errorReply(e: unknown): ErrorReply {
    if (e instanceof CallError) return { code: e.code as CallErrorCode, message: e.message, reason: e.reason };
    const reason = toExitReason(e);
    return { code: 'crashed', message: formatReason(reason), reason };
  }

  private settle(r: number, ok: boolean, value: unknown): void {
    const p = this.pending.get(r);
    if (p === undefined) {
      this.stats.lateReplies++;
      return;
    }
    this.pending.delete(r);
    clearTimeout(p.timer);
    if (ok) p.resolve(value);
    else {
      const e = value as ErrorReply;
      p.reject(new CallError(e.code, e.message, e.reason));
    }
  }

  // ---- the scheduler ------------------------------------------------------------

  private schedule(cell: Cell): void {
    if (cell.state === ST_IDLE) cell.state = ST_QUEUED;
    this.runQ.push(cell);
    if (!this.scheduled && !this.draining) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    this.draining = true;
    this.now = Date.now();
    const deadline = performance.now() + this.sliceMs;
    let n = 0;
    try {
      while (this.runHead < this.runQ.length) {
        const cell = this.runQ[this.runHead]!;
        this.runQ[this.runHead++] = undefined as unknown as Cell;
        this.turn(cell);
        if ((++n & 31) === 0 && performance.now() > deadline) break;
      }
    } finally {
      this.draining = false;
      if (this.runHead >= this.runQ.length) {
        this.runQ = [];
        this.runHead = 0;
      } else if (this.runHead > 4096) {
        this.runQ = this.runQ.slice(this.runHead);
        this.runHead = 0;
      }
      this.transport?.flush?.();
      if (this.runHead < this.runQ.length && !this.scheduled) {
        this.scheduled = true;
        setImmediate(this.drain);
      }
    }
  };

  private turn(cell: Cell): void {
    const st = cell.state;
    if (st === ST_NEW) {
      if (cell.pendingExit !== null) {
        this.finalize(cell, cell.pendingExit, false);
        return;
      }
      this.runInit(cell);
      if (cell.state !== ST_RUNNING) return;
    } else if (st !== ST_QUEUED) {
      return; // dead, stopping, or scheduled twice: nothing to do
    }
    cell.state = ST_RUNNING;
    let budget = cell.throughput;
    for (;;) {
      if (cell.pendingExit !== null) {
        // At shutdown a virtual actor still gets its save hook.
        if (cell.virtual && this.stopping) this.passivate(cell, cell.pendingExit, false);
        else this.stopCell(cell, cell.pendingExit, cell.virtual);
        return;
      }
      const sys = cell.sys;
      if (sys !== null && sys.length > 0) {
        const sig = sys.shift()!;
        if (cell.beh.info !== undefined) {
          this.invoke(cell, undefined, sig, true);
          if (cell.state !== ST_RUNNING) return;
        }
        continue;
      }
      const mb = cell.mbox;
      if (mb === null || mb.size === 0) {
        cell.state = ST_IDLE;
        return;
      }
      if (budget-- <= 0) {
        cell.state = ST_QUEUED;
        this.runQ.push(cell);
        return;
      }
      const meta = mb.peekMeta() as CallMeta | undefined;
      const msg = mb.shift();
      this.invoke(cell, meta, msg, false);
      if (cell.state !== ST_RUNNING) return;
    }
  }

  private invoke(cell: Cell, meta: CallMeta | undefined, msg: unknown, info: boolean): void {
    cell.meta = meta;
    this.current = cell;
    let r: unknown;
    try {
      r = info ? cell.beh.info!(msg as Signal, cell) : cell.beh.handle(msg, cell);
    } catch (e) {
      this.current = null;
      if (cell.state === ST_RUNNING) this.crash(cell, e);
      return;
    }
    this.current = null;
    this.stats.processed++;
    if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') {
      if (cell.state !== ST_RUNNING) return; // it killed itself during the synchronous part
      cell.state = ST_AWAITING;
      (r as PromiseLike<unknown>).then(
        (v) => this.resumed(cell, meta, v),
        (e) => {
          if (cell.state !== ST_AWAITING) return;
          cell.state = ST_RUNNING;
          this.crash(cell, e);
        },
      );
      return;
    }
    if (meta !== undefined && cell.meta === meta) this.reply(meta, true, r);
    cell.meta = undefined;
  }

  private resumed(cell: Cell, meta: CallMeta | undefined, v: unknown): void {
    if (cell.state !== ST_AWAITING) return; // killed while it awaited
    if (meta !== undefined && cell.meta === meta) this.reply(meta, true, v);
    cell.meta = undefined;
    cell.state = ST_QUEUED;
    this.schedule(cell);
  }

  private runInit(cell: Cell): void {
    cell.state = ST_RUNNING;
    const init = cell.beh.init;
    if (init === undefined) {
      this.started(cell);
      return;
    }
    this.current = cell;
    let r: unknown;
    try {
      r = init.call(cell.beh, cell);
    } catch (e) {
      this.current = null;
      this.initFailed(cell, e);
      return;
    }
    this.current = null;
    if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') {
      cell.state = ST_AWAITING;
      (r as PromiseLike<unknown>).then(
        () => {
          if (cell.state !== ST_AWAITING) return;
          this.started(cell);
          cell.state = ST_QUEUED;
          this.schedule(cell);
        },
        (e) => {
          if (cell.state === ST_AWAITING) this.initFailed(cell, e);
        },
      );
      return;
    }
    this.started(cell);
  }

  private started(cell: Cell): void {
    const s = cell.starter;
    if (s !== null) {
      cell.starter = null;
      s.resolve(cell.self);
    }
  }

  private initFailed(cell: Cell, e: unknown): void {
    const reason = toExitReason(e);
    // The spawner learns from the rejected spawn, not from an exit signal too
    // (OTP's start_link does the same), so its link is dropped first.
    if (cell.parentRef !== null) {
      cell.links?.delete(cell.parentRef.id);
      this.cells.get(cell.parentRef.id)?.links?.delete(cell.id);
    }
    const s = cell.starter;
    cell.starter = null;
    if (cell.virtual) this.notifyCrash(cell.id, reason);
    this.finalize(cell, reason, false, cell.virtual ? 'activation_failed' : 'stopped');
    s?.reject(e);
  }

  private crash(cell: Cell, e: unknown): void {
    const reason = toExitReason(e);
    this.stats.crashes++;
    const meta = cell.meta;
    cell.meta = undefined;
    if (meta !== undefined) this.reply(meta, false, { code: 'crashed', message: formatReason(reason), reason });
    this.notifyCrash(cell.id, reason);
    this.stopCell(cell, reason, cell.virtual);
  }

  private notifyCrash(id: string, reason: ExitReason): void {
    for (const l of this.crashListeners) l(id, reason);
  }

  /** Graceful stop: `terminate` (awaited), then the exit is final. */
  private stopCell(cell: Cell, reason: ExitReason, carry: boolean): void {
    cell.state = ST_STOPPING;
    cell.pendingExit = null;
    const term = cell.beh.terminate;
    if (term === undefined) {
      this.finalize(cell, reason, carry);
      return;
    }
    let r: unknown;
    try {
      r = term.call(cell.beh, reason, cell);
    } catch {
      r = undefined; // the exit reason stays the one that stopped it
    }
    if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') {
      const fin = (): void => {
        if (cell.state === ST_STOPPING) this.finalize(cell, reason, carry);
      };
      (r as PromiseLike<unknown>).then(fin, fin);
      return;
    }
    this.finalize(cell, reason, carry);
  }

  /**
   * The actor is gone: answer what it owed, tell its links and monitors, and
   * hand its mailbox on (`carry`, virtual actors) or to dead letters.
   */
  private finalize(cell: Cell, reason: ExitReason, carry: boolean, dlReason: DeadLetterReason = 'stopped'): void {
    if (cell.state === ST_DEAD) return;
    cell.state = ST_DEAD;
    if (this.cells.get(cell.id) === cell) this.cells.delete(cell.id);
    if (cell.timers !== null) {
      for (const h of cell.timers.values()) clearTimeout(h);
      cell.timers = null;
    }
    const owed = exitReply(cell.id, reason);
    if (cell.meta !== undefined) {
      this.reply(cell.meta, false, owed);
      cell.meta = undefined;
    }
    if (cell.deferred !== null) {
      for (const m of cell.deferred) this.reply(m, false, owed);
      cell.deferred = null;
    }
    if (cell.starter !== null) {
      const s = cell.starter;
      cell.starter = null;
      s.reject(new CallError(owed.code, `${cell.id} exited before init finished: ${formatReason(reason)}`, reason));
    }
    const self = cell.self;
    if (cell.links !== null) {
      for (const ref of cell.links.values()) this.sendSignal(ref, S_EXIT, self, reason, true);
      cell.links = null;
    }
    if (cell.watchers !== null) {
      for (const [mref, w] of cell.watchers) this.sendSignal(w, S_DOWN, self, mref, reason);
      cell.watchers = null;
    }
    if (cell.monitors !== null) {
      for (const [mref, target] of cell.monitors) {
        this.exitWaiters.delete(mref);
        this.sendSignal(target, S_DEMONITOR, self, mref, undefined);
      }
      cell.monitors = null;
    }
    for (const set of this.remoteWatch.values()) set.delete(cell);
    cell.sys = null;
    const mb = cell.mbox;
    cell.mbox = null;
    if (mb !== null && mb.size > 0) {
      const next = carry ? this.activate(cell.id, cell.partition) : null;
      if (next !== null) {
        mb.drain((meta, msg) => this.enqueue(next, meta as CallMeta | undefined, msg));
      } else {
        mb.drain((meta) => {
          if (meta !== undefined) this.reply(meta as CallMeta, false, owed);
          else this.deadLetters.record(cell.id, dlReason);
        });
      }
    }
  }

  // ---- exits, links, monitors ---------------------------------------------------

  /** Asks a cell to stop gracefully after its current handler. */
  requestExit(cell: Cell, reason: ExitReason): void {
    if (cell.state === ST_DEAD || cell.state === ST_STOPPING) return;
    if (cell.pendingExit === null) cell.pendingExit = reason;
    if (cell.state === ST_IDLE) this.schedule(cell);
  }

  exitSignal(from: ActorRef, to: ActorRef, reason: ExitSignalReason): void {
    this.sendSignal(to, S_EXIT, from, reason, false);
  }

  link(cell: Cell, to: ActorRef): void {
    if (to.id === cell.id || cell.state === ST_DEAD) return;
    this.addLink(cell, to);
    this.sendSignal(to, S_LINK, cell.self, undefined, undefined);
  }

  unlink(cell: Cell, to: ActorRef): void {
    if (cell.links?.delete(to.id)) this.sendSignal(to, S_UNLINK, cell.self, undefined, undefined);
  }

  monitor(cell: Cell, to: ActorRef): MonitorRef {
    const mref = `${this.thread}.${this.generation}.${++this.monSeq}`;
    (cell.monitors ??= new Map()).set(mref, to);
    this.watchRemote(cell, to);
    this.sendSignal(to, S_MONITOR, cell.self, mref, undefined);
    return mref;
  }

  demonitor(cell: Cell, mref: MonitorRef): void {
    const to = cell.monitors?.get(mref);
    if (to === undefined) return;
    cell.monitors!.delete(mref);
    this.sendSignal(to, S_DEMONITOR, cell.self, mref, undefined);
  }

  private addLink(cell: Cell, to: ActorRef): void {
    (cell.links ??= new Map()).set(to.id, to);
    this.watchRemote(cell, to);
  }

  private watchRemote(cell: Cell, to: ActorRef): void {
    const t = this.route(to);
    if (t === this.thread) return;
    let set = this.remoteWatch.get(t);
    if (set === undefined) this.remoteWatch.set(t, (set = new Set()));
    set.add(cell);
  }

  private sendSignal(to: ActorRef, kind: number, from: ActorRef, a1: unknown, a2: unknown): void {
    const t = this.route(to);
    if (t === this.thread) {
      this.localSignal(to.id, to.partition, to.incarnation, kind, from, a1, a2);
      return;
    }
    const ob = this.transport?.outbox(t) ?? null;
    if (ob !== null) ob.push(W_SIGNAL, to.id, to.partition, to.thread, to.incarnation, kind, from, a1, a2);
    else if (kind === S_LINK) this.sendSignal(from, S_EXIT, to, 'noconnection', true);
    else if (kind === S_MONITOR) this.sendSignal(from, S_DOWN, to, a1, 'noconnection');
  }

  private localSignal(id: string, partition: number, inc: number, kind: number, from: ActorRef, a1: unknown, a2: unknown): void {
    let cell = this.cells.get(id);
    // A signal bound to an incarnation never reaches a later one.
    if (cell !== undefined && inc !== 0 && cell.incarnation !== inc) cell = undefined;
    if (cell !== undefined && cell.state === ST_DEAD) cell = undefined;
    switch (kind) {
      case S_LINK:
        if (cell === undefined && partition >= 0 && inc === 0) cell = this.activate(id, partition) ?? undefined;
        if (cell === undefined) this.sendSignal(from, S_EXIT, this.deadRef(id, partition, inc), 'noproc', true);
        else this.addLink(cell, from);
        return;
      case S_UNLINK:
        cell?.links?.delete(from.id);
        return;
      case S_EXIT:
        if (cell !== undefined) this.deliverExit(cell, from, a1 as ExitSignalReason, a2 === true);
        return;
      case S_MONITOR:
        if (cell === undefined && partition >= 0 && inc === 0) cell = this.activate(id, partition) ?? undefined;
        if (cell === undefined) this.sendSignal(from, S_DOWN, this.deadRef(id, partition, inc), a1, 'noproc');
        else {
          (cell.watchers ??= new Map()).set(a1 as string, from);
          this.watchRemote(cell, from);
        }
        return;
      case S_DEMONITOR:
        cell?.watchers?.delete(a1 as string);
        return;
      case S_DOWN:
        if (cell !== undefined) this.downArrived(cell, a1 as string, from, a2 as ExitReason);
        return;
      case S_CRASH:
        if (cell !== undefined) {
          this.stats.crashes++;
          const reason: ExitReason = { error: 'InjectedFault', code: 'injected_crash', message: String(a1 ?? 'crash injected') };
          this.notifyCrash(cell.id, reason);
          this.requestExit(cell, reason);
        }
        return;
    }
  }

  private deadRef(id: string, partition: number, inc: number): ActorRef {
    return new ActorRef(this, this.node, id, partition, partition >= 0 ? -1 : this.thread, inc);
  }

  /** The exit-signal table (see exit-reason.ts). */
  private deliverExit(cell: Cell, from: ActorRef, reason: ExitSignalReason, linked: boolean): void {
    if (reason === 'kill') {
      // Untrappable, and no terminate: `kill` is for actors that may be stuck.
      this.finalize(cell, 'killed', cell.virtual);
      return;
    }
    if (linked) cell.links?.delete(from.id);
    if (cell.trap) {
      this.pushInfo(cell, { type: 'exit', from, reason });
      return;
    }
    if (reason === 'normal') return;
    this.requestExit(cell, reason);
  }

  private downArrived(cell: Cell, mref: MonitorRef, from: ActorRef, reason: ExitReason): void {
    if (cell.monitors?.delete(mref) !== true) return;
    const w = this.exitWaiters.get(mref);
    if (w !== undefined) {
      this.exitWaiters.delete(mref);
      w(reason);
    } else this.pushInfo(cell, { type: 'down', monitor: mref, from, reason });
  }

  waitExit(cell: Cell, to: ActorRef, timeoutMs?: number): Promise<ExitReason | 'timeout'> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | null = null;
      const mref = `${this.thread}.${this.generation}.${++this.monSeq}`;
      this.exitWaiters.set(mref, (r) => {
        if (timer !== null) clearTimeout(timer);
        resolve(r);
      });
      // Beyond what a timer can hold, the wait has no timeout rather than ending at once.
      if (timeoutMs !== undefined && timeoutMs <= MAX_TIMEOUT_MS) {
        timer = setTimeout(() => {
          if (!this.exitWaiters.delete(mref)) return;
          this.demonitor(cell, mref);
          resolve('timeout');
        }, timeoutMs);
      }
      (cell.monitors ??= new Map()).set(mref, to);
      this.watchRemote(cell, to);
      this.sendSignal(to, S_MONITOR, cell.self, mref, undefined);
    });
  }

  private pushInfo(cell: Cell, sig: Signal): void {
    (cell.sys ??= []).push(sig);
    if (cell.state === ST_IDLE) this.schedule(cell);
  }

  /**
   * Stops an actor from outside any actor: an exit signal `shutdown`, so its
   * `terminate` runs (an actor that traps exits gets it in `info` instead).
   */
  stopActor(to: ActorRef): void {
    this.sendSignal(to, S_EXIT, to, 'shutdown', false);
  }

  /** Fault hook: crash the actor `to` as if its handler threw (code `injected_crash`). */
  injectCrash(to: ActorRef, message = 'crash injected'): void {
    this.sendSignal(to, S_CRASH, to, message, undefined);
  }

  // ---- timers -------------------------------------------------------------------

  sendAfter(cell: Cell, ms: number, msg: unknown, to: ActorRef): TimerRef {
    if (!(ms >= 0) || !(ms <= MAX_TIMEOUT_MS)) throw new ConfigError('invalid_delay', `sendAfter needs a delay in [0, ${MAX_TIMEOUT_MS}] ms, got ${ms}`);
    if (cell.state === ST_DEAD) return 0;
    const id = ++this.timerSeq;
    const h = setTimeout(() => {
      cell.timers?.delete(id);
      this.cast(to, msg);
    }, ms);
    (cell.timers ??= new Map()).set(id, h);
    return id;
  }

  // ---- from other threads ------------------------------------------------------

  /** Handles a batch of envelopes from another thread (fields as in transport.ts). */
  receive(f: unknown[]): void {
    const n = f.length;
    let i = 0;
    while (i < n) {
      switch (f[i]) {
        case W_CAST: {
          const id = f[i + 1] as string;
          const p = f[i + 2] as number;
          if (p >= 0 && this.table[p] !== this.thread) this.forward(f, i, 6);
          else {
            const cell = this.lookup(id, p);
            if (cell === null) this.deadLetters.record(id, 'noproc');
            else this.enqueue(cell, undefined, f[i + 5]);
          }
          i += 6;
          break;
        }
        case W_CALL: {
          const id = f[i + 1] as string;
          const p = f[i + 2] as number;
          if (p >= 0 && this.table[p] !== this.thread) this.forward(f, i, 10);
          else {
            const meta: CallMeta = { t: f[i + 6] as number, g: f[i + 7] as number, r: f[i + 8] as number, c: f[i + 9] as string | null, done: false };
            const cell = this.lookup(id, p);
            if (cell === null) {
              this.deadLetters.record(id, 'noproc');
              this.reply(meta, false, { code: 'noproc', message: `no actor ${id}` });
            } else this.enqueue(cell, meta, f[i + 5]);
          }
          i += 10;
          break;
        }
        case W_REPLY:
          if (f[i + 1] === this.generation) this.settle(f[i + 2] as number, f[i + 3] as boolean, f[i + 4]);
          else this.stats.lateReplies++;
          i += 5;
          break;
        case W_SIGNAL:
          this.localSignal(f[i + 1] as string, f[i + 2] as number, f[i + 4] as number, f[i + 5] as number, f[i + 6] as ActorRef, f[i + 7], f[i + 8]);
          i += 9;
          break;
        default:
          throw new Error(`corrupt envelope batch: kind ${String(f[i])} at field ${i}`);
      }
    }
  }

  /** A virtual actor's partition moved: pass the envelope on to its owner. */
  private forward(f: unknown[], i: number, len: number): void {
    const t = this.table[f[i + 2] as number]!;
    const ob = this.transport?.outbox(t) ?? null;
    if (ob === null) this.deadLetters.record(f[i + 1] as string, 'no_route');
    else for (let k = 0; k < len; k++) ob.push(f[i + k]);
  }

  /**
   * Thread `t` died: links and monitors to actors there fire `noconnection`,
   * calls waiting on it fail with `noconnection`.
   */
  threadDown(t: number): void {
    const set = this.remoteWatch.get(t);
    this.remoteWatch.delete(t);
    if (set !== undefined) {
      for (const cell of set) {
        if (cell.state === ST_DEAD) continue;
        if (cell.watchers !== null) for (const [m, w] of cell.watchers) if (this.route(w) === t) cell.watchers.delete(m);
        if (cell.monitors !== null) {
          for (const [m, ref] of [...cell.monitors]) {
            if (this.route(ref) === t) this.downArrived(cell, m, ref, 'noconnection');
          }
        }
        if (cell.links !== null) {
          for (const ref of [...cell.links.values()]) {
            if (this.route(ref) === t) this.deliverExit(cell, ref, 'noconnection', true);
          }
        }
      }
    }
    for (const [r, p] of this.pending) {
      if (p.thread === t) this.settle(r, false, { code: 'noconnection', message: `thread ${t} hosting ${p.to} went away` });
    }
  }

  // ---- passivation and shutdown ---------------------------------------------------

  /**
   * Passivates virtual actors idle for their `idleMs`. Runs every `sweepMs`.
   * An actor with a timer pending or a deferred reply still owed is not idle.
   */
  sweep(now = Date.now()): number {
    this.now = now;
    let n = 0;
    for (const cell of this.cells.values()) {
      if (cell.state !== ST_IDLE) continue;
      if (cell.mbox !== null && cell.mbox.size === 0 && now - cell.lastActive > 1000) cell.mbox = null; // release the buffer of a quiet actor
      if (!cell.virtual || cell.idleMs <= 0 || now - cell.lastActive < cell.idleMs) continue;
      if (cell.timers !== null && cell.timers.size > 0) continue;
      // It still owes a deferred reply: it is waiting for something, not idle.
      if (cell.deferred !== null && cell.deferred.size > 0) continue;
      if (cell.beh.keepAlive !== undefined && cell.beh.keepAlive()) continue;
      this.passivate(cell, 'normal', true);
      n++;
    }
    return n;
  }

  private passivate(cell: Cell, reason: ExitReason, carry: boolean): void {
    cell.state = ST_STOPPING;
    this.stats.passivations++;
    const hook = cell.beh.passivate;
    if (hook === undefined) {
      this.stopCell(cell, reason, carry);
      return;
    }
    let r: unknown;
    try {
      r = hook.call(cell.beh, cell);
    } catch (e) {
      this.notifyCrash(cell.id, toExitReason(e));
      this.stopCell(cell, toExitReason(e), carry);
      return;
    }
    if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') {
      (r as PromiseLike<unknown>).then(
        () => this.stopCell(cell, reason, carry),
        (e) => {
          this.notifyCrash(cell.id, toExitReason(e));
          this.stopCell(cell, toExitReason(e), carry);
        },
      );
      return;
    }
    this.stopCell(cell, reason, carry);
  }

  /**
   * Stops every actor of this thread: virtual ones are passivated (their save
   * hook runs), pinned ones get `terminate('shutdown')`. Whatever is still
   * running after `timeoutMs` (default 5000) is killed. New calls and spawns
   * fail with `shutdown` from the start.
   */
  async shutdown(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.sweeper !== null) clearInterval(this.sweeper);
    const deadline = Date.now() + timeoutMs;
    for (const cell of [...this.cells.values()]) {
      if (cell.virtual && (cell.state === ST_IDLE || cell.state === ST_QUEUED)) this.passivate(cell, 'shutdown', false);
      else this.requestExit(cell, 'shutdown');
    }
    while (this.cells.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    for (const cell of [...this.cells.values()]) this.finalize(cell, 'killed', false);
    for (const [r] of this.pending) this.settle(r, false, { code: 'shutdown', message: 'the runtime shut down' });
    this.transport?.flush?.();
  }

  // ---- observation --------------------------------------------------------------------

  get actorCount(): number {
    return this.cells.size;
  }

  /** True when `id` is active on this thread (for tests and admin tools). */
  isActive(id: string): boolean {
    return this.cells.has(id);
  }

  getStats(): HostStats {
    return {
      thread: this.thread,
      generation: this.generation,
      actors: this.cells.size,
      ...this.stats,
      pendingCalls: this.pending.size,
      deadLetters: { ...this.deadLetters.counts },
    };
  }
}

function exitReply(id: string, reason: ExitReason): ErrorReply {
  const code: CallErrorCode = typeof reason === 'string' ? reason : 'crashed';
  return { code, message: `${id} exited: ${formatReason(reason)}`, reason };
}
