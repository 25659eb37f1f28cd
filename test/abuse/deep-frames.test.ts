/**
 * Frames built to break the node's decoders and encoders (PROTOCOL.md
 * "Precise rules": unknown fields ignored, nesting bounded in every field):
 * - a field nested deeper than 64 levels anywhere in the frame is
 *   `bad_request` naming the field, on both subprotocols, and nothing of it
 *   reaches another thread (the first reproduced attack: `keys_put` with
 *   `signedPreKey` carrying an extra field 60,000 arrays deep killed the
 *   process from the thread link's encoder);
 * - fields a frame does not define are dropped: never stored, forwarded
 *   or echoed, at any level;
 * - a frame too deep for the MessagePack decoder itself is `bad_request`
 *   whose message is ours, not the exception's text.
 * Throughout, the node stays up and two bystanders keep talking.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bystanders, connect, exchange, healthy, msgId, newUser, unaffected, startNode, type Bystanders, type TestNode } from './helpers.js';

/** `{x: …}` as JSON text nested `n` arrays deep, built as text (a recursive JSON.stringify would overflow here first). */
function deepJson(n: number): string {
  return '['.repeat(n) + ']'.repeat(n);
}

/** A MessagePack array nested `n` deep: n × 0x91 (fixarray of one) around an empty array (0x90). */
function deepPack(n: number): Buffer {
  return Buffer.concat([Buffer.alloc(n, 0x91), Buffer.from([0x90])]);
}

/** A MessagePack map with `t`, `rid`, and `field` set to arrays nested `n` deep. */
function packedFrameWithDeep(t: string, rid: string, field: string, n: number): Buffer {
  const str = (s: string): Buffer => Buffer.concat([Buffer.from([0xa0 | s.length]), Buffer.from(s)]);
  return Buffer.concat([Buffer.from([0x83]), str('t'), str(t), str('rid'), str(rid), str(field), deepPack(n)]);
}

const KEYS = { identityKey: 'ik', signedPreKey: { id: 1, key: 'spk', sig: 'sig' }, oneTimePreKeys: [{ id: 1, key: 'otk1' }] };

describe('frames nested too deep, and fields no frame defines', () => {
  let t: TestNode;
  let by: Bystanders;

  before(async () => {
    t = await startNode({ limits: { frameBytes: 256 * 1024 } });
    by = await bystanders(t);
  });
  after(async () => {
    by?.close();
    await t?.stop();
  });

  test('keys_put whose signedPreKey carries an extra field 60,000 arrays deep: bad_request naming the field, the node stays up', async () => {
    const mallory = await newUser(t, 'mal');
    await unaffected(t, by, async () => {
      const rid = 'deep-spk';
      const text = `{"t":"keys_put","rid":"${rid}","identityKey":"ik","signedPreKey":{"id":1,"key":"k","sig":"s","x":${deepJson(60_000)}},"oneTimePreKeys":[]}`;
      assert.ok(text.length < 128 * 1024);
      mallory.peer.raw(text);
      const e = await mallory.peer.error(rid);
      assert.equal(e.code, 'bad_request');
      assert.match(String(e.message), /^keys_put\.signedPreKey: nested deeper than 64 levels$/);
      await mallory.peer.alive();
    });
    mallory.peer.close();
  });

  test('a field nested deeper than 64 levels is bad_request wherever it sits, known or not, on both subprotocols', async () => {
    const json = await newUser(t, 'dj');
    const pack = await newUser(t, 'dp', 'msgpack');
    await unaffected(t, by, async () => {
      const cases: Array<[string, string]> = [
        ['{"t":"ping","rid":"r1","junk":DEEP}', 'ping.junk'],
        ['{"t":"chats","rid":"r2","x":{"y":DEEP}}', 'chats.x'],
        [`{"t":"send","rid":"r3","id":"${msgId()}","to":"user:${by.a.name}","body":DEEP}`, 'send.body'],
        [`{"t":"send","rid":"r4","id":"${msgId()}","to":"user:${by.a.name}","payloads":{"${by.a.name}/d1":DEEP}}`, `send.payloads.${by.a.name}/d1`],
        ['{"t":"group_create","rid":"r5","name":"g","members":[],"extra":[DEEP]}', 'group_create.extra'],
      ];
      for (const [tmpl, field] of cases) {
        const rid = /"rid":"(r\d)"/.exec(tmpl)![1]!;
        json.peer.raw(tmpl.replace('DEEP', deepJson(5000)));
        const e = await json.peer.error(rid);
        assert.equal(e.code, 'bad_request', JSON.stringify(e));
        assert.equal(e.message, `${field}: nested deeper than 64 levels`);
      }
      // MessagePack at 2000 levels: decodable, and refused by the same rule.
      pack.peer.raw(packedFrameWithDeep('ping', 'p1', 'junk', 2000), true);
      const e = await pack.peer.error('p1');
      assert.equal(e.code, 'bad_request');
      assert.equal(e.message, 'ping.junk: nested deeper than 64 levels');
      // 64 levels are allowed.
      json.peer.raw(`{"t":"ping","rid":"ok64","junk":${deepJson(64)}}`);
      assert.equal((await json.peer.next((f) => f.rid === 'ok64')).t, 'pong');
      await json.peer.alive();
      await pack.peer.alive();
    });
    json.peer.close();
    pack.peer.close();
  });

  test('a MessagePack frame too deep to decode: bad_request with our own message, not the exception text', async () => {
    const p = await newUser(t, 'dd', 'msgpack');
    p.peer.raw(deepPack(100_000), true);
    const e = await p.peer.error();
    assert.equal(e.code, 'bad_request');
    assert.equal(e.message, 'malformed MessagePack frame (or nested too deep)');
    assert.doesNotMatch(String(e.message), /stack|RangeError|at /);
    await p.peer.alive();
    await healthy(t);
    p.peer.close();
  });

  test('fields a frame does not define are never stored, forwarded or echoed', async () => {
    const alice = await newUser(t, 'ufa');
    const bob = await newUser(t, 'ufb');
    // A send with extra fields at the top: bob's msg and his history carry none of them.
    const id = msgId();
    alice.peer.send({ t: 'send', id, to: `user:${bob.name}`, body: { text: 'hi' }, secret: 'x', inbox: 999, from: 'mallory', ts: 1 });
    const sent = await alice.peer.next((f) => f.id === id);
    assert.equal(sent.t, 'sent', JSON.stringify(sent));
    assert.equal(sent.secret, undefined);
    const msg = await bob.peer.next((f) => f.t === 'msg' && f.id === id);
    assert.equal(msg.from, alice.name);
    assert.equal(msg.secret, undefined);
    assert.notEqual(msg.inbox, 999);
    const h = await bob.peer.request({ t: 'history', conv: sent.conv, junk: 'y' });
    assert.equal(h.junk, undefined);
    assert.deepEqual(Object.keys((h.messages as object[])[0]!).sort(), ['body', 'conv', 'device', 'from', 'id', 'seq', 'ts', 'type']);
    // Nested extra fields: keys_get hands out exactly the fields keys_put defines.
    const put = await bob.peer.request({ t: 'keys_put', ...KEYS, signedPreKey: { ...KEYS.signedPreKey, note: 'extra' }, oneTimePreKeys: [{ id: 1, key: 'otk1', more: [1, 2] }] });
    assert.equal(put.t, 'ok', JSON.stringify(put));
    const keys = await alice.peer.request({ t: 'keys_get', user: bob.name });
    const dev = (keys.devices as Array<Record<string, unknown>>)[0]!;
    assert.deepEqual(dev.signedPreKey, KEYS.signedPreKey);
    assert.deepEqual(dev.oneTimePreKey, { id: 1, key: 'otk1' });
    await exchange(bob, alice, 'still talking');
    alice.peer.close();
    bob.peer.close();
  });

  test('a reconnecting client that floods deep frames from many connections leaves the node up', async () => {
    const m = await newUser(t, 'dm');
    m.peer.close();
    await unaffected(t, by, async () => {
      const peers = await Promise.all([0, 1, 2, 3].map((i) => connect(t, m.name, `d${i}`)));
      for (const p of peers) for (let k = 0; k < 5; k++) p.raw(`{"t":"keys_put","rid":"k${k}","identityKey":"ik","signedPreKey":{"id":1,"key":"k","sig":"s","x":${deepJson(20_000)}},"oneTimePreKeys":[]}`);
      for (const p of peers) for (let k = 0; k < 5; k++) assert.equal((await p.error(`k${k}`)).code, 'bad_request');
      for (const p of peers) p.close();
    });
  });
});
