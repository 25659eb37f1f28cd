/**
 * Schemas of every client→server frame of protocol v1, compiled once.
 *
 * Frames are checked by TypeBox's compiled validators, not by hand-written
 * `if`s: the same schema gives the error its field and rule
 * (`send.id: must match ^[A-Za-z0-9_-]{8,64}$`). Unknown `t` is `bad_request`.
 * Limits that depend on configuration (body size, history limit, group size)
 * are checked after the schema, by the code that knows the limits.
 *
 * Guarantees of `checkFrame` (PROTOCOL.md "Precise rules"):
 * - No field nests deeper than `MAX_DEPTH` (64) arrays and objects, wherever
 *   it sits in the frame (`keys_put.signedPreKey: nested deeper than 64
 *   levels`); for `payloads` the bound applies to each entry. This is
 *   checked first, iteratively, before any recursive code sees the value.
 * - Fields a frame does not define are removed (the schema's `Clean`), at
 *   every level: what passes on to the actors is exactly what the schema
 *   describes, so nothing undefined is stored, forwarded or echoed (a client
 *   may be newer than the node, so they are dropped, not refused).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, ValueErrorType, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { CLIENT_ID_PATTERN, CONV_PATTERN, DEVICE_PATTERN, GROUP_PATTERN, TO_PATTERN, USER_PATTERN } from './ids.js';

const Rid = Type.String({ minLength: 1, maxLength: 64 });
const User = Type.String({ pattern: USER_PATTERN });
const Group = Type.String({ pattern: GROUP_PATTERN });
const Conv = Type.String({ pattern: CONV_PATTERN });
const Seq = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
const Key = Type.String({ minLength: 1, maxLength: 4096 });
const Users = Type.Array(User, { minItems: 1, maxItems: 1024 });

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
  settings: Type.Object({
    t: Type.Literal('settings'),
    rid: Rid,
    lastSeen: Type.Optional(Type.Union([Type.Literal('everyone'), Type.Literal('nobody')])),
    groupAdd: Type.Optional(Type.Union([Type.Literal('everyone'), Type.Literal('nobody')])),
  }),
  typing: Type.Object({ t: Type.Literal('typing'), conv: Conv, on: Type.Boolean() }),
  group_create: Type.Object({
    t: Type.Literal('group_create'),
    rid: Rid,
    name: Type.String({ minLength: 1, maxLength: 128 }),
    members: Type.Array(User, { maxItems: 1024 }),
  }),
  group_add: Type.Object({ t: Type.Literal('group_add'), rid: Rid, group: Group, users: Users }),
  group_remove: Type.Object({ t: Type.Literal('group_remove'), rid: Rid, group: Group, users: Users }),
  group_leave: Type.Object({ t: Type.Literal('group_leave'), rid: Rid, group: Group }),
  group_update: Type.Object({ t: Type.Literal('group_update'), rid: Rid, group: Group, name: Type.String({ minLength: 1, maxLength: 128 }) }),
  group_info: Type.Object({ t: Type.Literal('group_info'), rid: Rid, group: Group }),
  keys_put: Type.Object({
    t: Type.Literal('keys_put'),
    rid: Rid,
    identityKey: Key,
    signedPreKey: Type.Object({ id: Type.Integer({ minimum: 0 }), key: Key, sig: Key }),
    oneTimePreKeys: Type.Array(Type.Object({ id: Type.Integer({ minimum: 0 }), key: Key }), { maxItems: 200 }),
  }),
  keys_get: Type.Object({ t: Type.Literal('keys_get'), rid: Rid, user: User }),
  ping: Type.Object({ t: Type.Literal('ping'), rid: Type.Optional(Rid) }),
  devices: Type.Object({ t: Type.Literal('devices'), rid: Rid }),
  device_remove: Type.Object({ t: Type.Literal('device_remove'), rid: Rid, device: Type.String({ pattern: DEVICE_PATTERN }) }),
} as const;

export type FrameType = keyof typeof FrameSchemas;
export type ClientFrame = { [K in FrameType]: Static<(typeof FrameSchemas)[K]> }[FrameType];
export type FrameOf<K extends FrameType> = Static<(typeof FrameSchemas)[K]>;

const checkers = new Map<string, { schema: TSchema; check: TypeCheck<TSchema> }>(
  Object.entries(FrameSchemas).map(([t, s]) => [t, { schema: s as TSchema, check: TypeCompiler.Compile(s as TSchema) }]),
);

export type FrameCheck = { ok: true; frame: ClientFrame } | { ok: false; message: string; rid?: string; id?: string };

/** Checks a decoded frame against its schema; the error names the field and the rule. */
export function checkFrame(v: unknown): FrameCheck {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, message: 'a frame is an object with a type field t' };
  const o = v as Record<string, unknown>;
  const echo = {
    ...(typeof o.rid === 'string' && o.rid.length <= 64 ? { rid: o.rid } : {}),
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
 * How deep a `body` (or a payload) may nest. A frame within the size limit
 * can still nest tens of thousands of levels deep, and every recursive
 * walker downstream (JSON.stringify, MessagePack, structured clone to the
 * scheduler threads) then overflows the stack, which, thrown from a socket
 * handler, would take the whole node down.
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
