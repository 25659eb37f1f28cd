/**
 * Identifier rules of the client protocol (PROTOCOL.md, "Conventions"), as
 * patterns (for the frame schemas) and parsers (for the code that builds
 * actor ids from them). One place, so a rule cannot differ between the HTTP
 * API, the WebSocket frames and the domain.
 */
export const USER_PATTERN = '^[a-z0-9][a-z0-9_.-]{0,63}$';
export const DEVICE_PATTERN = '^[A-Za-z0-9_-]{1,32}$';
export const CLIENT_ID_PATTERN = '^[A-Za-z0-9_-]{8,64}$';
/** Group ids are assigned by the server (nanoid, 21 characters); accepted up to 64. */
export const GROUP_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
export const CONV_PATTERN = '^(dm:[a-z0-9][a-z0-9_.-]{0,63}:[a-z0-9][a-z0-9_.-]{0,63}|g:[A-Za-z0-9_-]{1,64})$';
export const TO_PATTERN = '^(user:[a-z0-9][a-z0-9_.-]{0,63}|group:[A-Za-z0-9_-]{1,64})$';

const USER_RE = new RegExp(USER_PATTERN);
const DEVICE_RE = new RegExp(DEVICE_PATTERN);

export function isUser(s: unknown): s is string {
  return typeof s === 'string' && USER_RE.test(s);
}

export function isDevice(s: unknown): s is string {
  return typeof s === 'string' && DEVICE_RE.test(s);
}

/** The conversation of two users: `dm:<a>:<b>` with a < b in byte order. */
export function dmConv(a: string, b: string): string {
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
    return /^[A-Za-z0-9_-]{1,64}$/.test(g) ? { kind: 'group', group: g } : null;
  }
  return null;
}
