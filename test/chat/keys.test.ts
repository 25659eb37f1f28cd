// Conformance: PROTOCOL.md `keys_put`, `keys_get`, and the precise rule "Keys";
// one-time prekeys handed out at most once, even to concurrent requests; the
// fetch rate limit.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestUser, startNode, type Frame, type TestNode } from '../fixtures/chat-node.js';

let n: TestNode;
before(async () => {
  n = await startNode();
});
after(async () => {
  await n?.stop();
});

const KEYS_BURST = 20;

function bundle(tag: string, otkIds: number[]): Frame {
  return {
    identityKey: `ik-${tag}`,
    signedPreKey: { id: 1, key: `spk-${tag}`, sig: `sig-${tag}` },
    oneTimePreKeys: otkIds.map((id) => ({ id, key: `otk-${tag}-${id}` })),
  };
}

test('keys_put {rid, identityKey, signedPreKey {id, key, sig}, oneTimePreKeys [{id, key}]} → ok {rid}', async () => {
  const u = await TestUser.create(n, 'kput');
  try {
    const p = await u.connect();
    const r = await p.request({ t: 'keys_put', ...bundle('a', [1, 2]) });
    assert.deepEqual(r, { t: 'ok', rid: r.rid });
  } finally {
    await u.closeAll();
  }
});

test('keys_get {rid, user} → keys {rid, user, devices: [{device, identityKey, signedPreKey, oneTimePreKey}]}; each call consumes one prekey per device, then null', async () => {
  const [owner, asker] = await Promise.all([TestUser.create(n, 'kown'), TestUser.create(n, 'kask')]);
  try {
    const phone = await owner.connect('phone');
    const laptop = await owner.connect('laptop');
    await phone.request({ t: 'keys_put', ...bundle('phone', [10, 11]) });
    await laptop.request({ t: 'keys_put', ...bundle('laptop', [20]) });
    const pa = await asker.connect();
    const first = await pa.request({ t: 'keys_get', user: owner.user });
    assert.equal(first.t, 'keys');
    assert.deepEqual(Object.keys(first).sort(), ['devices', 'rid', 't', 'user']);
    assert.equal(first.user, owner.user);
    const byDevice = (f: Frame): Record<string, Frame> => Object.fromEntries(f.devices.map((d: Frame) => [d.device, d]));
    let d = byDevice(first);
    assert.deepEqual(Object.keys(d).sort(), ['laptop', 'phone']);
    assert.deepEqual(Object.keys(d.phone!).sort(), ['device', 'identityKey', 'oneTimePreKey', 'signedPreKey']);
    assert.equal(d.phone!.identityKey, 'ik-phone');
    assert.deepEqual(d.phone!.signedPreKey, { id: 1, key: 'spk-phone', sig: 'sig-phone' });
    assert.deepEqual(d.phone!.oneTimePreKey, { id: 10, key: 'otk-phone-10' });
    assert.deepEqual(d.laptop!.oneTimePreKey, { id: 20, key: 'otk-laptop-20' });
    d = byDevice(await pa.request({ t: 'keys_get', user: owner.user }));
    assert.deepEqual(d.phone!.oneTimePreKey, { id: 11, key: 'otk-phone-11' });
    assert.equal(d.laptop!.oneTimePreKey, null, 'the laptop has none left');
    assert.equal(d.laptop!.identityKey, 'ik-laptop', 'the rest of the bundle is still there');
    d = byDevice(await pa.request({ t: 'keys_get', user: owner.user }));
    assert.equal(d.phone!.oneTimePreKey, null);
  } finally {
    await Promise.all([owner.closeAll(), asker.closeAll()]);
  }
});

test('keys_get of a user without keys → keys with no devices', async () => {
  const [u, asker] = await Promise.all([TestUser.create(n, 'knone'), TestUser.create(n, 'kask')]);
  try {
    await n.node.declareUsers([u.user]); // it exists (PROTOCOL.md "Recipients"), with no device
    const p = await asker.connect();
    const r = await p.request({ t: 'keys_get', user: u.user });
    assert.equal(r.t, 'keys');
    assert.deepEqual(r.devices, []);
  } finally {
    await asker.closeAll();
  }
});

test('Keys: keys_put replaces the identity and signed prekey and adds one-time prekeys; a repeated prekey id replaces that prekey', async () => {
  const [owner, asker] = await Promise.all([TestUser.create(n, 'krep'), TestUser.create(n, 'kask')]);
  try {
    const p = await owner.connect();
    await p.request({ t: 'keys_put', ...bundle('v1', [1, 2]) });
    await p.request({
      t: 'keys_put',
      identityKey: 'ik-v2',
      signedPreKey: { id: 2, key: 'spk-v2', sig: 'sig-v2' },
      oneTimePreKeys: [
        { id: 2, key: 'otk-2-replaced' },
        { id: 3, key: 'otk-3' },
      ],
    });
    const pa = await asker.connect();
    const got: Array<Frame | null> = [];
    for (let i = 0; i < 4; i++) {
      const r = await pa.request({ t: 'keys_get', user: owner.user });
      assert.equal(r.devices.length, 1);
      const dev = r.devices[0];
      assert.equal(dev.identityKey, 'ik-v2');
      assert.deepEqual(dev.signedPreKey, { id: 2, key: 'spk-v2', sig: 'sig-v2' });
      got.push(dev.oneTimePreKey);
    }
    // Three prekeys (ids 1, 2, 3; id 2 the new one), in whatever order, then none.
    assert.equal(got[3], null);
    const keys = got.slice(0, 3).map((k) => k!).sort((x, y) => x.id - y.id);
    assert.deepEqual(keys, [{ id: 1, key: 'otk-v1-1' }, { id: 2, key: 'otk-2-replaced' }, { id: 3, key: 'otk-3' }]);
  } finally {
    await Promise.all([owner.closeAll(), asker.closeAll()]);
  }
});

test('a one-time prekey is handed out at most once, even to concurrent keys_get from many connections', async () => {
  const PREKEYS = 12;
  const FETCHERS = 5;
  const EACH = 4; // 20 requests for 12 prekeys
  const owner = await TestUser.create(n, 'kcon');
  const fetchers = await Promise.all(Array.from({ length: FETCHERS }, () => TestUser.create(n, 'kfet')));
  try {
    const p = await owner.connect();
    await p.request({ t: 'keys_put', ...bundle('c', Array.from({ length: PREKEYS }, (_, i) => i + 1)) });
    const peers = await Promise.all(fetchers.map((f) => f.connect()));
    const answers = await Promise.all(peers.flatMap((q) => Array.from({ length: EACH }, () => q.request({ t: 'keys_get', user: owner.user }))));
    const handed = answers.map((a) => {
      assert.equal(a.t, 'keys', JSON.stringify(a));
      return a.devices[0].oneTimePreKey as Frame | null;
    });
    const ids = handed.filter((k) => k !== null).map((k) => k!.id as number);
    assert.equal(new Set(ids).size, ids.length, `no prekey twice: ${ids.join(',')}`);
    assert.equal(ids.length, PREKEYS, 'every prekey was handed out');
    assert.equal(handed.filter((k) => k === null).length, FETCHERS * EACH - PREKEYS);
  } finally {
    await Promise.all([owner.closeAll(), ...fetchers.map((f) => f.closeAll())]);
  }
});

test('keys_get is rate-limited per requesting user: past the burst, error rate_limited with the rid; the user’s other devices share the bucket', async () => {
  const [owner, asker, third] = await Promise.all([TestUser.create(n, 'krl'), TestUser.create(n, 'krla'), TestUser.create(n, 'krlb')]);
  try {
    const p = await owner.connect();
    await p.request({ t: 'keys_put', ...bundle('rl', []) });
    const pa = await asker.connect();
    const t0 = Date.now();
    const rids = Array.from({ length: KEYS_BURST + 10 }, (_, i) => `k${i}`);
    for (const rid of rids) pa.send({ t: 'keys_get', rid, user: owner.user });
    const answers = await Promise.all(rids.map((rid) => pa.next((f) => f.rid === rid)));
    const elapsedS = (Date.now() - t0) / 1000;
    const limited = answers.filter((a) => a.t === 'error');
    for (const e of limited) assert.equal(e.code, 'rate_limited');
    assert.ok(limited.length >= 1, 'some were refused');
    assert.ok(answers.length - limited.length <= KEYS_BURST + Math.ceil(5 * elapsedS) + 1, 'no more than the burst plus the refill');
    assert.equal(answers[0]!.t, 'keys', 'the first ones are answered');
    // Another device of the same user draws on the same buckets; another user does not.
    const other = await asker.connect('laptop');
    assert.equal((await other.request({ t: 'keys_get', user: owner.user })).code, 'rate_limited');
    const pt = await third.connect();
    assert.equal((await pt.request({ t: 'keys_get', user: owner.user })).t, 'keys');
    assert.equal(pa.closeCode, null, 'the connection stays open');
  } finally {
    await Promise.all([owner.closeAll(), asker.closeAll(), third.closeAll()]);
  }
});
