/**
 * The frames a client sends (docs/protocol.md, "Client to server"): one
 * TypeBox schema per frame type, the TypeScript types derived from them,
 * and `checkFrame`, which the server runs on every decoded frame.
 *
 * Frames are checked by TypeBox's compiled validators (compiled once, at
 * load), not by hand-written `if`s: the same schema gives the error its
 * field and rule (`send.id: must match ^[A-Za-z0-9_-]{8,64}$`). An unknown
 * `t` is `bad_request`. Limits that depend on configuration (body size,
 * history limit, group size) are checked after the schema, by the code that
 * knows the limits.
 *
 * Guarantees of `checkFrame`:
 * - No field nests deeper than `MAX_DEPTH` (64) arrays and objects, wherever
 *   it sits in the frame (`keys_put.signedPreKey: nested deeper than 64
 *   levels`); for `payloads` the bound applies to each entry. This is
 *   checked first, iteratively, before any recursive code sees the value.
 * - Fields a frame does not define are removed (the schema's `Clean`), at
 *   every level: what passes on to the actors is exactly what the schema
 *   describes, so nothing undefined is stored, forwarded or echoed (a client
 *   may be newer than the node, so they are dropped, not refused).
 *
 * The client imports only the types of this file (erased at compile time),
 * so it never loads TypeBox.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, ValueErrorType, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { CLIENT_ID_PATTERN, CONV_PATTERN, DEVICE_PATTERN, GROUP_PATTERN, MAX_RID_LENGTH, TO_PATTERN, USER_PATTERN, type SendTarget } from './ids.js';

const Rid = Type.String({ minLength: 1, maxLength: MAX_RID_LENGTH });
const User = Type.String({ pattern: USER_PATTERN });
const Group = Type.String({ pattern: GROUP_PATTERN });
const Conv = Type.String({ pattern: CONV_PATTERN });
const Seq = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
/** Key material is opaque: a string (base64 by convention) of 1–4096 characters. */
const Key = Type.String({ minLength: 1, maxLength: 4096 });
const Users = Type.Array(User, { minItems: 1, maxItems: 1024 });
const GroupName = Type.String({ minLength: 1, maxLength: 128 });
/** Who may see `lastSeen`, or add the user to groups. */
const Audience = Type.Union([Type.Literal('everyone'), Type.Literal('nobody')]);
const SignedPreKey = Type.Object({ id: Type.Integer({ minimum: 0 }), key: Key, sig: Key });
const OneTimePreKey = Type.Object({ id: Type.Integer({ minimum: 0 }), key: Key });

export const FrameSchemas = {
  auth: Type.Object({ t: Type.Literal('auth'), token: Type.String({ minLength: 1, maxLength: 8192 }) }),
  send: Type.Object({
    t: Type.Literal('send'),
    id: Type.String({ pattern: CLIENT_ID_PATTERN }),
    to: Type.String({ pattern: TO_PATTERN }),
    body: Type.Optional(Type.Unknown()),
    payloads: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.Unknown())),
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
  }),
  ack: Type.Object({ t: Type.Literal('ack'), inbox: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }) }),
  read: Type.Object({ t: Type.Literal('read'), conv: Conv, seq: Seq }),
  history: Type.Object({
    t: Type.Literal('history'),
    rid: Rid,
    conv: Conv,
    before: Type.Optional(Seq),
    limit: Type.Optional(Type.Integer({ minimum: 1 })),
  }),
  chats: Type.Object({ t: Type.Literal('chats'), rid: Rid }),
  presence_sub: Type.Object({ t: Type.Literal('presence_sub'), rid: Rid, users: Type.Array(User, { maxItems: 1024 }) }),
  // Both optional, at least one: the user actor answers bad_request to neither.
  settings: Type.Object({ t: Type.Literal('settings'), rid: Rid, lastSeen: Type.Optional(Audience), groupAdd: Type.Optional(Audience) }),
  typing: Type.Object({ t: Type.Literal('typing'), conv: Conv, on: Type.Boolean() }),
  group_create: Type.Object({ t: Type.Literal('group_create'), rid: Rid, name: GroupName, members: Type.Array(User, { maxItems: 1024 }) }),
  group_add: Type.Object({ t: Type.Literal('group_add'), rid: Rid, group: Group, users: Users }),
  group_remove: Type.Object({ t: Type.Literal('group_remove'), rid: Rid, group: Group, users: Users }),
  group_leave: Type.Object({ t: Type.Literal('group_leave'), rid: Rid, group: Group }),
  group_update: Type.Object({ t: Type.Literal('group_update'), rid: Rid, group: Group, name: GroupName }),
  group_info: Type.Object({ t: Type.Literal('group_info'), rid: Rid, group: Group }),
  keys_put: Type.Object({
    t: Type.Literal('keys_put'),
    rid: Rid,
    identityKey: Key,
    signedPreKey: SignedPreKey,
    oneTimePreKeys: Type.Array(OneTimePreKey, { maxItems: 200 }),
  }),
  keys_get: Type.Object({ t: Type.Literal('keys_get'), rid: Rid, user: User }),
  ping: Type.Object({ t: Type.Literal('ping'), rid: Type.Optional(Rid) }),
  devices: Type.Object({ t: Type.Literal('devices'), rid: Rid }),
  device_remove: Type.Object({ t: Type.Literal('device_remove'), rid: Rid, device: Type.String({ pattern: DEVICE_PATTERN }) }),
} as const;

export type FrameType = keyof typeof FrameSchemas;
export type FrameOf<K extends FrameType> = Static<(typeof FrameSchemas)[K]>;
/** Every frame a client may send, as the server has it after `checkFrame`. */
export type ClientFrame = { [K in FrameType]: FrameOf<K> }[FrameType];

// ---- the frames by name, for code that builds them (the client) ------------------------

export type Audience = Static<typeof Audience>;
export type LastSeenVisibility = Audience;
export type GroupAddSetting = Audience;
/** Key material: opaque strings (base64 by convention). */
export type KeyBytes = string;
export type SignedPreKey = Static<typeof SignedPreKey>;
export type OneTimePreKey = Static<typeof OneTimePreKey>;

export type AuthFrame = FrameOf<'auth'>;
/** `send` with `to` typed as a target and exactly one of `body` and `payloads` (the schema checks the rest). */
type SendCommon = Omit<FrameOf<'send'>, 'to' | 'body' | 'payloads'> & { to: SendTarget };
/** `body` is any JSON value. */
export type SendBodyFrame = SendCommon & { body: unknown; payloads?: never };
/** `payloads` maps `"<user>/<device>"` to the opaque value that device receives as `body`. */
export type SendPayloadsFrame = SendCommon & { payloads: Record<string, unknown>; body?: never };
export type SendFrame = SendBodyFrame | SendPayloadsFrame;
export type AckFrame = FrameOf<'ack'>;
export type ReadFrame = FrameOf<'read'>;
export type HistoryRequest = FrameOf<'history'>;
export type ChatsRequest = FrameOf<'chats'>;
export type PresenceSubRequest = FrameOf<'presence_sub'>;
export type SettingsRequest = FrameOf<'settings'>;
export type TypingRequest = FrameOf<'typing'>;
export type GroupCreateRequest = FrameOf<'group_create'>;
export type GroupAddRequest = FrameOf<'group_add'>;
export type GroupRemoveRequest = FrameOf<'group_remove'>;
export type GroupLeaveRequest = FrameOf<'group_leave'>;
export type GroupUpdateRequest = FrameOf<'group_update'>;
export type GroupInfoRequest = FrameOf<'group_info'>;
export type KeysPutRequest = FrameOf<'keys_put'>;
export type KeysGetRequest = FrameOf<'keys_get'>;
export type PingRequest = FrameOf<'ping'>;
export type DevicesRequest = FrameOf<'devices'>;
export type DeviceRemoveRequest = FrameOf<'device_remove'>;

/** The client frames that carry a `rid` and expect one answer (`ping` may carry one). */
export type RequestFrame = Extract<ClientFrame, { rid: string }> | PingRequest;

// ---- checking -----------------------------------------------------------------------------

const checkers = new Map<string, { schema: TSchema; check: TypeCheck<TSchema> }>(
  Object.entries(FrameSchemas).map(([t, s]) => [t, { schema: s as TSchema, check: TypeCompiler.Compile(s as TSchema) }]),
);

export type FrameCheck = { ok: true; frame: ClientFrame } | { ok: false; message: string; rid?: string; id?: string };

/** Checks a decoded frame against its schema; the error names the field and the rule. */
export function checkFrame(v: unknown): FrameCheck {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, message: 'a frame is an object with a type field t' };
  const o = v as Record<string, unknown>;
  const echo = {
    ...(typeof o.rid === 'string' && o.rid.length <= MAX_RID_LENGTH ? { rid: o.rid } : {}),
    ...(typeof o.id === 'string' && o.id.length <= 64 ? { id: o.id } : {}),
  };
  const t = typeof o.t === 'string' ? o.t.slice(0, 40) : '';
  // Depth first: every later step (the schema's own walk, JSON or
  // MessagePack encoding, structured clone) recurses and could overflow.
  const deep = tooDeep(o);
  if (deep !== null) return { ok: false, message: `${t || 'frame'}.${deep}: nested deeper than ${MAX_DEPTH} levels`, ...echo };
  if (typeof o.t !== 'string') return { ok: false, message: 't: every frame has a string type field t', ...echo };
  const c = checkers.get(o.t);
  if (c === undefined) return { ok: false, message: `t: unknown frame type ${JSON.stringify(t)}`, ...echo };
  Value.Clean(c.schema, v);
  if (!c.check.Check(v)) {
    const e = c.check.Errors(v).First();
    const field = e?.path ? e.path.slice(1).replace(/\//g, '.') : '';
    // A pattern's own text says more than "Expected string to match pattern"; a missing field is just missing.
    const rule = e?.type === ValueErrorType.StringPattern ? `must match ${e.schema.pattern as string}` : (e?.message ?? 'invalid');
    return { ok: false, message: `${o.t}${field ? '.' + field : ''}: ${rule}`, ...echo };
  }
  if (o.t === 'send') {
    const hasBody = 'body' in o && o.body !== undefined;
    const hasPayloads = o.payloads !== undefined;
    if (hasBody === hasPayloads) return { ok: false, message: 'send: exactly one of body or payloads', ...echo };
  }
  return { ok: true, frame: v as ClientFrame };
}

/**
 * How deep any field (a `body`, a payload, a key) may nest. A frame within
 * the size limit can still nest tens of thousands of levels deep, and every
 * recursive walker downstream (JSON.stringify, MessagePack, structured
 * clone to the scheduler threads) then overflows the stack, which, thrown
 * from a socket handler, would take the whole node down.
 */
export const MAX_DEPTH = 64;

/**
 * The first top-level field (`payloads.<key>` for a payload) whose value
 * nests more than `MAX_DEPTH` arrays/objects deep, or null. Iterative, so it
 * cannot overflow itself, and it stops at the first offender.
 */
function tooDeep(frame: Record<string, unknown>): string | null {
  for (const [k, x] of Object.entries(frame)) {
    if (k === 'payloads' && typeof x === 'object' && x !== null && !Array.isArray(x)) {
      for (const [pk, p] of Object.entries(x)) if (nestedDeeper(p, MAX_DEPTH)) return `payloads.${pk.slice(0, 100)}`;
    } else if (nestedDeeper(x, MAX_DEPTH)) return k.slice(0, 64);
  }
  return null;
}

/** Whether `v` nests more than `max` arrays/objects deep. */
function nestedDeeper(v: unknown, max: number): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const stack: Array<[unknown, number]> = [[v, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null || ArrayBuffer.isView(x)) continue;
    if (d >= max) return true;
    for (const c of Array.isArray(x) ? x : Object.values(x)) if (typeof c === 'object' && c !== null) stack.push([c, d + 1]);
  }
  return false;
}
