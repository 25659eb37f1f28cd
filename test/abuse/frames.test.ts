/**
 * Bad frames (PROTOCOL.md "Precise rules", "Limits"): each gets an `error`
 * naming the rule it broke, the connection stays open unless a close code
 * applies (1009 for a frame over the limit), nothing is stored, and other
 * users are unaffected.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bystanders,
  connect,
  dm,
  healthy,
  msgId,
  newUser,
  packPlain,
  Peer,
  postJson,
  snapshot,
  startNode,
  unaffected,
  type Bystanders,
  type Peer as PeerT,
  type TestNode,
} from './helpers.js';

const FRAME = 16 * 1024;
const BODY = 4 * 1024;

describe('bad frames', () => {
  let t: TestNode;
  let by: Bystanders;
  let abuser: { name: string; peer: PeerT };
  let other: { name: string; peer: PeerT };

  before(async () => {
    t = await startNode({ limits: { frameBytes: FRAME, bodyBytes: BODY } });
    by = await bystanders(t);
    abuser = await newUser(t, 'abuser');
    other = await newUser(t, 'other');
  });
  after(async () => {
    by?.close();
    abuser?.peer.close();
    other?.peer.close();
    await t?.stop();
  });

  /** Runs `abuse` as the abuser; its own store, the bystanders' and its connection are as before. */
  async function harmless(abuse: (p: PeerT) => Promise<void>, p: PeerT = abuser.peer): Promise<void> {
    const mine = await snapshot(p);
    await unaffected(t, by, () => abuse(p));
    await p.alive();
    assert.deepEqual(await snapshot(p), mine, 'the abuser’s own chats and history changed');
  }

  test('malformed JSON: bad_request "malformed JSON frame", the connection stays open', async () => {
    await harmless(async (p) => {
      for (const text of ['{bad', '', '{"t":"send",', 'nul', '{"t":"ping"}}', '\u0000\u0001']) {
        p.raw(text, false);
        const e = await p.error();
        assert.equal(e.code, 'bad_request');
        assert.match(String(e.message), /^malformed JSON frame/, `for ${JSON.stringify(text)}`);
      }
      p.raw(Buffer.from('{"t":"ping"}'), true);
      assert.match(String((await p.error()).message), /malformed JSON frame: binary frame on the JSON subprotocol/);
      for (const v of ['"a string"', '42', 'null', '[{"t":"ping"}]']) {
        p.raw(v, false);
        const e = await p.error();
        assert.equal(e.code, 'bad_request');
        assert.match(String(e.message), /a frame is an object with a type field t/);
      }
    });
  });

  test('malformed MessagePack: bad_request "malformed MessagePack frame", the connection stays open', async () => {
    const m = await newUser(t, 'packer', 'msgpack');
    try {
      await harmless(async (p) => {
        // 0xc1 ("never used") decodes to a marker object without `t`: still bad_request.
        p.raw(Buffer.from([0xc1]), true);
        assert.equal((await p.error()).code, 'bad_request');
        const bad = [
          Buffer.from([0x82, 0xa1, 0x74]), // map cut short
          Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]), // str32 longer than the frame
          Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), // array32 of 4 billion, empty
          Buffer.from([0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 0x74]), // map32 of 2 billion
          Buffer.alloc(4000, 0x91), // arrays nested 4000 deep, never closed
          Buffer.concat([Buffer.alloc(3000, 0x91), Buffer.from([0xc0])]), // nested 3000 deep
        ];
        for (const b of bad) {
          p.raw(b, true);
          const e = await p.error();
          assert.equal(e.code, 'bad_request', JSON.stringify(e));
          assert.match(String(e.message), /^(malformed MessagePack frame|a frame is an object)/, `for ${b.subarray(0, 8).toString('hex')}`);
        }
        p.raw('{"t":"ping"}', false);
        assert.match(String((await p.error()).message), /malformed MessagePack frame: text frame on the MessagePack subprotocol/);
        for (const v of [packPlain('a string'), packPlain([{ t: 'ping' }]), packPlain(7)]) {
          p.raw(v, true);
          assert.match(String((await p.error()).message), /a frame is an object with a type field t/);
        }
      }, m.peer);
    } finally {
      m.peer.close();
    }
  });

  test('unknown t: bad_request naming t, with the rid echoed', async () => {
    await harmless(async (p) => {
      for (const t of ['nope', 'SEND', 'auth2', '__proto__', 'constructor', 'toString', '']) {
        p.send({ t, rid: `u-${t}` });
        const e = await p.error(`u-${t}`);
        assert.equal(e.code, 'bad_request');
        assert.match(String(e.message), /^t: unknown frame type/, t);
      }
      for (const v of [{ rid: 'no-t' }, { t: 5, rid: 'num-t' }, { t: null, rid: 'null-t' }, { t: ['send'], rid: 'arr-t' }]) {
        p.send(v);
        const e = await p.error(v.rid);
        assert.equal(e.code, 'bad_request');
        assert.match(String(e.message), /^t: every frame has a string type field t/);
      }
    });
  });

  test('missing or wrong-typed fields: bad_request naming the field and the rule', async () => {
    const to = `user:${other.name}`;
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ t: 'send', to, body: 'x' }, /^send\.id: Expected required property/],
      [{ t: 'send', id: 12345678, to, body: 'x' }, /^send\.id: Expected string/],
      [{ t: 'send', id: msgId(), body: 'x' }, /^send\.to: Expected required property/],
      [{ t: 'send', id: msgId(), to }, /^send: exactly one of body or payloads/],
      [{ t: 'send', id: msgId(), to, body: 'x', payloads: {} }, /^send: exactly one of body or payloads/],
      [{ t: 'send', id: msgId(), to, payloads: [1, 2] }, /^send\.payloads: Expected object/],
      [{ t: 'send', id: msgId(), to, body: 1, type: '' }, /^send\.type: Expected string length greater or equal to 1/],
      [{ t: 'send', id: msgId(), to, body: 1, type: 7 }, /^send\.type: Expected string/],
      [{ t: 'history', conv: 5 }, /^history\.conv: Expected string/],
      [{ t: 'history' }, /^history\.conv: Expected required property/],
      [{ t: 'history', conv: dm(abuser.name, other.name), limit: 0 }, /^history\.limit: Expected integer to be greater or equal to 1/],
      [{ t: 'history', conv: dm(abuser.name, other.name), limit: 101 }, /^history\.limit: must be at most 100/],
      [{ t: 'history', conv: dm(abuser.name, other.name), before: 1.5 }, /^history\.before: Expected integer/],
      [{ t: 'settings', lastSeen: 'friends' }, /^settings\.lastSeen: /],
      [{ t: 'group_create', name: '', members: [] }, /^group_create\.name: Expected string length greater or equal to 1/],
      [{ t: 'group_create', name: 'g', members: 'all' }, /^group_create\.members: Expected array/],
      [{ t: 'group_add', group: 'abc', users: [] }, /^group_add\.users: Expected array length to be greater or equal to 1/],
      [{ t: 'presence_sub', users: null }, /^presence_sub\.users: Expected array/],
      [{ t: 'keys_put', identityKey: 'k', signedPreKey: { id: -1, key: 'k', sig: 's' }, oneTimePreKeys: [] }, /^keys_put\.signedPreKey\.id: Expected integer to be greater or equal to 0/],
      [{ t: 'keys_put', identityKey: 'k', signedPreKey: { id: 1, key: 'k', sig: 's' }, oneTimePreKeys: [{ id: 1 }] }, /^keys_put\.oneTimePreKeys\.0\.key: Expected required property/],
      [{ t: 'auth' }, /^auth\.token: Expected required property/],
    ];
    await harmless(async (p) => {
      for (const [frame, rule] of cases) {
        const e = await p.request(frame);
        assert.equal(e.t, 'error', JSON.stringify(frame));
        assert.equal(e.code, 'bad_request', JSON.stringify(frame));
        assert.match(String(e.message), rule, JSON.stringify(frame));
      }
      // Frames without rid: the error comes back all the same, naming the field.
      for (const [frame, rule] of [
        [{ t: 'ack', inbox: -1 }, /^ack\.inbox: Expected integer to be greater or equal to 0/],
        [{ t: 'ack', inbox: '3' }, /^ack\.inbox: Expected integer/],
        [{ t: 'ack' }, /^ack\.inbox: Expected required property/],
        [{ t: 'read', conv: dm(abuser.name, other.name), seq: 0 }, /^read\.seq: Expected integer to be greater or equal to 1/],
        [{ t: 'typing', conv: dm(abuser.name, other.name), on: 'yes' }, /^typing\.on: Expected boolean/],
        [{ t: 'ping', rid: 'x'.repeat(65) }, /^ping\.rid: Expected string length less or equal to 64/],
      ] as Array<[Record<string, unknown>, RegExp]>) {
        p.send(frame);
        const e = await p.error();
        assert.equal(e.code, 'bad_request', JSON.stringify(frame));
        assert.match(String(e.message), rule, JSON.stringify(frame));
      }
    });
  });

  test('ids breaking the patterns: bad_request naming the field and its pattern', async () => {
    const ID = '^[A-Za-z0-9_-]{8,64}$';
    const cases: Array<[Record<string, unknown>, string]> = [
      // client message id
      [{ t: 'send', id: 'short', to: `user:${other.name}`, body: 1 }, `send.id: must match ${ID}`],
      [{ t: 'send', id: 'has spaces in it', to: `user:${other.name}`, body: 1 }, `send.id: must match ${ID}`],
      [{ t: 'send', id: 'x'.repeat(65), to: `user:${other.name}`, body: 1 }, `send.id: must match ${ID}`],
      [{ t: 'send', id: 'ünïcödé-id', to: `user:${other.name}`, body: 1 }, `send.id: must match ${ID}`],
      // user
      [{ t: 'send', id: msgId(), to: 'user:Alice', body: 1 }, 'send.to: must match ^(user:'],
      [{ t: 'send', id: msgId(), to: 'user:', body: 1 }, 'send.to: must match ^(user:'],
      [{ t: 'send', id: msgId(), to: other.name, body: 1 }, 'send.to: must match ^(user:'],
      [{ t: 'send', id: msgId(), to: `user:${'a'.repeat(65)}`, body: 1 }, 'send.to: must match ^(user:'],
      [{ t: 'keys_get', user: 'Bob' }, 'keys_get.user: must match ^[a-z0-9][a-z0-9_.-]{0,63}$'],
      [{ t: 'keys_get', user: '.bob' }, 'keys_get.user: must match ^[a-z0-9][a-z0-9_.-]{0,63}$'],
      [{ t: 'presence_sub', users: ['fine', 'NOT fine'] }, 'presence_sub.users.1: must match ^[a-z0-9][a-z0-9_.-]{0,63}$'],
      [{ t: 'group_create', name: 'g', members: ['-dash'] }, 'group_create.members.0: must match ^[a-z0-9][a-z0-9_.-]{0,63}$'],
      // group
      [{ t: 'send', id: msgId(), to: 'group:bad/group', body: 1 }, 'send.to: must match ^(user:'],
      [{ t: 'group_info', group: 'g'.repeat(65) }, 'group_info.group: must match ^[A-Za-z0-9_-]{1,64}$'],
      [{ t: 'group_info', group: 'bad.group' }, 'group_info.group: must match ^[A-Za-z0-9_-]{1,64}$'],
      [{ t: 'group_add', group: '', users: [other.name] }, 'group_add.group: must match ^[A-Za-z0-9_-]{1,64}$'],
      // conversation
      [{ t: 'history', conv: 'room:1' }, 'history.conv: must match ^(dm:'],
      [{ t: 'history', conv: 'g:' }, 'history.conv: must match ^(dm:'],
      [{ t: 'history', conv: `dm:${abuser.name}` }, 'history.conv: must match ^(dm:'],
      [{ t: 'history', conv: dm(abuser.name, other.name).replace(/^dm:(.*):(.*)$/, 'dm:$2:$1') }, 'is not a conversation id (dm:<a>:<b> with a < b'],
      [{ t: 'history', conv: `dm:${abuser.name}:${abuser.name}` }, 'is not a conversation id'],
    ];
    await harmless(async (p) => {
      for (const [frame, rule] of cases) {
        const e = await p.request(frame);
        assert.equal(e.t, 'error', JSON.stringify(frame));
        assert.equal(e.code, 'bad_request', JSON.stringify(frame));
        assert.ok(String(e.message).includes(rule), `${JSON.stringify(frame)} → ${String(e.message)}`);
      }
      // A client id is echoed in the error when it is a string, so the client can match it.
      p.send({ t: 'send', id: 'short', to: `user:${other.name}`, body: 1 });
      assert.equal((await p.error('short')).code, 'bad_request');
      // Sending to oneself breaks the rule on `to`.
      const self = msgId();
      p.send({ t: 'send', id: self, to: `user:${abuser.name}`, body: 1 });
      assert.match(String((await p.error(self)).message), /^send\.to: sending to oneself/);
    });
    // Devices are named by the login (and then by the token).
    for (const device of ['bad device', 'd'.repeat(33), '', 'dé']) {
      const r = await postJson(`${t.url}/v1/sessions`, { user: abuser.name, password: 'correct horse battery', device });
      assert.equal(r.status, 400, device);
      assert.match(String((r.body.error as { message: string }).message), /device must match \^\[A-Za-z0-9_-\]\{1,32\}\$/);
    }
    for (const user of ['Bad', '', '.x']) {
      const r = await postJson(`${t.url}/v1/accounts`, { user, password: 'correct horse battery' });
      assert.equal(r.status, 400, user);
      assert.match(String((r.body.error as { message: string }).message), /user must match/);
    }
  });

  test('frame over limits.frameBytes: close 1009, the node stays up', async () => {
    await unaffected(t, by, async () => {
      // Authenticated, JSON.
      const a = await connect(t, abuser.name, 'big1');
      a.raw(JSON.stringify({ t: 'send', id: msgId(), to: `user:${other.name}`, body: 'x'.repeat(FRAME) }), false);
      assert.equal((await a.closedWith()).code, 1009);
      // Authenticated, MessagePack, and a binary frame of zeros.
      const b = await connect(t, abuser.name, 'big2', 'msgpack');
      b.raw(Buffer.alloc(FRAME + 1), true);
      assert.equal((await b.closedWith()).code, 1009);
      // Before auth.
      const c = await Peer.open(t);
      c.raw('x'.repeat(FRAME + 1), false);
      assert.equal((await c.closedWith()).code, 1009);
      // A frame of exactly the limit is accepted (and answered as what it is).
      const d = await connect(t, abuser.name, 'big3');
      const pad = 'p'.repeat(FRAME - JSON.stringify({ t: 'ping', rid: 'edge', pad: '' }).length);
      d.raw(JSON.stringify({ t: 'ping', rid: 'edge', pad }), false);
      assert.equal((await d.next((f) => f.rid === 'edge')).t, 'pong');
      d.close();
    });
    await healthy(t);
    const fresh = await connect(t, abuser.name, 'big4');
    await fresh.alive();
    fresh.close();
  });

  test('body over limits.bodyBytes: too_large naming send.body, the connection stays open, nothing sent', async () => {
    const m = await connect(t, abuser.name, 'packd', 'msgpack');
    try {
      await harmless(async (p) => {
        const id = msgId();
        p.send({ t: 'send', id, to: `user:${other.name}`, body: 'x'.repeat(BODY) }); // encoded with quotes: BODY + 2
        const e = await p.error(id);
        assert.equal(e.code, 'too_large');
        assert.match(String(e.message), new RegExp(`^send\\.body: larger than ${BODY} bytes`));
        const pid = msgId();
        p.send({ t: 'send', id: pid, to: `user:${other.name}`, payloads: { [`${other.name}/d1`]: 'y'.repeat(BODY + 1) } });
        const pe = await p.error(pid);
        assert.equal(pe.code, 'too_large');
        assert.match(String(pe.message), new RegExp(`^send\\.payloads\\.${other.name}/d1: larger than ${BODY} bytes`));
        // Measured on the encoded body: on MessagePack 4 KiB of bytes is 4 KiB + 3.
        const mid = msgId();
        m.send({ t: 'send', id: mid, to: `user:${other.name}`, body: Buffer.alloc(BODY) });
        assert.equal((await m.error(mid)).code, 'too_large');
        await m.alive();
      });
      await other.peer.quiet((f) => f.t === 'msg', 200);
      // A body at the limit goes through.
      const ok = msgId();
      abuser.peer.send({ t: 'send', id: ok, to: `user:${other.name}`, body: 'x'.repeat(BODY - 2) });
      assert.equal((await abuser.peer.next((f) => f.id === ok)).t, 'sent');
      const got = await other.peer.next((f) => f.t === 'msg' && f.id === ok);
      other.peer.send({ t: 'ack', inbox: got.inbox });
    } finally {
      m.close();
    }
  });

  test('a body nested too deep: bad_request naming send.body, the node stays up', async () => {
    await harmless(async (p) => {
      for (const depth of [200, 5_000]) {
        const id = msgId();
        const body = `${'['.repeat(depth)}${']'.repeat(depth)}`;
        p.raw(`{"t":"send","id":"${id}","to":"user:${other.name}","body":${body}}`, false);
        const e = await p.error(id);
        assert.equal(e.code, 'bad_request');
        assert.match(String(e.message), /^send\.body: nested deeper than \d+ levels/);
      }
      const pid = msgId();
      const deep = `${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`;
      p.raw(`{"t":"send","id":"${pid}","to":"user:${other.name}","payloads":{"${other.name}/d1":${deep}}}`, false);
      assert.match(String((await p.error(pid)).message), new RegExp(`^send\\.payloads\\.${other.name}/d1: nested deeper than`));
    });
  });
});
