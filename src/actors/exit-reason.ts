/**
 * Exit reasons: why an actor stopped. A closed union, as in OTP:
 *
 * | reason          | meaning                                                   | kills a linked, non-trapping actor |
 * |-----------------|-----------------------------------------------------------|------------------------------------|
 * | `normal`        | it finished (or was passivated)                            | no                                 |
 * | `shutdown`      | its supervisor or runtime stopped it                      | yes                                |
 * | `killed`        | it was killed (`exit(ref, 'kill')`), which cannot be trapped | yes                             |
 * | `noproc`        | the linked or monitored actor did not exist               | yes                                |
 * | `noconnection`  | its thread or node went away                              | yes                                |
 * | an ErrorReason  | it crashed: its handler threw or rejected                 | yes                                |
 *
 * Reasons cross threads, so an error is carried as plain data
 * ({@link ErrorReason}), never as an `Error` object.
 */

export type AtomReason = 'normal' | 'shutdown' | 'killed' | 'noproc' | 'noconnection';

export interface ErrorReason {
  readonly error: string; // the error's name, e.g. "TypeError"
  readonly message: string;
  readonly code?: string;
  readonly stack?: string;
}

export type ExitReason = AtomReason | ErrorReason;

/** The untrappable signal an actor sends to kill another: `exit(ref, 'kill')`. */
export type ExitSignalReason = ExitReason | 'kill';

const ATOMS = new Set<string>(['normal', 'shutdown', 'killed', 'noproc', 'noconnection']);

export function isAtomReason(r: unknown): r is AtomReason {
  return typeof r === 'string' && ATOMS.has(r);
}

export function isErrorReason(r: unknown): r is ErrorReason {
  return typeof r === 'object' && r !== null && typeof (r as ErrorReason).error === 'string';
}

/** Converts anything thrown into an exit reason that can cross a thread. */
export function toExitReason(thrown: unknown): ExitReason {
  if (isAtomReason(thrown) || isErrorReason(thrown)) return thrown;
  if (thrown instanceof Error) {
    const code = (thrown as { code?: unknown }).code;
    return {
      error: thrown.name,
      message: thrown.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(thrown.stack ? { stack: thrown.stack } : {}),
    };
  }
  return { error: 'Error', message: typeof thrown === 'string' ? thrown : safeString(thrown) };
}

/** `normal` and `shutdown` are the clean ways to stop; anything else is abnormal (OTP's transient rule). */
export function isAbnormal(r: ExitReason): boolean {
  return r !== 'normal' && r !== 'shutdown';
}

export function formatReason(r: ExitReason): string {
  return typeof r === 'string' ? r : `${r.error}${r.code ? ` [${r.code}]` : ''}: ${r.message}`;
}

function safeString(x: unknown): string {
  try {
    return JSON.stringify(x) ?? String(x);
  } catch {
    return String(x);
  }
}
