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
 *   Consecutive casts to one actor in one outbox share an envelope header
 *   (cast-runs.ts): the encoding changes, the order does not.
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
import { ActorRef, type RefHost } from './ref.js';
import type { Behaviour, KindSpec, OverflowPolicy, Signal, SpawnOptions, TimerRef } from './behaviour.js';
import { Cell, ST_AWAITING, ST_DEAD, ST_IDLE, ST_NEW, ST_QUEUED, ST_RUNNING, ST_STOPPING } from './cell.js';
import { Mailbox } from './mailbox.js';
import { CallError, ConfigError } from './errors.js';
import { toExitReason, type ExitReason } from './exit-reason.js';
import { DeadLetters, type DeadLetterReason } from './dead-letters.js';
import { DEFAULT_PARTITIONS, partitionOf } from './partition.js';
import { MAX_TIMEOUT_MS } from './ref.js';
import { Calls, type CallMeta, type ErrorReply } from './calls.js';
import { Signals } from './signals.js';
import { Lifecycle } from './lifecycle.js';
import { CAST_FIELDS, S_CRASH, S_EXIT, W_CALL, W_CAST, W_CAST_RUN, W_REPLY, W_SIGNAL, type Transport } from './transport.js';
import { CastRuns } from './cast-runs.js';

export type { CallMeta } from './calls.js';

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
  /** @internal */ readonly calls = new Calls(this);
  /** @internal */ readonly signals = new Signals(this);
  /** @internal */ readonly lifecycle = new Lifecycle(this);

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
  private spawnSeq = 0;
  private timerSeq = 0;
  private incSeq = 0;
  private readonly incBase: number;
  private sweeper: ReturnType<typeof setInterval> | null = null;
  private readonly crashListeners: Array<(id: string, reason: ExitReason) => void> = [];
  /** Shutting down: no new spawns or calls from here. */
  private stopping = false;
  /** Shut down: no more activations either. */
  private closed = false;
  private readonly stats = { processed: 0, activations: 0, mailboxDropped: 0 };
  private readonly runs = new CastRuns();

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

  /** @internal */
  notifyCrash(id: string, reason: ExitReason): void {
    for (const l of this.crashListeners) l(id, reason);
  }

  // ---- refs and routes -----------------------------------------------------------

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

  /** @internal the outbox to another thread, or null when there is no route. */
  outbox(thread: number): unknown[] | null {
    return this.transport?.outbox(thread) ?? null;
  }

  /** @internal */
  cellOf(id: string): Cell | undefined {
    return this.cells.get(id);
  }

  /** @internal a dead cell leaves the registry (unless a new activation took its id). */
  forget(cell: Cell): void {
    if (this.cells.get(cell.id) === cell) this.cells.delete(cell.id);
  }

  // ---- spawning and activation -------------------------------------------------------

  spawn<T>(beh: Behaviour<T>, opts: SpawnOptions = {}, parent?: Cell): Promise<ActorRef<T>> {
    if (this.stopping) return Promise.reject(new CallError('shutdown', 'cannot spawn: the runtime is shutting down'));
    if (typeof beh?.handle !== 'function') return Promise.reject(new ConfigError('invalid_behaviour', 'a behaviour needs a handle(message, ctx) method'));
    const name = opts.name ?? 'pid';
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(name)) return Promise.reject(new ConfigError('invalid_name', `spawn name must match ^[A-Za-z0-9_.:-]{1,64}$, got ${JSON.stringify(name)}`));
    const id = `${name}$${this.thread}.${this.generation}.${++this.spawnSeq}`;
    let cell: Cell;
    try {
      cell = this.newCell(id, -1, false, beh, opts, 0);
    } catch (e) {
      return Promise.reject(e);
    }
    if (opts.trapExits) cell.trap = true;
    this.cells.set(id, cell);
    if (parent !== undefined && opts.link) {
      this.signals.addLink(cell, parent.self);
      this.signals.addLink(parent, cell.self);
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

  /** @internal activates the virtual actor `id`; null when it cannot exist (counted as a dead letter by the caller). */
  activate(id: string, partition: number): Cell | null {
    return this.activateOr(id, partition).cell;
  }

  private activateOr(id: string, partition: number): { cell: Cell | null; why: DeadLetterReason } {
    if (this.closed) return { cell: null, why: 'no_route' };
    const colon = id.indexOf(':');
    const spec = colon > 0 ? this.kinds.get(id.slice(0, colon)) : undefined;
    if (spec === undefined) return { cell: null, why: 'noproc' };
    let cell: Cell;
    try {
      cell = this.newCell(id, partition, true, spec.create(id), spec, spec.idleMs ?? DEFAULT_IDLE_MS);
    } catch (e) {
      this.notifyCrash(id, toExitReason(e));
      return { cell: null, why: 'activation_failed' };
    }
    this.cells.set(id, cell);
    this.stats.activations++;
    this.schedule(cell);
    return { cell, why: 'noproc' };
  }

  /**
   * @internal the cell for an id on this thread, activating a virtual actor
   * if needed; when there is none, the dead letter is recorded here.
   */
  lookup(id: string, partition: number): Cell | null {
    const r = this.resolve(id, partition);
    if (typeof r !== 'string') return r;
    this.deadLetters.record(id, r);
    return null;
  }

  /** The cell for an id on this thread (activating a virtual actor if needed), or why there is none. */
  private resolve(id: string, partition: number): Cell | DeadLetterReason {
    const cell = this.cells.get(id);
    if (cell !== undefined) return cell;
    if (partition < 0) return 'noproc';
    const a = this.activateOr(id, partition);
    return a.cell ?? a.why;
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
      if (cell === null) return;
      to._cell = cell;
      this.enqueue(cell, undefined, msg);
      return;
    }
    const ob = this.outbox(t);
    if (ob === null) this.deadLetters.record(to.id, 'no_route');
    else this.runs.append(ob, to, msg);
  }

  call<R>(to: ActorRef, msg: unknown, timeoutMs: number, caller: Cell | null = this.current): Promise<R> {
    if (this.stopping) return Promise.reject(new CallError('shutdown', `call to ${to.id}: the runtime is shutting down`));
    return this.calls.call<R>(to, msg, timeoutMs, caller);
  }

  /** Answers a call (used by deferred replies). */
  reply(meta: CallMeta, ok: boolean, value: unknown): void {
    this.calls.reply(meta, ok, value);
  }

  /** @internal */
  enqueue(cell: Cell, meta: CallMeta | undefined, msg: unknown): void {
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
      if (oldMeta !== undefined) this.calls.reply(oldMeta, false, full);
      return true;
    }
    if (meta !== undefined) this.calls.reply(meta, false, full);
    if (cell.overflow === 'exit') this.requestExit(cell, { error: 'MailboxOverflow', code: 'mailbox_overflow', message: full.message });
    return false;
  }

  // ---- the scheduler ------------------------------------------------------------

  /** @internal */
  schedule(cell: Cell): void {
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

  /** One turn of one actor: signals first, then up to `throughput` messages. */
  private turn(cell: Cell): void {
    const st = cell.state;
    if (st === ST_NEW) {
      if (cell.pendingExit !== null) {
        this.lifecycle.finalize(cell, cell.pendingExit, false);
        return;
      }
      this.lifecycle.runInit(cell);
      if (cell.state !== ST_RUNNING) return;
    } else if (st !== ST_QUEUED) {
      return; // dead, stopping, or scheduled twice: nothing to do
    }
    cell.state = ST_RUNNING;
    let budget = cell.throughput;
    for (;;) {
      if (cell.pendingExit !== null) {
        // At shutdown a virtual actor still gets its save hook.
        if (cell.virtual && this.stopping) this.lifecycle.passivate(cell, cell.pendingExit, false);
        else this.lifecycle.stopCell(cell, cell.pendingExit, cell.virtual);
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
      if (cell.state === ST_RUNNING) this.lifecycle.crash(cell, e);
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
          this.lifecycle.crash(cell, e);
        },
      );
      return;
    }
    if (meta !== undefined && cell.meta === meta) this.calls.reply(meta, true, r);
    cell.meta = undefined;
  }

  private resumed(cell: Cell, meta: CallMeta | undefined, v: unknown): void {
    if (cell.state !== ST_AWAITING) return; // killed while it awaited
    if (meta !== undefined && cell.meta === meta) this.calls.reply(meta, true, v);
    cell.meta = undefined;
    cell.state = ST_QUEUED;
    this.schedule(cell);
  }

  // ---- exits --------------------------------------------------------------------------

  /** Asks a cell to stop gracefully after its current handler. */
  requestExit(cell: Cell, reason: ExitReason): void {
    if (cell.state === ST_DEAD || cell.state === ST_STOPPING) return;
    if (cell.pendingExit === null) cell.pendingExit = reason;
    if (cell.state === ST_IDLE) this.schedule(cell);
  }

  /**
   * Stops an actor from outside any actor: an exit signal `shutdown`, so its
   * `terminate` runs (an actor that traps exits gets it in `info` instead).
   */
  stopActor(to: ActorRef): void {
    this.signals.send(to, S_EXIT, to, 'shutdown', false);
  }

  /** Fault hook: crash the actor `to` as if its handler threw (code `injected_crash`). */
  injectCrash(to: ActorRef, message = 'crash injected'): void {
    this.signals.send(to, S_CRASH, to, message, undefined);
  }

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
        case W_CAST:
        case W_CAST_RUN: {
          // A W_CAST is a run of one whose message sits where a run keeps its count.
          const run = f[i] === W_CAST_RUN;
          const count = run ? (f[i + 5] as number) : 1;
          const first = run ? i + CAST_FIELDS : i + 5;
          const end = first + count;
          if (!Number.isInteger(count) || count < 1 || end > n) throw new Error(`corrupt envelope batch: run of ${String(count)} at field ${i} of ${n}`);
          const p = f[i + 2] as number;
          if (p >= 0 && this.table[p] !== this.thread) this.forward(f, i, end - i);
          else this.receiveCasts(f, i, first, end);
          i = end;
          break;
        }
        case W_CALL: {
          const id = f[i + 1] as string;
          const p = f[i + 2] as number;
          if (p >= 0 && this.table[p] !== this.thread) this.forward(f, i, 10);
          else {
            const meta: CallMeta = { t: f[i + 6] as number, g: f[i + 7] as number, r: f[i + 8] as number, c: f[i + 9] as string | null, done: false };
            const cell = this.lookup(id, p);
            if (cell === null) this.calls.reply(meta, false, { code: 'noproc', message: `no actor ${id}` });
            else this.enqueue(cell, meta, f[i + 5]);
          }
          i += 10;
          break;
        }
        case W_REPLY:
          this.calls.received(f[i + 1] as number, f[i + 2] as number, f[i + 3] as boolean, f[i + 4]);
          i += 5;
          break;
        case W_SIGNAL:
          this.signals.arrived(f[i + 1] as string, f[i + 2] as number, f[i + 4] as number, f[i + 5] as number, f[i + 6] as ActorRef, f[i + 7], f[i + 8]);
          i += 9;
          break;
        default:
          throw new Error(`corrupt envelope batch: kind ${String(f[i])} at field ${i}`);
      }
    }
  }

  /**
   * The casts of one header (the messages at first..end-1): one lookup, then
   * each message in order. No handler runs between the enqueues (handlers
   * run from the run queue), so the cell found first is the one every later
   * W_CAST of a run would have found. A target that is missing gives one
   * dead letter per message (a virtual actor whose activation failed is
   * tried once per run, not once per message).
   */
  private receiveCasts(f: unknown[], i: number, first: number, end: number): void {
    const id = f[i + 1] as string;
    const r = this.resolve(id, f[i + 2] as number);
    if (typeof r === 'string') {
      for (let k = first; k < end; k++) this.deadLetters.record(id, r);
      return;
    }
    for (let k = first; k < end; k++) this.enqueue(r, undefined, f[k]);
  }

  /** A virtual actor's partition moved: pass the envelope on to its owner. */
  private forward(f: unknown[], i: number, len: number): void {
    const ob = this.outbox(this.table[f[i + 2] as number]!);
    if (ob === null) this.deadLetters.record(f[i + 1] as string, 'no_route');
    else for (let k = 0; k < len; k++) ob.push(f[i + k]);
  }

  /**
   * Thread `t` died: links and monitors to actors there fire `noconnection`,
   * calls waiting on it fail with `noconnection`.
   */
  threadDown(t: number): void {
    this.signals.threadDown(t);
    this.calls.threadDown(t);
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
      this.lifecycle.passivate(cell, 'normal', true);
      n++;
    }
    return n;
  }

  /**
   * Stops every actor of this thread, in two steps. First the messages
   * already queued are handled (up to half of `timeoutMs`, default 5000),
   * so nothing accepted is dropped for a clean stop. Then virtual actors are
   * passivated (their save hook runs) and pinned ones get
   * `terminate('shutdown')`; whatever still runs at `timeoutMs` is killed.
   * New spawns and calls from this thread fail with `shutdown` from the start.
   */
  async shutdown(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.sweeper !== null) clearInterval(this.sweeper);
    const start = Date.now();
    const busy = (): boolean => {
      if (this.runHead < this.runQ.length) return true;
      for (const c of this.cells.values()) if (c.state === ST_AWAITING || c.state === ST_NEW) return true;
      return false;
    };
    while (busy() && Date.now() - start < timeoutMs / 2) await new Promise((r) => setTimeout(r, 2));
    this.closed = true;
    for (const cell of [...this.cells.values()]) {
      if (cell.virtual && (cell.state === ST_IDLE || cell.state === ST_QUEUED)) this.lifecycle.passivate(cell, 'shutdown', false);
      else this.requestExit(cell, 'shutdown');
    }
    while (this.cells.size > 0 && Date.now() - start < timeoutMs) await new Promise((r) => setTimeout(r, 5));
    for (const cell of [...this.cells.values()]) this.lifecycle.finalize(cell, 'killed', false);
    this.calls.failAll();
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
      processed: this.stats.processed,
      activations: this.stats.activations,
      passivations: this.lifecycle.passivations,
      crashes: this.lifecycle.crashes,
      lateReplies: this.calls.lateReplies,
      pendingCalls: this.calls.size,
      mailboxDropped: this.stats.mailboxDropped,
      deadLetters: { ...this.deadLetters.counts },
    };
  }
}
