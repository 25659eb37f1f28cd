/**
 * Identifier rules of client protocol v1 (docs/protocol.md, "Identifiers"),
 * as pattern strings (for the frame schemas and error messages), predicates
 * and parsers (for the code that builds actor ids from them).
 *
 * One place, so a rule cannot differ between the HTTP API, the WebSocket
 * frames, the chat actors and the client. Nothing here depends on anything
 * but the language: the client loads this file as it is.
 */

/** A user: lower-case letters, digits, `_ . -`; 1–64 characters, not starting with a symbol. */
export const USER_PATTERN = '^[a-z0-9][a-z0-9_.-]{0,63}$';
/** A device: 1–32 of `A-Z a-z 0-9 _ -`. */
export const DEVICE_PATTERN = '^[A-Za-z0-9_-]{1,32}$';
/** A client message id (`send.id`): 8–64 of `A-Z a-z 0-9 _ -`. */
export const CLIENT_ID_PATTERN = '^[A-Za-z0-9_-]{8,64}$';
/** Group ids are assigned by the server (nanoid, 21 characters); accepted up to 64. */
export const GROUP_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
/** A conversation: `dm:<a>:<b>` (two users) or `g:<group>`; the order a < b is checked by `parseConv`. */
export const CONV_PATTERN = '^(dm:[a-z0-9][a-z0-9_.-]{0,63}:[a-z0-9][a-z0-9_.-]{0,63}|g:[A-Za-z0-9_-]{1,64})$';
/** A `send` target: `user:<user>` or `group:<group>`. */
export const TO_PATTERN = '^(user:[a-z0-9][a-z0-9_.-]{0,63}|group:[A-Za-z0-9_-]{1,64})$';

/** A `rid` is a string of 1 to this many characters. */
export const MAX_RID_LENGTH = 64;

/** A message's recipient in `send`: one user or one group. */
export type SendTarget = `user:${string}` | `group:${string}`;

/** A conversation id: `dm:<a>:<b>` with a < b (byte order), or `g:<group>`. */
export type ConvId = string;

const USER_RE = new RegExp(USER_PATTERN);
const DEVICE_RE = new RegExp(DEVICE_PATTERN);
const CLIENT_ID_RE = new RegExp(CLIENT_ID_PATTERN);
const GROUP_RE = new RegExp(GROUP_PATTERN);

export function isUser(s: unknown): s is string {
  return typeof s === 'string' && USER_RE.test(s);
}

export function isDevice(s: unknown): s is string {
  return typeof s === 'string' && DEVICE_RE.test(s);
}

export function isClientId(s: unknown): s is string {
  return typeof s === 'string' && CLIENT_ID_RE.test(s);
}

export function isGroup(s: unknown): s is string {
  return typeof s === 'string' && GROUP_RE.test(s);
}

/** The conversation of two users: `dm:<a>:<b>` with a < b in byte order. */
export function dmConv(a: string, b: string): ConvId {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

export type ParsedConv = { kind: 'dm'; a: string; b: string } | { kind: 'group'; group: string };

/** Parses a conversation id; null when it breaks the rules (including a dm with itself or out of order). */
export function parseConv(conv: string): ParsedConv | null {
  if (conv.startsWith('dm:')) {
    const rest = conv.slice(3);
    const i = rest.indexOf(':');
    if (i < 0) return null;
    const a = rest.slice(0, i);
    const b = rest.slice(i + 1);
    if (!isUser(a) || !isUser(b) || !(a < b)) return null;
    return { kind: 'dm', a, b };
  }
  if (conv.startsWith('g:')) {
    const g = conv.slice(2);
    return isGroup(g) ? { kind: 'group', group: g } : null;
  }
  return null;
}
