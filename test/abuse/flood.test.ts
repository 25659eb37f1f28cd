/**
 * Floods (PROTOCOL.md "Precise rules: Rate limit", "Close codes"): sends
 * over the token bucket get `rate_limited` naming the rule and the
 * connection stays open; a refused send can be sent again later with the
 * same id and is accepted once; sends refused without pause for
 * `rateAbuseMs` close the connection with 4008. Other frames but `ack` and
 * `ping` have a bucket of their own, with the same streak. Small limits
 * here: a send bucket of 10 refilled at 20/s, a request bucket of 40
 * refilled at 20/s, 4008 after 1.5 s. Presence subscriptions are
 * bounded per connection (`presenceSubs`, 8 here): each one keeps the
 * watched user's actor alive, so they must not add up frame after frame.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bystanders, connect, dm, msgId, newUser, sleep, unaffected, type Bystanders, type Frame, type Peer, type TestNode, startNode } from './helpers.js';

const RATE = 20;
const BURST = 10;
const ABUSE_MS = 1500;
const REQUEST_RATE = 20;
const REQUEST_BURST = 40;
const PRESENCE_SUBS = 8;

describe('floods', () => {
  let t: TestNode;
  let by: Bystanders;

  before(async () => {
    // The pair bucket (keys_get of one target) is tested in limits.test.ts; here the requester's own.
    t = await startNode({ limits: { sendRate: RATE, sendBurst: BURST, requestRate: REQUEST_RATE, requestBurst: REQUEST_BURST, rateAbuseMs: ABUSE_MS, presenceSubs: PRESENCE_SUBS, keysPairBurst: 1000 } });
    by = await bystanders(t);
  });
  after(async () => {
    by?.close();
    await t?.stop();
  });

  /** The answer (`sent` or `error`) to each id, in the order given. */
  async function answers(p: Peer, ids: string[]): Promise<Frame[]> {
    return Promise.all(ids.map((id) => p.next((f) => (f.t === 'sent' || f.t === 'error') && f.id === id, 10_000, `answer to ${id}`)));
  }

  test('a burst over the bucket: rate_limited naming the rule; a refused send sent again later with the same id is accepted once', async () => {
    const flooder = await newUser(t, 'flooder');
    const to = await newUser(t, 'floodee');
    try {
      const ids: string[] = [];
      await unaffected(t, by, async () => {
        for (let i = 0; i < 3 * BURST; i++) {
          const id = msgId();
          ids.push(id);
          flooder.peer.send({ t: 'send', id, to: `user:${to.name}`, body: { n: i } });
        }
        const got = await answers(flooder.peer, ids);
        const sent = got.filter((f) => f.t === 'sent');
        const refused = got.filter((f) => f.t === 'error');
        assert.ok(sent.length >= BURST && sent.length <= BURST + 3, `${sent.length} accepted of ${ids.length}`);
        for (const e of refused) {
          assert.equal(e.code, 'rate_limited');
          assert.equal(e.message, `send: over ${RATE} sends/s (bursts of ${BURST}); send it again later with the same id`);
        }
        // The first ones were accepted, in order, with gap-free seqs.
        assert.deepEqual(
          sent.map((f) => f.seq),
          sent.map((_, i) => i + 1),
        );
        await flooder.peer.alive();

        // Later, the refused ones again with the same ids: accepted, in the order sent.
        await sleep(1000);
        const again = refused.slice(0, BURST).map((e) => e.id as string);
        const bodies = new Map(ids.map((id, i) => [id, { n: i }]));
        for (const id of again) flooder.peer.send({ t: 'send', id, to: `user:${to.name}`, body: bodies.get(id) });
        const second = await answers(flooder.peer, again);
        assert.deepEqual(
          second.map((f) => [f.t, f.seq]),
          again.map((_, i) => ['sent', sent.length + i + 1]),
        );
        // An accepted one sent again answers the same `sent` and delivers nothing twice.
        await sleep(200);
        const first = sent[0]!;
        flooder.peer.send({ t: 'send', id: first.id, to: `user:${to.name}`, body: { n: 0 } });
        const repeat = await flooder.peer.next((f) => f.t === 'sent' && f.id === first.id);
        assert.deepEqual(repeat, first);

        // The recipient has each accepted message exactly once, in order.
        const expected = [...sent.map((f) => f.id as string), ...again];
        const seen: string[] = [];
        while (seen.length < expected.length) {
          const m = await to.peer.next((f) => f.t === 'msg', 5000, `msg ${seen.length + 1} of ${expected.length}`);
          seen.push(m.id as string);
          to.peer.send({ t: 'ack', inbox: m.inbox });
        }
        assert.deepEqual(seen, expected);
        await to.peer.quiet((f) => f.t === 'msg', 300);
        const h = await to.peer.request({ t: 'history', conv: dm(flooder.name, to.name), limit: 100 });
        assert.deepEqual(
          (h.messages as Frame[]).map((m) => [m.seq, m.id, m.body]),
          expected.map((id, i) => [i + 1, id, bodies.get(id)]),
        );
      });
    } finally {
      flooder.peer.close();
      to.peer.close();
    }
  });

  test('sends refused without pause for limits.rateAbuseMs: close 4008', async () => {
    const flooder = await newUser(t, 'abuser');
    const to = await newUser(t, 'target');
    const other = await connect(t, flooder.name, 'd2');
    try {
      await unaffected(t, by, async () => {
        // A steady flood, ten times the rate: the bucket lets one through now and then, the rest is refused.
        let firstRefusal = 0;
        let accepted = 0;
        flooder.peer.ws.on('message', (d: Buffer) => {
          const f = JSON.parse(d.toString()) as Frame;
          if (f.t === 'error' && f.code === 'rate_limited' && firstRefusal === 0) firstRefusal = Date.now();
          if (f.t === 'sent') accepted++;
        });
        const timer = setInterval(() => {
          if (flooder.peer.ws.readyState === 1) flooder.peer.send({ t: 'send', id: msgId(), to: `user:${to.name}`, body: 'flood' });
        }, 1000 / (10 * RATE));
        try {
          const closed = await flooder.peer.closedWith(ABUSE_MS + 5000);
          const after = Date.now() - firstRefusal;
          assert.equal(closed.code, 4008);
          assert.match(closed.reason, /rate limit abused/);
          assert.ok(after >= ABUSE_MS - 100, `closed ${after} ms after the first refusal`);
          assert.ok(accepted > BURST, `only ${accepted} accepted: the flood was not steady`);
        } finally {
          clearInterval(timer);
        }
        // The user's other device, and the user reconnecting, are fine.
        await other.alive();
        const back = await connect(t, flooder.name, 'd1');
        const id = msgId();
        back.send({ t: 'send', id, to: `user:${to.name}`, body: 'calm again' });
        assert.equal((await back.next((f) => f.id === id && (f.t === 'sent' || f.t === 'error'))).t, 'sent');
        back.close();
      });
    } finally {
      flooder.peer.close();
      to.peer.close();
      other.close();
    }
  });

  test('a client that pauses when refused is never closed, however long it keeps coming back', async () => {
    const u = await newUser(t, 'patient');
    const to = await newUser(t, 'patientee');
    try {
      const started = Date.now();
      let rounds = 0;
      while (Date.now() - started < 2 * ABUSE_MS) {
        const ids = Array.from({ length: BURST + 5 }, () => msgId());
        for (const id of ids) u.peer.send({ t: 'send', id, to: `user:${to.name}`, body: rounds });
        const got = await answers(u.peer, ids);
        assert.ok(got.some((f) => f.t === 'error' && f.code === 'rate_limited'), 'the burst was not refused');
        rounds++;
        await sleep(1100);
      }
      assert.ok(rounds >= 3);
      await u.peer.alive();
      assert.equal(u.peer.closeCode, null);
    } finally {
      u.peer.close();
      to.peer.close();
    }
  });

  test('frames other than send, ack and ping beyond limits.requestBurst: rate_limited naming the rule with the rid; sends and pings still pass', async () => {
    const u = await newUser(t, 'asker');
    const to = await newUser(t, 'askee');
    try {
      await unaffected(t, by, async () => {
        const answers = await Promise.all(Array.from({ length: 2 * REQUEST_BURST }, () => u.peer.request({ t: 'chats' })));
        const answered = answers.filter((a) => a.t === 'chats');
        const refused = answers.filter((a) => a.t === 'error');
        assert.ok(answered.length >= REQUEST_BURST && answered.length <= REQUEST_BURST + 3, `${answered.length} answered of ${answers.length}`);
        assert.equal(answered.length + refused.length, answers.length);
        for (const e of refused) {
          assert.equal(e.code, 'rate_limited');
          assert.equal(e.message, `chats: over ${REQUEST_RATE} frames/s other than send, ack and ping (bursts of ${REQUEST_BURST}); retry later`);
        }
        // Sends have their own bucket, pings none: both still pass, and the refused ones were answered by rid (request() matched them).
        const id = msgId();
        u.peer.send({ t: 'send', id, to: `user:${to.name}`, body: 'still here' });
        assert.equal((await u.peer.next((f) => f.id === id && (f.t === 'sent' || f.t === 'error'))).t, 'sent');
        const m = await to.peer.next((f) => f.t === 'msg' && f.id === id);
        to.peer.send({ t: 'ack', inbox: m.inbox });
        await u.peer.alive();
        // Once the bucket refilled, requests are answered again.
        await sleep(500);
        assert.equal((await u.peer.request({ t: 'chats' })).t, 'chats');
      });
    } finally {
      u.peer.close();
      to.peer.close();
    }
  });

  test('requests refused without pause for limits.rateAbuseMs: close 4008, as for sends', async () => {
    const u = await newUser(t, 'reqabuser');
    try {
      await unaffected(t, by, async () => {
        let firstRefusal = 0;
        u.peer.ws.on('message', (d: Buffer) => {
          const f = JSON.parse(d.toString()) as Frame;
          if (f.t === 'error' && f.code === 'rate_limited' && firstRefusal === 0) firstRefusal = Date.now();
        });
        const timer = setInterval(() => {
          if (u.peer.ws.readyState === 1) u.peer.send({ t: 'typing', conv: dm(u.name, 'nobody'), on: true });
        }, 1000 / (10 * REQUEST_RATE));
        try {
          const closed = await u.peer.closedWith(ABUSE_MS + 5000);
          assert.equal(closed.code, 4008);
          assert.ok(firstRefusal > 0, 'typing frames were never refused');
          assert.ok(Date.now() - firstRefusal >= ABUSE_MS - 100, `closed ${Date.now() - firstRefusal} ms after the first refusal`);
        } finally {
          clearInterval(timer);
        }
      });
    } finally {
      u.peer.close();
    }
  });

  test('presence subscriptions beyond limits.presenceSubs per connection: bad_request, none of that frame taken', async () => {
    const watcher = await newUser(t, 'watcher');
    const watched = await Promise.all(Array.from({ length: PRESENCE_SUBS + 2 }, (_, i) => newUser(t, `watched${i}`)));
    try {
      await unaffected(t, by, async () => {
        const first = watched.slice(0, PRESENCE_SUBS - 2).map((u) => u.name);
        assert.equal((await watcher.peer.request({ t: 'presence_sub', users: first })).t, 'ok');
        // Again the same ones: nothing new, still allowed.
        assert.equal((await watcher.peer.request({ t: 'presence_sub', users: first.slice(0, 2) })).t, 'ok');
        // Three more would make nine: refused, all three.
        const over = watched.slice(PRESENCE_SUBS - 2, PRESENCE_SUBS + 1).map((u) => u.name);
        const e = await watcher.peer.request({ t: 'presence_sub', users: over });
        assert.equal(e.code, 'bad_request');
        assert.equal(e.message, `presence_sub.users: at most ${PRESENCE_SUBS} users per connection`);
        // Two more make eight: allowed.
        assert.equal((await watcher.peer.request({ t: 'presence_sub', users: over.slice(0, 2) })).t, 'ok');
        await watcher.peer.alive();
        // The refused one is not watched: its going offline is not heard; a watched one's is.
        watcher.peer.frames.length = 0;
        const refused = watched[PRESENCE_SUBS]!;
        const taken = watched[0]!;
        refused.peer.close();
        taken.peer.close();
        await watcher.peer.next((f) => f.t === 'presence' && f.user === taken.name && f.online === false);
        await watcher.peer.quiet((f) => f.t === 'presence' && f.user === refused.name, 200);
      });
      // A new connection has its own allowance.
      const again = await connect(t, watcher.name, 'd2');
      assert.equal((await again.request({ t: 'presence_sub', users: watched.slice(PRESENCE_SUBS - 2).map((u) => u.name) })).t, 'ok');
      again.close();
    } finally {
      watcher.peer.close();
      for (const u of watched) u.peer.close();
    }
  });

  test('key fetches beyond their bucket: rate_limited, and a refused fetch hands out no prekey', async () => {
    const owner = await newUser(t, 'keyowner');
    const fetcher = await newUser(t, 'keyfetcher');
    let handedOut = 0;
    try {
      const otks = Array.from({ length: 40 }, (_, id) => ({ id, key: `otk-${id}` }));
      const put = await owner.peer.request({ t: 'keys_put', identityKey: 'ik', signedPreKey: { id: 1, key: 'spk', sig: 'sig' }, oneTimePreKeys: otks });
      assert.equal(put.t, 'ok');
      await unaffected(t, by, async () => {
        const answers = await Promise.all(Array.from({ length: 30 }, () => fetcher.peer.request({ t: 'keys_get', user: owner.name })));
        const given = answers.filter((a) => a.t === 'keys');
        handedOut = given.length;
        const refused = answers.filter((a) => a.t === 'error');
        assert.ok(refused.length >= 5, `${refused.length} refused of 30 (a bucket of 20 refilled at 5/s)`);
        for (const e of refused) {
          assert.equal(e.code, 'rate_limited');
          assert.equal(e.message, 'keys_get: over 5 key fetches/s per user (bursts of 20); retry later');
        }
        // Each answered fetch took one prekey, in order; the refused ones took none.
        const ids = given.map((a) => (a.devices as Array<{ oneTimePreKey: { id: number } | null }>)[0]!.oneTimePreKey!.id).sort((x, y) => x - y);
        assert.deepEqual(
          ids,
          given.map((_, i) => i),
        );
        await fetcher.peer.alive();
      });
      // The next fetch, once the bucket refilled, gets the next prekey.
      await sleep(400);
      const next = await fetcher.peer.request({ t: 'keys_get', user: owner.name });
      assert.equal(next.t, 'keys', JSON.stringify(next));
      assert.equal((next.devices as Array<{ oneTimePreKey: { id: number } }>)[0]!.oneTimePreKey.id, handedOut);
    } finally {
      owner.peer.close();
      fetcher.peer.close();
    }
  });
});
