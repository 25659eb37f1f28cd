/**
 * Errors with stable codes.
 *
 * Every error Parley raises is a {@link ParleyError} with a machine `code`
 * from the table in docs/errors.md; messages are for people and may change,
 * codes never do. Callers branch on `code`, never on message text.
 */

export class ParleyError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'ParleyError';
  }
}

/**
 * Why a `call` failed. `code` is one of:
 * - `timeout`: no reply within the timeout; a reply arriving later is dropped;
 * - `noproc`: the target does not exist (a stopped actor, or an id of no known kind);
 * - `calling_self`: an actor called itself, which could only time out;
 * - `shutdown`: the target or the caller's runtime is shutting down;
 * - `noconnection`: the target's thread (or node) went away before answering;
 * - `killed`, `normal`: the target exited for this reason before answering;
 * - `crashed`: the target's handler threw while handling this call; `reason` has the error;
 * - `mailbox_full`: the target's bounded mailbox refused the call.
 */
export class CallError extends ParleyError {
  readonly reason: unknown;
  constructor(code: CallErrorCode, message: string, reason?: unknown) {
    super(code, message);
    this.name = 'CallError';
    this.reason = reason;
  }
}

export type CallErrorCode =
  | 'timeout'
  | 'noproc'
  | 'calling_self'
  | 'shutdown'
  | 'noconnection'
  | 'killed'
  | 'normal'
  | 'crashed'
  | 'mailbox_full'
  /** The message (or its reply) could not be encoded to cross threads: nested too deep, or a value the codec cannot carry. */
  | 'unencodable';

/** A bad argument or option; `code` names the rule (e.g. `invalid_timeout`). */
export class ConfigError extends ParleyError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'ConfigError';
  }
}
