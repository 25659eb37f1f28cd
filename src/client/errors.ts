/**
 * The one error class of the client, with a stable machine `code`.
 *
 * Codes that come from the server are the protocol's `error` codes, carried
 * unchanged (`frame` holds the whole `error` frame, with `missing`/`extra`
 * for a `conflict`; `status` the HTTP status for the HTTP calls). The client
 * adds its own:
 *
 * | code | when |
 * | --- | --- |
 * | `timeout` | no answer within `requestTimeoutMs` (a request, or `connect` up to `ready`) |
 * | `disconnected` | the connection dropped after the request was written and before its answer; its outcome is unknown and it is not repeated |
 * | `closed` | the client is closed: `close()`, a close code that forbids reconnecting (4001, 4010; `closeCode` says which), reconnecting off or out of attempts |
 * | `connect_failed` | the socket did not open, or closed before `ready` |
 * | `bad_frame` | the server sent a frame that does not decode to an object with a string `t`, or an answer of the wrong type |
 * | `handler_failed` | an event handler threw or rejected (reported on the `error` event; `cause` has it) |
 * | `http_error` | an HTTP answer without the `{error: {code, message}}` body |
 * | `invalid_argument` | a call's argument breaks the protocol's rules (an id, a target, a number) |
 * | `invalid_option` | a constructor option is wrong; the message names it |
 *
 * Branch on `code`, never on `message`: messages are for people.
 */
import type { ErrorCode } from '../protocol/errors.js';
import type { ErrorFrame } from '../protocol/server-frames.js';

export type ClientErrorCode =
  | 'timeout'
  | 'disconnected'
  | 'closed'
  | 'connect_failed'
  | 'bad_frame'
  | 'handler_failed'
  | 'http_error'
  | 'invalid_argument'
  | 'invalid_option';

export type ParleyClientErrorCode = ErrorCode | ClientErrorCode;

export interface ParleyClientErrorDetails {
  /** The server's `error` frame this error stands for. */
  frame?: ErrorFrame;
  /** The HTTP status, for errors of the HTTP calls. */
  status?: number;
  /** The WebSocket close code that ended the client, for `closed` and `unauthorized` on close. */
  closeCode?: number;
  /** The client message id of the `send` this error answers. */
  id?: string;
  cause?: unknown;
}

export class ParleyClientError extends Error {
  readonly code: ParleyClientErrorCode;
  readonly frame: ErrorFrame | undefined;
  readonly status: number | undefined;
  readonly closeCode: number | undefined;
  readonly id: string | undefined;

  constructor(code: ParleyClientErrorCode, message: string, details: ParleyClientErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ParleyClientError';
    this.code = code;
    this.frame = details.frame;
    this.status = details.status;
    this.closeCode = details.closeCode;
    this.id = details.id ?? details.frame?.id;
  }

  /** The error a server `error` frame stands for. */
  static fromFrame(frame: ErrorFrame): ParleyClientError {
    return new ParleyClientError(frame.code, frame.message, { frame });
  }
}
