/**
 * Thread modules: how code reaches the scheduler threads.
 *
 * A worker thread is a separate JavaScript realm: behaviours cannot be sent
 * to it, they must be imported there. A runtime is started with a list of
 * module URLs; every scheduler thread (and the main thread, when it owns
 * partitions because `workers` is 0) imports each one and calls its default
 * export with the thread's environment. The module answers with the kinds of
 * virtual actors it defines and, optionally, a `stop` hook that runs after
 * the thread's actors have been passivated at shutdown (flush a store, close
 * files).
 *
 * ```ts
 * // counters.ts
 * export default (env: ThreadEnv): ThreadModule => ({
 *   kinds: { counter: { create: () => new Counter() } },
 * });
 * ```
 */
import type { Host } from '../actors/host.js';
import type { KindSpec } from '../actors/behaviour.js';
import { ConfigError } from '../actors/errors.js';

export interface ThreadEnv {
  node: string;
  thread: number;
  generation: number;
  partitions: number;
  /** Partitions this thread owns now. */
  owned: number[];
  /** The runtime's `moduleConfig`, as given (structured-cloned into workers). */
  config: unknown;
  host: Host;
}

export interface ThreadModule {
  kinds?: Record<string, KindSpec>;
  stop?(): void | Promise<void>;
}

export type ThreadSetup = (env: ThreadEnv) => ThreadModule | Promise<ThreadModule>;

/** Imports each module and registers its kinds on `env.host`; returns their stop hooks. */
export async function loadThreadModules(hrefs: readonly string[], env: ThreadEnv): Promise<Array<() => void | Promise<void>>> {
  const stops: Array<() => void | Promise<void>> = [];
  for (const href of hrefs) {
    const mod = (await import(href)) as { default?: unknown };
    if (typeof mod.default !== 'function') {
      throw new ConfigError('invalid_module', `thread module ${href} must export a default setup(env) function`);
    }
    const m = (await (mod.default as ThreadSetup)(env)) ?? {};
    for (const [kind, spec] of Object.entries(m.kinds ?? {})) env.host.registerKind(kind, spec);
    if (typeof m.stop === 'function') stops.push(m.stop.bind(m));
  }
  return stops;
}
