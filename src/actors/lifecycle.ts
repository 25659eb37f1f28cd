/**
 * Lifecycle: how an actor starts, crashes, passivates and ends.
 *
 * - Start: `init` runs before the first message; a throw (or rejection) is a
 *   start failure: `spawn` rejects, and the spawner's link is dropped first
 *   so it learns of it once (OTP's start_link does the same).
 * - Crash: a handler that throws answers its call with `crashed`, then the
 *   actor stops with the error as its reason (`terminate` runs).
 * - Passivation (virtual actors): `passivate` (the save hook), then
 *   `terminate`; messages that arrived meanwhile go to the next activation.
 * - End (`finalize`): calls it still owed are answered with its exit reason,
 *   links and monitors are told, and its mailbox is handed on (virtual
 *   actors: to a fresh activation, in order) or to dead letters.
 */
import type { Cell } from './cell.js';
import type { Host } from './host.js';
import { ST_AWAITING, ST_DEAD, ST_QUEUED, ST_RUNNING, ST_STOPPING } from './cell.js';
import { CallError } from './errors.js';
import { formatReason, toExitReason, type ExitReason } from './exit-reason.js';
import type { DeadLetterReason } from './dead-letters.js';
import { exitReply, type CallMeta } from './calls.js';

function isThenable(r: unknown): r is PromiseLike<unknown> {
  return r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function';
}

export class Lifecycle {
  crashes = 0;
  passivations = 0;

  constructor(private readonly host: Host) {}

  runInit(cell: Cell): void {
    const h = this.host;
    cell.state = ST_RUNNING;
    const init = cell.beh.init;
    if (init === undefined) {
      this.started(cell);
      return;
    }
    h.current = cell;
    let r: unknown;
    try {
      r = init.call(cell.beh, cell);
    } catch (e) {
      h.current = null;
      this.initFailed(cell, e);
      return;
    }
    h.current = null;
    if (isThenable(r)) {
      cell.state = ST_AWAITING;
      r.then(
        () => {
          if (cell.state !== ST_AWAITING) return;
          this.started(cell);
          cell.state = ST_QUEUED;
          h.schedule(cell);
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
    if (cell.parentRef !== null) {
      cell.links?.delete(cell.parentRef.id);
      this.host.cellOf(cell.parentRef.id)?.links?.delete(cell.id);
    }
    const s = cell.starter;
    cell.starter = null;
    if (cell.virtual) this.host.notifyCrash(cell.id, reason);
    this.finalize(cell, reason, false, cell.virtual ? 'activation_failed' : 'stopped');
    s?.reject(e);
  }

  /** The handler threw: answer its call with `crashed`, then stop with the error. */
  crash(cell: Cell, e: unknown): void {
    const reason = toExitReason(e);
    this.crashes++;
    const meta = cell.meta;
    cell.meta = undefined;
    if (meta !== undefined) this.host.calls.reply(meta, false, { code: 'crashed', message: formatReason(reason), reason });
    this.host.notifyCrash(cell.id, reason);
    this.stopCell(cell, reason, cell.virtual);
  }

  /** Fault hook: the actor stops as if its handler had thrown. */
  injectedCrash(cell: Cell, message: string): void {
    this.crashes++;
    const reason: ExitReason = { error: 'InjectedFault', code: 'injected_crash', message };
    this.host.notifyCrash(cell.id, reason);
    this.host.requestExit(cell, reason);
  }

  /** Graceful stop: `terminate` (awaited), then the exit is final. */
  stopCell(cell: Cell, reason: ExitReason, carry: boolean): void {
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
    if (isThenable(r)) {
      const fin = (): void => {
        if (cell.state === ST_STOPPING) this.finalize(cell, reason, carry);
      };
      r.then(fin, fin);
      return;
    }
    this.finalize(cell, reason, carry);
  }

  /** Virtual actors: the save hook, then a graceful stop. */
  passivate(cell: Cell, reason: ExitReason, carry: boolean): void {
    cell.state = ST_STOPPING;
    this.passivations++;
    const hook = cell.beh.passivate;
    if (hook === undefined) {
      this.stopCell(cell, reason, carry);
      return;
    }
    const failed = (e: unknown): void => {
      this.host.notifyCrash(cell.id, toExitReason(e));
      this.stopCell(cell, toExitReason(e), carry);
    };
    let r: unknown;
    try {
      r = hook.call(cell.beh, cell);
    } catch (e) {
      failed(e);
      return;
    }
    if (isThenable(r)) r.then(() => this.stopCell(cell, reason, carry), failed);
    else this.stopCell(cell, reason, carry);
  }

  /**
   * The actor is gone: answer what it owed, tell its links and monitors, and
   * hand its mailbox on (`carry`, virtual actors) or to dead letters.
   */
  finalize(cell: Cell, reason: ExitReason, carry: boolean, dlReason: DeadLetterReason = 'stopped'): void {
    if (cell.state === ST_DEAD) return;
    const h = this.host;
    cell.state = ST_DEAD;
    h.forget(cell);
    if (cell.timers !== null) {
      for (const t of cell.timers.values()) clearTimeout(t);
      cell.timers = null;
    }
    const owed = exitReply(cell.id, reason);
    if (cell.meta !== undefined) {
      h.calls.reply(cell.meta, false, owed);
      cell.meta = undefined;
    }
    if (cell.deferred !== null) {
      for (const m of cell.deferred) h.calls.reply(m, false, owed);
      cell.deferred = null;
    }
    if (cell.starter !== null) {
      const s = cell.starter;
      cell.starter = null;
      s.reject(new CallError(owed.code, `${cell.id} exited before init finished: ${formatReason(reason)}`, reason));
    }
    h.signals.cellDied(cell, reason);
    cell.sys = null;
    const mb = cell.mbox;
    cell.mbox = null;
    if (mb === null || mb.size === 0) return;
    const next = carry ? h.activate(cell.id, cell.partition) : null;
    if (next !== null) mb.drain((meta, msg) => h.enqueue(next, meta as CallMeta | undefined, msg));
    else
      mb.drain((meta) => {
        if (meta !== undefined) h.calls.reply(meta as CallMeta, false, owed);
        else h.deadLetters.record(cell.id, dlReason);
      });
  }
}
