/**
 * Signals: links, monitors and exit signals, Erlang's way.
 *
 * The exit-signal table (exit-reason.ts) is applied in `deliverExit`: `kill`
 * cannot be trapped and skips `terminate`; a trapping actor gets every other
 * exit in `info`; a non-trapping one ignores `normal` and stops (after its
 * current handler, with `terminate`) for anything else. Linking or
 * monitoring an actor that does not exist answers at once with `noproc`;
 * across a thread that dies, with `noconnection` (`threadDown`). A signal
 * bound to an incarnation never reaches a later one.
 *
 * Link, unlink, monitor and demonitor take effect when they arrive, not
 * behind queued messages; trapped exits and `down`s go to the actor's
 * system queue, handled before its next message.
 */
import { ActorRef } from './ref.js';
import { SmallMap } from './small-map.js';
import type { Cell } from './cell.js';
import type { Host } from './host.js';
import type { MonitorRef, Signal } from './behaviour.js';
import { MAX_TIMEOUT_MS } from './ref.js';
import { ST_DEAD, ST_IDLE } from './cell.js';
import type { ExitReason, ExitSignalReason } from './exit-reason.js';
import { S_CRASH, S_DEMONITOR, S_DOWN, S_EXIT, S_LINK, S_MONITOR, S_UNLINK, W_SIGNAL } from './transport.js';

export class Signals {
  private monSeq = 0;
  /** Cells with a link or monitor to another thread, by that thread (for `threadDown`). */
  private readonly remoteWatch = new Map<number, Set<Cell>>();
  /** Monitors whose `down` resolves a promise (waitExit) instead of reaching `info`. */
  private readonly exitWaiters = new Map<MonitorRef, (r: ExitReason) => void>();

  constructor(private readonly host: Host) {}

  link(cell: Cell, to: ActorRef): void {
    if (to.id === cell.id || cell.state === ST_DEAD) return;
    this.addLink(cell, to);
    this.send(to, S_LINK, cell.self, undefined, undefined);
  }

  unlink(cell: Cell, to: ActorRef): void {
    if (cell.links?.delete(to.id)) this.send(to, S_UNLINK, cell.self, undefined, undefined);
  }

  monitor(cell: Cell, to: ActorRef): MonitorRef {
    const mref = this.newMonitorRef();
    (cell.monitors ??= new SmallMap()).set(mref, to);
    this.watchRemote(cell, to);
    this.send(to, S_MONITOR, cell.self, mref, undefined);
    return mref;
  }

  demonitor(cell: Cell, mref: MonitorRef): void {
    const to = cell.monitors?.get(mref);
    if (to === undefined) return;
    cell.monitors!.delete(mref);
    this.send(to, S_DEMONITOR, cell.self, mref, undefined);
  }

  waitExit(cell: Cell, to: ActorRef, timeoutMs?: number): Promise<ExitReason | 'timeout'> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | null = null;
      const mref = this.newMonitorRef();
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
      (cell.monitors ??= new SmallMap()).set(mref, to);
      this.watchRemote(cell, to);
      this.send(to, S_MONITOR, cell.self, mref, undefined);
    });
  }

  /** Both ends of a spawn link, made before the child's init runs. */
  addLink(cell: Cell, to: ActorRef): void {
    (cell.links ??= new Map()).set(to.id, to);
    this.watchRemote(cell, to);
  }

  /** Everything a dying cell owes its links and monitors. */
  cellDied(cell: Cell, reason: ExitReason): void {
    const self = cell.self;
    if (cell.links !== null) {
      for (const ref of cell.links.values()) this.send(ref, S_EXIT, self, reason, true);
      cell.links = null;
    }
    if (cell.watchers !== null) {
      for (const [mref, w] of cell.watchers) this.send(w, S_DOWN, self, mref, reason);
      cell.watchers = null;
    }
    if (cell.monitors !== null) {
      for (const [mref, target] of cell.monitors) {
        this.exitWaiters.delete(mref);
        this.send(target, S_DEMONITOR, self, mref, undefined);
      }
      cell.monitors = null;
    }
    for (const set of this.remoteWatch.values()) set.delete(cell);
  }

  private newMonitorRef(): MonitorRef {
    return `${this.host.thread}.${this.host.generation}.${++this.monSeq}`;
  }

  private watchRemote(cell: Cell, to: ActorRef): void {
    const t = this.host.route(to);
    if (t === this.host.thread) return;
    let set = this.remoteWatch.get(t);
    if (set === undefined) this.remoteWatch.set(t, (set = new Set()));
    set.add(cell);
  }

  /** Sends a signal to `to`, wherever it lives. */
  send(to: ActorRef, kind: number, from: ActorRef, a1: unknown, a2: unknown): void {
    const h = this.host;
    const t = h.route(to);
    if (t === h.thread) {
      this.arrived(to.id, to.partition, to.incarnation, kind, from, a1, a2);
      return;
    }
    const ob = h.outbox(t);
    if (ob !== null) ob.push(W_SIGNAL, to.id, to.partition, to.thread, to.incarnation, kind, from, a1, a2);
    else if (kind === S_LINK) this.send(from, S_EXIT, to, 'noconnection', true);
    else if (kind === S_MONITOR) this.send(from, S_DOWN, to, a1, 'noconnection');
  }

  /** A signal for an actor of this thread. */
  arrived(id: string, partition: number, inc: number, kind: number, from: ActorRef, a1: unknown, a2: unknown): void {
    const h = this.host;
    let cell = h.cellOf(id);
    // A signal bound to an incarnation never reaches a later one.
    if (cell !== undefined && inc !== 0 && cell.incarnation !== inc) cell = undefined;
    if (cell !== undefined && cell.state === ST_DEAD) cell = undefined;
    switch (kind) {
      case S_LINK:
        if (cell === undefined && partition >= 0 && inc === 0) cell = h.activate(id, partition) ?? undefined;
        if (cell === undefined) this.send(from, S_EXIT, this.deadRef(id, partition, inc), 'noproc', true);
        else this.addLink(cell, from);
        return;
      case S_UNLINK:
        cell?.links?.delete(from.id);
        return;
      case S_EXIT:
        if (cell !== undefined) this.deliverExit(cell, from, a1 as ExitSignalReason, a2 === true);
        return;
      case S_MONITOR:
        if (cell === undefined && partition >= 0 && inc === 0) cell = h.activate(id, partition) ?? undefined;
        if (cell === undefined) this.send(from, S_DOWN, this.deadRef(id, partition, inc), a1, 'noproc');
        else {
          (cell.watchers ??= new SmallMap()).set(a1 as string, from);
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
        if (cell !== undefined) h.lifecycle.injectedCrash(cell, String(a1 ?? 'crash injected'));
        return;
    }
  }

  private deadRef(id: string, partition: number, inc: number): ActorRef {
    const h = this.host;
    return new ActorRef(h, h.node, id, partition, partition >= 0 ? -1 : h.thread, inc);
  }

  /** The exit-signal table (see exit-reason.ts). */
  private deliverExit(cell: Cell, from: ActorRef, reason: ExitSignalReason, linked: boolean): void {
    if (reason === 'kill') {
      // Untrappable, and no terminate: `kill` is for actors that may be stuck.
      this.host.lifecycle.finalize(cell, 'killed', cell.virtual);
      return;
    }
    if (linked) cell.links?.delete(from.id);
    if (cell.trap) {
      this.pushInfo(cell, { type: 'exit', from, reason });
      return;
    }
    if (reason === 'normal') return;
    this.host.requestExit(cell, reason);
  }

  private downArrived(cell: Cell, mref: MonitorRef, from: ActorRef, reason: ExitReason): void {
    if (cell.monitors?.delete(mref) !== true) return;
    const w = this.exitWaiters.get(mref);
    if (w !== undefined) {
      this.exitWaiters.delete(mref);
      w(reason);
    } else this.pushInfo(cell, { type: 'down', monitor: mref, from, reason });
  }

  private pushInfo(cell: Cell, sig: Signal): void {
    (cell.sys ??= []).push(sig);
    if (cell.state === ST_IDLE) this.host.schedule(cell);
  }

  /** Thread `t` died: links and monitors to its actors fire `noconnection`. */
  threadDown(t: number): void {
    const set = this.remoteWatch.get(t);
    this.remoteWatch.delete(t);
    if (set === undefined) return;
    const route = (r: ActorRef): number => this.host.route(r);
    for (const cell of set) {
      if (cell.state === ST_DEAD) continue;
      if (cell.watchers !== null) for (const [m, w] of cell.watchers) if (route(w) === t) cell.watchers.delete(m);
      if (cell.monitors !== null) for (const [m, ref] of [...cell.monitors]) if (route(ref) === t) this.downArrived(cell, m, ref, 'noconnection');
      if (cell.links !== null) for (const ref of [...cell.links.values()]) if (route(ref) === t) this.deliverExit(cell, ref, 'noconnection', true);
    }
  }
}
