/**
 * The error codes of client protocol v1 (docs/protocol.md, "Errors"): the
 * `code` of every `error` frame and of every HTTP error body
 * `{error: {code, message}}`. The list is closed: a server never sends
 * another code, and a client may treat an unknown one as a foreign error.
 */

export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'too_large',
  'rate_limited',
  'unavailable',
  'internal',
] as const;

/** Every `code` an `error` frame (or an HTTP error body) may carry. */
export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === 'string' && (ERROR_CODES as readonly string[]).includes(s);
}
