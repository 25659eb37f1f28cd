/**
 * Random frames at a live node (fast-check): random JSON values, frames of
 * every `t` with valid, missing, junk and extra fields, random bytes and
 * random frames on the MessagePack subprotocol, oversized frames, bodies
 * nested too deep, and random first frames on unauthenticated sockets.
 *
 * Throughout, two bystanders keep exchanging messages. Afterwards:
 * - the node is up and never answered `internal`; every error has a code of
 *   the protocol's table and a message;
 * - the bystanders' store holds exactly what they sent each other (history
 *   and chats), and their group is as it was, although the random frames
 *   name their conversation and their group;
 * - what the random frames did store is exactly what their answers said:
 *   the partner's history with the abuser holds one message per `sent`
 *   answer, with the body as sent, and nothing else.
 *
 * Bounded: 12 runs of 25 to 40 frames (300 to 480).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { connect, dm, exchange, healthy, msgId, newUser, packPlain, Peer, startNode, uniqueUser, signup, type Frame, type TestNode } from './helpers.js';

const FRAME = 32 * 1024;
const BODY = 8 * 1024;
const RUNS = 12;
const ERROR_CODES = new Set(['bad_request', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'too_large', 'rate_limited', 'unavailable', 'internal']);
const TYPES = ['auth', 'send', 'ack', 'read', 'history', 'chats', 'presence_sub', 'settings', 'typing', 'group_create', 'group_add', 'group_remove', 'group_leave', 'group_update', 'group_info', 'keys_put', 'keys_get', 'ping'] as const;
/** Placeholders filled in when the frame is sent. */
const FRESH = '<fresh id>';
const LAST_GROUP = '<last group>';

const plain = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', moreTypes: false });

type Item =
  | { kind: 'json'; frame: Record<string, unknown> }
  | { kind: 'value'; value: unknown }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'packed'; frame: Record<string, unknown> }
  | { kind: 'oversize'; extra: number; binary: boolean }
  | { kind: 'deep'; depth: number }
  /** The latest send again, as it was: answered with the same `sent`, stored once. */
  | { kind: 'repeat' }
  | { kind: 'preauth'; item: Item };

interface Names {
  abuser: string;
  partner: string;
  byConv: string;
  byGroup: string;
}

/** The arbitraries, over the names of the run (bystanders' users are never named: only their conversation and group). */
function items(n: Names): fc.Arbitrary<Item[]> {
  const junk = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.string({ maxLength: 80 }),
    fc.integer(),
    fc.double(),
    fc.constantFrom(null, true, false, -1, 0, Number.MAX_SAFE_INTEGER, '', [], {}),
  );
  const user = fc.oneof(fc.constantFrom(n.partner, n.abuser, 'ghost-user'), fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,12}$/));
  const users = (min: number) => fc.array(user, { minLength: min, maxLength: 4 });
  const conv = fc.oneof(fc.constantFrom(dm(n.abuser, n.partner), n.byConv, `g:${n.byGroup}`, dm(n.abuser, 'ghost-user'), 'g:nogroup'), fc.stringMatching(/^(dm|g):[a-z0-9:]{1,20}$/));
  const group = fc.constantFrom(n.byGroup, 'nogroup', LAST_GROUP, LAST_GROUP);
  const rid = fc.string({ minLength: 1, maxLength: 64 });
  const body = fc.oneof({ weight: 8, arbitrary: fc.jsonValue({ maxDepth: 4 }) }, { weight: 1, arbitrary: fc.integer({ min: BODY - 100, max: BODY + 200 }).map((k) => 'b'.repeat(k)) });
  const key = fc.string({ minLength: 1, maxLength: 40 });
  const to = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(`user:${n.partner}`, `user:${n.partner}`, `user:${n.partner}`, `user:${n.abuser}`, 'user:ghost-user', `group:${n.byGroup}`, 'group:nogroup', `group:${LAST_GROUP}`) },
    { weight: 1, arbitrary: junk },
  );
  const valid: Record<(typeof TYPES)[number], fc.Arbitrary<Record<string, unknown>>> = {
    auth: fc.record({ token: fc.string({ minLength: 1, maxLength: 300 }) }),
    send: fc.record({ id: fc.constant(FRESH), to, body, type: fc.string({ minLength: 1, maxLength: 32 }) }, { requiredKeys: ['id', 'to', 'body'] }),
    ack: fc.record({ inbox: fc.nat({ max: 60 }) }),
    read: fc.record({ conv, seq: fc.integer({ min: 1, max: 60 }) }),
    history: fc.record({ rid, conv, before: fc.integer({ min: 1, max: 60 }), limit: fc.integer({ min: 1, max: 100 }) }, { requiredKeys: ['rid', 'conv'] }),
    chats: fc.record({ rid }),
    presence_sub: fc.record({ rid, users: users(0) }),
    settings: fc.record({ rid, lastSeen: fc.constantFrom('everyone', 'nobody') }),
    typing: fc.record({ conv, on: fc.boolean() }),
    group_create: fc.record({ rid, name: fc.string({ minLength: 1, maxLength: 30 }), members: users(0) }),
    group_add: fc.record({ rid, group, users: users(1) }),
    group_remove: fc.record({ rid, group, users: users(1) }),
    group_leave: fc.record({ rid, group }),
    group_update: fc.record({ rid, group, name: fc.string({ minLength: 1, maxLength: 30 }) }),
    group_info: fc.record({ rid, group }),
    keys_put: fc.record({
      rid,
      identityKey: key,
      signedPreKey: fc.record({ id: fc.nat(), key, sig: key }),
      oneTimePreKeys: fc.array(fc.record({ id: fc.nat({ max: 20 }), key }), { maxLength: 5 }),
    }),
    keys_get: fc.record({ rid, user }),
    ping: fc.record({ rid }, { requiredKeys: [] }),
  };
  const frame = fc
    .tuple(
      fc.constantFrom(...TYPES, ...Array<'send'>(8).fill('send')).chain((t) => valid[t].map((f) => ({ t, ...f }) as Record<string, unknown>)),
      fc.oneof(
        { weight: 8, arbitrary: fc.constant<'keep'>('keep') },
        { weight: 2, arbitrary: fc.record({ drop: fc.nat() }) },
        { weight: 2, arbitrary: fc.record({ set: fc.nat(), to: junk }) },
        { weight: 2, arbitrary: fc.record({ extra: fc.dictionary(fc.string({ maxLength: 12 }), junk, { maxKeys: 3 }) }) },
        { weight: 1, arbitrary: fc.record({ t: junk }) },
      ),
    )
    .map(([f, m]) => {
      if (m === 'keep') return f;
      const keys = Object.keys(f);
      if ('drop' in m) {
        const { [keys[m.drop % keys.length]!]: _, ...rest } = f;
        return rest;
      }
      if ('set' in m) return { ...f, [keys[m.set % keys.length]!]: m.to };
      if ('extra' in m) return Object.assign(m.extra, f);
      return { ...f, t: m.t };
    });
  const direct: fc.Arbitrary<Item> = fc.oneof(
    { weight: 35, arbitrary: frame.map((f): Item => ({ kind: 'json', frame: f })) },
    { weight: 10, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value): Item => ({ kind: 'value', value })) },
    { weight: 8, arbitrary: fc.string({ maxLength: 200 }).map((text): Item => ({ kind: 'text', text })) },
    { weight: 12, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes): Item => ({ kind: 'bytes', bytes })) },
    { weight: 15, arbitrary: frame.map((f): Item => ({ kind: 'packed', frame: f })) },
    { weight: 3, arbitrary: fc.record({ extra: fc.nat({ max: 4096 }), binary: fc.boolean() }).map((o): Item => ({ kind: 'oversize', ...o })) },
    { weight: 2, arbitrary: fc.integer({ min: 65, max: 3000 }).map((depth): Item => ({ kind: 'deep', depth })) },
    { weight: 3, arbitrary: fc.constant<Item>({ kind: 'repeat' }) },
  );
  const item = fc.oneof({ weight: 19, arbitrary: direct }, { weight: 1, arbitrary: direct.map((i): Item => ({ kind: 'preauth', item: i })) });
  return fc.array(item, { minLength: 25, maxLength: 40 });
}

describe('random frames at a live node', () => {
  let t: TestNode;

  before(async () => {
    t = await startNode({ limits: { frameBytes: FRAME, bodyBytes: BODY } });
  });
  after(async () => {
    await t?.stop();
  });

  test('the node stays up, bystanders keep talking, and only what valid frames asked for is stored', async (ctx) => {
    // Bystanders: a conversation and a group, both named by the random frames.
    const a = await newUser(t, 'bya');
    const b = await newUser(t, 'byb');
    const partner = uniqueUser('partner');
    await signup(t, partner);
    const abuserName = uniqueUser('abuser');
    await signup(t, abuserName);
    const g = await a.peer.request({ t: 'group_create', name: 'bystanders', members: [b.name] });
    const byGroup = (g.group as { id: string }).id;
    const groupInfo = g.group;
    const gid = msgId();
    a.peer.send({ t: 'send', id: gid, to: `group:${byGroup}`, body: 'in the group' });
    assert.equal((await a.peer.next((f) => f.id === gid && (f.t === 'sent' || f.t === 'error'))).t, 'sent');
    const groupHistory = (await b.peer.request({ t: 'history', conv: `g:${byGroup}` })).messages;
    const names: Names = { abuser: abuserName, partner, byConv: dm(a.name, b.name), byGroup };

    // The bystanders talk all along.
    const talked: Frame[] = [];
    let talking = true;
    let talkError: unknown = null;
    const talk = (async () => {
      try {
        for (let i = 0; talking; i++) {
          talked.push(i % 2 === 0 ? await exchange(a, b, { i }) : await exchange(b, a, { i }));
          await new Promise((r) => setTimeout(r, 15));
        }
      } catch (e) {
        talkError = e;
      }
    })();

    // The abuser: a JSON socket and a MessagePack one (two devices).
    let json = await connect(t, abuserName, 'dj', 'json');
    let packed = await connect(t, abuserName, 'dp', 'msgpack');
    const sendsById = new Map<string, { frame: Record<string, unknown>; codec: 'json' | 'msgpack' }>();
    /** Ids whose send was answered: `sent`, or an error that says it was not stored. */
    const answered = new Set<string>();
    const sent = new Map<string, Frame>(); // by conv and seq
    const sentById = new Map<string, Frame>();
    const errors: Frame[] = [];
    let lastGroup = 'nogroup';
    let ids = 0;
    let frames = 0;
    const take = (p: Peer): void => {
      for (const f of p.frames.splice(0)) {
        if (f.t === 'error') errors.push(f);
        else if (f.t === 'sent') {
          sent.set(`${String(f.conv)}#${String(f.seq)}`, f);
          const first = sentById.get(f.id as string);
          if (first === undefined) sentById.set(f.id as string, f);
          else assert.deepEqual(f, first, 'the same id answered with another sent');
        }
        if (typeof f.id === 'string' && (f.t === 'sent' || (f.t === 'error' && f.code !== 'unavailable'))) answered.add(f.id);
        else if (f.t === 'group' && typeof (f.group as { id?: unknown })?.id === 'string') lastGroup = (f.group as { id: string }).id;
      }
    };
    const fill = (f: Record<string, unknown>, codec: 'json' | 'msgpack'): Record<string, unknown> => {
      const out: Record<string, unknown> = { ...f };
      if (out.id === FRESH) out.id = `fz${process.pid.toString(36)}x${(ids++).toString(36).padStart(6, '0')}`;
      for (const k of ['group', 'to'] as const) if (typeof out[k] === 'string') out[k] = (out[k] as string).replace(LAST_GROUP, lastGroup);
      if (out.t === 'send' && typeof out.id === 'string') sendsById.set(out.id, { frame: out, codec });
      return out;
    };
    const reopen = async (p: Peer, codes: number[], device: string, codec: 'json' | 'msgpack'): Promise<Peer> => {
      const c = await p.closedWith(5000);
      assert.ok(codes.includes(c.code), `closed with ${c.code} (${c.reason})`);
      take(p);
      return connect(t, abuserName, device, codec);
    };

    const play = async (list: Item[]): Promise<void> => {
      for (const it of list) {
        frames++;
        switch (it.kind) {
          case 'json':
            json.send(fill(it.frame, 'json'));
            break;
          case 'value':
            json.raw(JSON.stringify(it.value), false);
            break;
          case 'text':
            json.raw(it.text, false);
            break;
          case 'bytes':
            packed.raw(Buffer.from(it.bytes), true);
            break;
          case 'packed':
            packed.raw(Buffer.from(plain.pack(fill(it.frame, 'msgpack'))), true);
            break;
          case 'repeat': {
            const last = [...sendsById.values()].at(-1);
            if (last !== undefined) (last.codec === 'json' ? json : packed).send(last.frame);
            break;
          }
          case 'deep':
            json.raw(`{"t":"send","id":"${fill({ id: FRESH }, 'json').id as string}","to":"user:${partner}","body":${'['.repeat(it.depth)}${']'.repeat(it.depth)}}`, false);
            break;
          case 'oversize':
            if (it.binary) {
              packed.raw(Buffer.alloc(FRAME + 1 + it.extra, 0xa1), true);
              packed = await reopen(packed, [1009], 'dp', 'msgpack');
            } else {
              json.raw(JSON.stringify({ t: 'send', id: 'oversized-frame', to: `user:${partner}`, body: 'o'.repeat(FRAME + it.extra) }), false);
              json = await reopen(json, [1009], 'dj', 'json');
            }
            break;
          case 'preauth': {
            const p = await Peer.open(t, { protocol: it.item.kind === 'bytes' || it.item.kind === 'packed' ? 'msgpack' : 'json' });
            const i = it.item;
            if (i.kind === 'json') p.send(i.frame);
            else if (i.kind === 'value') p.raw(JSON.stringify(i.value), false);
            else if (i.kind === 'text') p.raw(i.text, false);
            else if (i.kind === 'bytes') p.raw(Buffer.from(i.bytes), true);
            else if (i.kind === 'packed') p.raw(packPlain(i.frame), true);
            else if (i.kind === 'deep') p.raw(`{"t":"send","body":${'['.repeat(i.depth)}${']'.repeat(i.depth)}}`, false);
            else if (i.kind === 'oversize') p.raw(Buffer.alloc(FRAME + 1 + i.extra), i.binary);
            else p.send({ t: 'send', id: 'repeated-before-auth', to: `user:${partner}`, body: 1 });
            const c = await p.closedWith(5000);
            assert.ok([4001, 1009].includes(c.code), `an unauthenticated socket closed with ${c.code} (${c.reason})`);
            for (const f of p.frames) assert.ok(f.t === 'error' && (f.code === 'unauthorized' || f.code === 'bad_request'), JSON.stringify(f));
            break;
          }
        }
      }
      // Frames on one connection are handled in order: the pong comes after all of them.
      await json.alive();
      await packed.alive();
      await healthy(t);
      take(json);
      take(packed);
    };

    // A failing run is replayed with PARLEY_FC_SEED=<seed>.
    const seed = process.env.PARLEY_FC_SEED !== undefined ? Number(process.env.PARLEY_FC_SEED) : Date.now() ^ (Math.random() * 0x7fffffff);
    ctx.diagnostic(`seed ${seed}`);
    try {
      await fc.assert(
        fc.asyncProperty(items(names), async (list) => {
          await play(list);
          assert.equal(talkError, null);
          const internal = errors.find((e) => e.code === 'internal' || !ERROR_CODES.has(String(e.code)) || typeof e.message !== 'string');
          assert.equal(internal, undefined, JSON.stringify(internal));
        }),
        { numRuns: RUNS, endOnFailure: true, seed, timeout: 60_000 },
      );

      // Let answers still in flight (sends wait for the disk) arrive.
      let seen = -1;
      for (let i = 0; i < 50 && seen !== answered.size; i++) {
        seen = answered.size;
        await new Promise((r) => setTimeout(r, 100));
        take(json);
        take(packed);
      }
      // A send whose connection closed before its answer (an oversized frame
      // behind it) may or may not be stored: sent again with the same id, it
      // gets the answer it would have had, and is stored at most once.
      const unanswered = [...sendsById].filter(([id]) => !answered.has(id));
      for (const [id, { frame, codec }] of unanswered) {
        const p = codec === 'json' ? json : packed;
        p.send(frame);
        take(await p.next((f) => f.id === id && (f.t === 'sent' || f.t === 'error'), 10_000, `answer to ${id}`).then((f) => (p.frames.push(f), p)));
      }
      talking = false;
      await talk;
      assert.equal(talkError, null, String(talkError));
      const byCode: Record<string, number> = {};
      for (const e of errors) byCode[String(e.code)] = (byCode[String(e.code)] ?? 0) + 1;
      ctx.diagnostic(`errors by code: ${JSON.stringify(byCode)}`);
      ctx.diagnostic(`${frames} random frames; ${errors.length} errors; ${sent.size} messages stored by valid sends (${unanswered.length} sent again); ${talked.length} bystander messages meanwhile`);

      // The bystanders' store: exactly what they said to each other, and their group as it was.
      const expectTalk = talked.map((s, i) => ({ seq: s.seq, id: s.id, body: { i } }));
      for (const u of [a, b]) {
        const chats = (await u.peer.request({ t: 'chats' })).chats as Array<{ conv: string; lastSeq: number }>;
        assert.deepEqual(chats.map((c) => c.conv).sort(), [dm(a.name, b.name), `g:${byGroup}`].sort(), `${u.name}'s chats`);
        assert.equal(chats.find((c) => c.conv === dm(a.name, b.name))?.lastSeq, talked.length);
        const history = await allHistory(u.peer, dm(a.name, b.name));
        assert.deepEqual(
          history.map((m) => ({ seq: m.seq, id: m.id, body: m.body })),
          expectTalk,
        );
      }
      assert.deepEqual((await b.peer.request({ t: 'history', conv: `g:${byGroup}` })).messages, groupHistory);
      assert.deepEqual((await b.peer.request({ t: 'group_info', group: byGroup })).group, groupInfo);

      // The partner's conversation with the abuser: one message per `sent`, as sent, nothing else.
      const conv = dm(abuserName, partner);
      const expected = [...sent.values()]
        .filter((s) => s.conv === conv)
        .sort((x, y) => (x.seq as number) - (y.seq as number))
        .map((s) => {
          const origin = sendsById.get(s.id as string);
          assert.ok(origin !== undefined, `a sent for ${String(s.id)}, which was never sent`);
          // What the node stores is what its codec decoded, shown as JSON.
          const body = origin.frame.body;
          const decoded = origin.codec === 'msgpack' ? plain.unpack(plain.pack(body)) : body;
          return { seq: s.seq, id: s.id, ts: s.ts, body: JSON.parse(JSON.stringify(decoded ?? null)) as unknown };
        });
      const p = await connect(t, partner);
      try {
        const history = await allHistory(p, conv);
        assert.deepEqual(
          history.map((m) => ({ seq: m.seq, id: m.id, ts: m.ts, body: m.body })),
          expected,
        );
      } finally {
        p.close();
      }
    } finally {
      talking = false;
      await talk;
      json.close();
      packed.close();
      a.peer.close();
      b.peer.close();
    }
  });
});

/** Every message of `conv`, oldest first, a page of 100 at a time. */
async function allHistory(p: Peer, conv: string): Promise<Frame[]> {
  const out: Frame[] = [];
  let before: number | undefined;
  for (;;) {
    const h = await p.request({ t: 'history', conv, limit: 100, ...(before !== undefined ? { before } : {}) });
    assert.equal(h.t, 'history', JSON.stringify(h));
    const page = h.messages as Frame[];
    out.unshift(...page);
    if (!h.more || page.length === 0) return out;
    before = page[0]!.seq as number;
  }
}
