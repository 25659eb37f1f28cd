/**
 * Supervisor: an actor that starts, watches and restarts other actors, with
 * OTP's semantics.
 *
 * Strategies
 * - `one_for_one`: only the child that exited is restarted.
 * - `one_for_all`: all children are stopped (in reverse order) and restarted (in order).
 * - `rest_for_one`: the child and every child started after it are restarted.
 * - `simple_one_for_one`: one template; children are added with `startChild(args)`
 *   and each is restarted on its own.
 *
 * Restart types decide whether an exit is restarted: `permanent` always,
 * `transient` only after an abnormal exit (not `normal` or `shutdown`),
 * `temporary` never (the child is forgotten).
 *
 * Intensity (default 1) and period (default 5000 ms): one restart more than
 * `intensity` within `period` and the supervisor stops all its children and
 * exits with `shutdown`; its own supervisor then decides (escalation).
 *
 * Start: children start in order, each `init` finishing before the next
 * starts. A child whose start fails stops the siblings already started (in
 * reverse order) and the supervisor's own start fails with `start_failed`.
 *
 * Stop: in reverse order. Each child gets an exit signal `shutdown` and
 * `shutdown` ms (default 5000; `infinity` for supervisors) to finish its
 * `terminate`; then it is killed. `brutal_kill` kills at once.
 *
 * The supervisor traps exits. An exit signal from its parent, or any but
 * `normal` from an actor that is not its child (`exit(sup, 'shutdown')` from
 * whoever started it), stops it and its children with that reason.
 *
 * A request that fails (`duplicate_child_id`, a start failure, `not_found`,
 * `running`) is answered with the error and leaves the supervisor running.
 */
import type { ActorContext, Behaviour, Signal } from '../actors/behaviour.js';
import type { ActorRef } from '../actors/ref.js';
import { ConfigError, ParleyError } from '../actors/errors.js';
import { formatReason, isAbnormal, type ExitReason } from '../actors/exit-reason.js';
import { RestartIntensity } from './restart-intensity.js';
import { validateChild, validateSpec, type ChildSpec, type NormalChild, type NormalSpec, type RestartType, type ChildType, type SupervisorSpec } from './spec.js';

export type SupervisorRequest =
  | { type: 'which_children' }
  | { type: 'count_children' }
  | { type: 'start_child'; spec?: ChildSpec; args?: unknown[] }
  | { type: 'terminate_child'; id: string }
  | { type: 'restart_child'; id: string }
  | { type: 'delete_child'; id: string }
  | { type: 'retry_restart' };

export interface ChildInfo {
  id: string;
  ref: ActorRef | null;
  type: ChildType;
  restart: RestartType;
}

export type SupervisorEvent =
  | { event: 'child_exited'; supervisor: string; child: string; reason: ExitReason }
  | { event: 'child_restarted'; supervisor: string; child: string }
  | { event: 'start_error'; supervisor: string; child: string; error: string }
  | { event: 'shutdown'; supervisor: string; reason: 'reached_max_restart_intensity' };

export interface SupervisorOptions {
  /** Receives the supervisor's reports (exits, restarts, giving up); default: none. */
  report?: (e: SupervisorEvent) => void;
  /** Clock for the intensity window (tests). */
  clock?: () => number;
}

interface Child {
  spec: NormalChild;
  ref: ActorRef | null;
  args: unknown[];
}

class SupervisorBehaviour implements Behaviour<SupervisorRequest> {
  private readonly spec: NormalSpec;
  private children: Child[] = [];
  private readonly intensity: RestartIntensity;
  private dynSeq = 0;
  private stopping = false;

  constructor(spec: SupervisorSpec, private readonly opts: SupervisorOptions) {
    this.spec = validateSpec(spec);
    this.intensity = new RestartIntensity(this.spec.intensity, this.spec.period, opts.clock);
  }

  async init(ctx: ActorContext<SupervisorRequest>): Promise<void> {
    ctx.trapExits(true);
    if (this.spec.strategy === 'simple_one_for_one') return;
    for (const spec of this.spec.children) {
      const child: Child = { spec, ref: null, args: [] };
      try {
        await this.startOne(ctx, child);
      } catch (e) {
        await this.stopAll(ctx);
        throw new ParleyError('start_failed', `child ${spec.id} failed to start: ${errText(e)}`, { cause: e });
      }
      this.children.push(child);
    }
  }

  async handle(msg: SupervisorRequest, ctx: ActorContext<SupervisorRequest>): Promise<unknown> {
    try {
      return await this.request(msg, ctx);
    } catch (e) {
      // A request that fails (a duplicate id, a child whose start fails, an
      // unknown id) is the caller's problem, as OTP's `{error, Reason}`: it is
      // answered with the error. Throwing would crash the supervisor and, through
      // the links, every child it has. A failing cast has nobody to answer.
      ctx.deferReply()?.reject(e);
      return undefined;
    }
  }

  private async request(msg: SupervisorRequest, ctx: ActorContext<SupervisorRequest>): Promise<unknown> {
    switch (msg.type) {
      case 'which_children':
        return this.children.map((c) => ({ id: c.spec.id, ref: c.ref, type: c.spec.type, restart: c.spec.restart }) satisfies ChildInfo);
      case 'count_children': {
        const active = this.children.filter((c) => c.ref !== null).length;
        const sups = this.children.filter((c) => c.spec.type === 'supervisor').length;
        return { specs: this.children.length, active, supervisors: sups, workers: this.children.length - sups };
      }
      case 'start_child':
        return this.startChild(ctx, msg);
      case 'terminate_child': {
        const c = this.find(msg.id);
        await this.stopOne(ctx, c);
        if (this.spec.strategy === 'simple_one_for_one' || c.spec.restart === 'temporary') this.remove(c);
        return 'ok';
      }
      case 'restart_child': {
        const c = this.find(msg.id);
        if (c.ref !== null) throw new ParleyError('running', `child ${msg.id} is running`);
        await this.startOne(ctx, c);
        return c.ref;
      }
      case 'delete_child': {
        const c = this.find(msg.id);
        if (c.ref !== null) throw new ParleyError('running', `child ${msg.id} is running; terminate it first`);
        this.remove(c);
        return 'ok';
      }
      case 'retry_restart':
        await this.restartStopped(ctx);
        return undefined;
      default:
        throw new ConfigError('bad_request', `unknown supervisor request ${JSON.stringify((msg as { type?: unknown }).type)}`);
    }
  }

  async info(sig: Signal, ctx: ActorContext<SupervisorRequest>): Promise<void> {
    if (sig.type !== 'exit' || this.stopping) return;
    const child = this.children.find((c) => c.ref !== null && c.ref.id === sig.from.id);
    if (child === undefined) {
      const fromParent = ctx.parent !== null && ctx.parent.id === sig.from.id;
      if (fromParent || sig.reason !== 'normal') ctx.stop(sig.reason);
      return;
    }
    child.ref = null;
    this.opts.report?.({ event: 'child_exited', supervisor: ctx.id, child: child.spec.id, reason: sig.reason });
    const r = child.spec.restart;
    if (r === 'temporary' || (r === 'transient' && !isAbnormal(sig.reason))) {
      if (r === 'temporary' || this.spec.strategy === 'simple_one_for_one') this.remove(child);
      return;
    }
    if (!this.intensity.add()) {
      this.opts.report?.({ event: 'shutdown', supervisor: ctx.id, reason: 'reached_max_restart_intensity' });
      ctx.stop('shutdown');
      return;
    }
    const i = this.children.indexOf(child);
    if (this.spec.strategy === 'one_for_all') await this.stopRange(ctx, 0, this.children.length);
    else if (this.spec.strategy === 'rest_for_one') await this.stopRange(ctx, i + 1, this.children.length);
    await this.restartStopped(ctx);
  }

  async terminate(_reason: ExitReason, ctx: ActorContext<SupervisorRequest>): Promise<void> {
    this.stopping = true;
    await this.stopAll(ctx);
  }

  // ---- helpers ------------------------------------------------------------------

  private async startChild(ctx: ActorContext<SupervisorRequest>, msg: { spec?: ChildSpec; args?: unknown[] }): Promise<ActorRef> {
    if (this.spec.strategy === 'simple_one_for_one') {
      const tpl = this.spec.children[0]!;
      const child: Child = { spec: { ...tpl, id: `${tpl.id}#${++this.dynSeq}` }, ref: null, args: msg.args ?? [] };
      await this.startOne(ctx, child);
      this.children.push(child);
      return child.ref!;
    }
    if (msg.spec === undefined) throw new ConfigError('invalid_child_spec', 'start_child needs a spec');
    const spec = validateChild(msg.spec);
    if (this.children.some((c) => c.spec.id === spec.id)) throw new ConfigError('duplicate_child_id', `a child with id ${spec.id} exists`);
    const child: Child = { spec, ref: null, args: [] };
    await this.startOne(ctx, child);
    this.children.push(child);
    return child.ref!;
  }

  /** Restarts every non-temporary child that is not running, in start order. */
  private async restartStopped(ctx: ActorContext<SupervisorRequest>): Promise<void> {
    for (const c of [...this.children]) {
      if (c.ref !== null) continue;
      if (c.spec.restart === 'temporary') {
        this.remove(c);
        continue;
      }
      try {
        await this.startOne(ctx, c);
        this.opts.report?.({ event: 'child_restarted', supervisor: ctx.id, child: c.spec.id });
      } catch (e) {
        // A failed restart counts as one more restart, as in OTP: try again
        // later through the mailbox, until the intensity gives up.
        this.opts.report?.({ event: 'start_error', supervisor: ctx.id, child: c.spec.id, error: errText(e) });
        if (!this.intensity.add()) {
          this.opts.report?.({ event: 'shutdown', supervisor: ctx.id, reason: 'reached_max_restart_intensity' });
          ctx.stop('shutdown');
          return;
        }
        ctx.self.send({ type: 'retry_restart' });
        return;
      }
    }
  }

  private async startOne(ctx: ActorContext<SupervisorRequest>, c: Child): Promise<void> {
    const beh = c.spec.start(...c.args);
    const name = c.spec.id.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 64) || 'child';
    c.ref = await ctx.spawn(beh, { ...c.spec.options, link: true, name });
  }

  private async stopAll(ctx: ActorContext<SupervisorRequest>): Promise<void> {
    await this.stopRange(ctx, 0, this.children.length);
  }

  /** Stops children [from, to) in reverse order. */
  private async stopRange(ctx: ActorContext<SupervisorRequest>, from: number, to: number): Promise<void> {
    for (let k = to - 1; k >= from; k--) {
      const c = this.children[k];
      if (c !== undefined) await this.stopOne(ctx, c);
    }
  }

  private async stopOne(ctx: ActorContext<SupervisorRequest>, c: Child): Promise<void> {
    const ref = c.ref;
    if (ref === null) return;
    c.ref = null;
    // Unlink first so its exit does not come back to us as a crash to restart.
    ctx.unlink(ref);
    const sd = c.spec.shutdown;
    if (sd === 'brutal_kill') {
      const done = ctx.waitExit(ref);
      ctx.exit(ref, 'kill');
      await done;
      return;
    }
    const done = ctx.waitExit(ref, sd === 'infinity' ? undefined : sd);
    ctx.exit(ref, 'shutdown');
    if ((await done) === 'timeout') {
      const killed = ctx.waitExit(ref);
      ctx.exit(ref, 'kill');
      await killed;
    }
  }

  private find(id: string): Child {
    const c = this.children.find((x) => x.spec.id === id || x.ref?.id === id);
    if (c === undefined) throw new ParleyError('not_found', `no child ${id}`);
    return c;
  }

  private remove(c: Child): void {
    this.children = this.children.filter((x) => x !== c);
  }
}

function errText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return typeof e === 'object' && e !== null && 'error' in e ? formatReason(e as ExitReason) : String(e);
}

/** The behaviour of a supervisor; spawn it (usually linked) to start the tree. */
export function supervisor(spec: SupervisorSpec, options: SupervisorOptions = {}): Behaviour<SupervisorRequest> {
  return new SupervisorBehaviour(spec, options);
}

/** Typed calls to a running supervisor (OTP's supervisor:which_children/2 and friends). */
export const Supervisor = {
  whichChildren: (sup: ActorRef, timeout?: number) => sup.call<ChildInfo[]>({ type: 'which_children' }, { timeout }),
  countChildren: (sup: ActorRef, timeout?: number) =>
    sup.call<{ specs: number; active: number; supervisors: number; workers: number }>({ type: 'count_children' }, { timeout }),
  startChild: (sup: ActorRef, specOrArgs: ChildSpec | unknown[], timeout?: number) =>
    sup.call<ActorRef>(Array.isArray(specOrArgs) ? { type: 'start_child', args: specOrArgs } : { type: 'start_child', spec: specOrArgs }, { timeout }),
  terminateChild: (sup: ActorRef, id: string, timeout?: number) => sup.call<'ok'>({ type: 'terminate_child', id }, { timeout }),
  restartChild: (sup: ActorRef, id: string, timeout?: number) => sup.call<ActorRef>({ type: 'restart_child', id }, { timeout }),
  deleteChild: (sup: ActorRef, id: string, timeout?: number) => sup.call<'ok'>({ type: 'delete_child', id }, { timeout }),
};
