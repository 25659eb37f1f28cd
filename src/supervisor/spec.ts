/**
 * Supervisor and child specifications, and one validator per option.
 *
 * Defaults (OTP's): strategy `one_for_one`, intensity 1 restart in a period of
 * 5000 ms; children `permanent`, `shutdown` 5000 ms for a worker and
 * `infinity` for a supervisor. Each validator fails with a ConfigError whose
 * code names the rule (`invalid_strategy`, `invalid_restart_type`, …), as
 * OTP's supervisor does with its tagged reasons.
 */
import type { Behaviour, SpawnOptions } from '../actors/behaviour.js';
import { ConfigError } from '../actors/errors.js';
import { MAX_TIMEOUT_MS } from '../actors/ref.js';

export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one' | 'simple_one_for_one';
/** permanent: always restarted; transient: restarted after an abnormal exit; temporary: never. */
export type RestartType = 'permanent' | 'transient' | 'temporary';
/** Milliseconds to wait after `shutdown` before killing, or kill at once, or wait for ever. */
export type Shutdown = number | 'brutal_kill' | 'infinity';
export type ChildType = 'worker' | 'supervisor';

export interface ChildSpec {
  id: string;
  /**
   * Makes a fresh behaviour for each (re)start. For `simple_one_for_one` it
   * receives the arguments given to `startChild`.
   */
  start: (...args: any[]) => Behaviour;
  restart?: RestartType;
  shutdown?: Shutdown;
  type?: ChildType;
  /** Mailbox options of the child. */
  options?: Omit<SpawnOptions, 'link'>;
}

export interface SupervisorSpec {
  strategy?: Strategy;
  /** Most restarts allowed within `period`; one more and the supervisor gives up. Default 1. */
  intensity?: number;
  /** Milliseconds; default 5000. */
  period?: number;
  /** Started in order, stopped in reverse. For simple_one_for_one: exactly one template. */
  children: ChildSpec[];
}

export interface NormalChild {
  id: string;
  start: (...args: any[]) => Behaviour;
  restart: RestartType;
  shutdown: Shutdown;
  type: ChildType;
  options: Omit<SpawnOptions, 'link'>;
}

export interface NormalSpec {
  strategy: Strategy;
  intensity: number;
  period: number;
  children: NormalChild[];
}

const STRATEGIES: readonly Strategy[] = ['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one'];
const RESTARTS: readonly RestartType[] = ['permanent', 'transient', 'temporary'];

export function validateStrategy(s: unknown): Strategy {
  if (s === undefined) return 'one_for_one';
  if (!STRATEGIES.includes(s as Strategy)) throw new ConfigError('invalid_strategy', `strategy must be one of ${STRATEGIES.join(', ')}, got ${String(s)}`);
  return s as Strategy;
}

export function validateIntensity(i: unknown): number {
  if (i === undefined) return 1;
  if (!Number.isInteger(i) || (i as number) < 0) throw new ConfigError('invalid_intensity', `intensity must be an integer >= 0, got ${String(i)}`);
  return i as number;
}

export function validatePeriod(p: unknown): number {
  if (p === undefined) return 5000;
  if (typeof p !== 'number' || !(p > 0) || !Number.isFinite(p)) throw new ConfigError('invalid_period', `period must be a finite number of ms > 0, got ${String(p)}`);
  return p;
}

export function validateRestart(r: unknown): RestartType {
  if (r === undefined) return 'permanent';
  if (!RESTARTS.includes(r as RestartType)) throw new ConfigError('invalid_restart_type', `restart must be one of ${RESTARTS.join(', ')}, got ${String(r)}`);
  return r as RestartType;
}

export function validateShutdown(s: unknown, type: ChildType): Shutdown {
  if (s === undefined) return type === 'supervisor' ? 'infinity' : 5000;
  if (s === 'brutal_kill' || s === 'infinity') return s;
  if (typeof s !== 'number' || !(s >= 0) || !(s <= MAX_TIMEOUT_MS)) {
    throw new ConfigError('invalid_shutdown', `shutdown must be ms in [0, ${MAX_TIMEOUT_MS}], 'brutal_kill' or 'infinity', got ${String(s)}`);
  }
  return s;
}

export function validateChildType(t: unknown): ChildType {
  if (t === undefined) return 'worker';
  if (t !== 'worker' && t !== 'supervisor') throw new ConfigError('invalid_child_type', `type must be worker or supervisor, got ${String(t)}`);
  return t;
}

export function validateChild(c: ChildSpec): NormalChild {
  if (typeof c !== 'object' || c === null) throw new ConfigError('invalid_child_spec', 'a child spec is an object');
  if (typeof c.id !== 'string' || c.id.length === 0) throw new ConfigError('invalid_child_id', `child id must be a non-empty string, got ${String(c.id)}`);
  if (typeof c.start !== 'function') throw new ConfigError('invalid_start', `child ${c.id}: start must be a function returning a behaviour`);
  const type = validateChildType(c.type);
  return { id: c.id, start: c.start, restart: validateRestart(c.restart), shutdown: validateShutdown(c.shutdown, type), type, options: c.options ?? {} };
}

export function validateSpec(s: SupervisorSpec): NormalSpec {
  if (typeof s !== 'object' || s === null || !Array.isArray(s.children)) throw new ConfigError('invalid_supervisor_spec', 'a supervisor spec has a children array');
  const strategy = validateStrategy(s.strategy);
  const children = s.children.map(validateChild);
  const seen = new Set<string>();
  for (const c of children) {
    if (seen.has(c.id)) throw new ConfigError('duplicate_child_id', `two children have the id ${c.id}`);
    seen.add(c.id);
  }
  if (strategy === 'simple_one_for_one' && children.length !== 1) {
    throw new ConfigError('invalid_simple_one_for_one', `simple_one_for_one takes exactly one child template, got ${children.length}`);
  }
  return { strategy, intensity: validateIntensity(s.intensity), period: validatePeriod(s.period), children };
}
