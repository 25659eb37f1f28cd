/**
 * Limits of the identity routes over HTTP (src/server/http/attempts.ts,
 * docs/security.md): failed logins per user name and per address,
 * accounts per address, requests per address, password hashes in flight,
 * and a 200-request flood that must not starve anyone's sends. Each test
 * runs its own node on 127.0.0.1 (the buckets are per node and per
 * address, and every request here comes from 127.0.0.1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bystanders, msgId, newUser, PASSWORD, signup, uniqueUser, unaffected, withNode } from './helpers.js';
import { errorCode, isRateLimited, post } from './identity-helpers.js';

test('failed logins are limited per user name: the 6th wrong password in a minute is 429 with Retry-After, the right one too', async () => {
  await withNode({}, async (t) => {
    const user = uniqueUser('guessed');
    await signup(t, user);
    for (let i = 0; i < 5; i++) assert.equal((await post(t, '/v1/sessions', { user, password: `wrong-${i}-guess`, device: 'd1' })).status, 401);
    isRateLimited(await post(t, '/v1/sessions', { user, password: 'wrong-6-guess', device: 'd1' }), 'loginFailuresPerMinute');
    isRateLimited(await post(t, '/v1/sessions', { user, password: PASSWORD, device: 'd1' }), 'loginFailuresPerMinute');
    // Another user is not locked out by it, and a success costs nothing.
    const other = uniqueUser('other');
    await signup(t, other);
    for (let i = 0; i < 8; i++) assert.equal((await post(t, '/v1/sessions', { user: other, password: PASSWORD, device: 'd1' })).status, 200);
  });
});

test('concurrent wrong passwords for one user name are held to the same bound as sequential ones', async () => {
  await withNode({}, async (t) => {
    const user = uniqueUser('burst');
    await signup(t, user);
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => post(t, '/v1/sessions', { user, password: `wrong-${i}-guess`, device: 'd1' })));
    const wrong = answers.filter((r) => r.status === 401).length;
    assert.ok(wrong <= 5, `${wrong} passwords were checked for one user name at once`);
    for (const r of answers.filter((x) => x.status === 429)) isRateLimited(r, 'loginFailuresPerMinute');
    assert.equal(answers.filter((r) => r.status !== 401 && r.status !== 429 && r.status !== 503).length, 0, JSON.stringify(answers.map((r) => r.status)));
  });
});

test('failed logins are limited per client address: the 21st failure in a minute is 429, whatever the user name', async () => {
  await withNode({}, async (t) => {
    for (let i = 0; i < 20; i++) assert.equal((await post(t, '/v1/sessions', { user: uniqueUser('nobody'), password: 'some guess', device: 'd1' })).status, 401);
    isRateLimited(await post(t, '/v1/sessions', { user: uniqueUser('nobody'), password: 'some guess', device: 'd1' }), 'loginFailuresPerMinutePerAddress');
  });
});

test('accounts are limited per client address per hour (limits.accountsPerHourPerAddress)', async () => {
  await withNode({ limits: { accountsPerHourPerAddress: 3 } }, async (t) => {
    for (let i = 0; i < 3; i++) await signup(t, uniqueUser('many'));
    isRateLimited(await post(t, '/v1/accounts', { user: uniqueUser('many'), password: PASSWORD }), 'accountsPerHourPerAddress');
  });
});

test('requests to the identity routes are limited per client address (limits.loginRate, loginBurst), before the body is read', async () => {
  await withNode({ limits: { loginRate: 1, loginBurst: 3 } }, async (t) => {
    const user = uniqueUser('rate');
    await signup(t, user);
    // The sign-up took one of the 3; of 6 logins at once, 2 are admitted.
    const answers = await Promise.all(Array.from({ length: 6 }, () => post(t, '/v1/sessions', { user, password: PASSWORD, device: 'd1' })));
    assert.equal(answers.filter((r) => r.status === 200).length, 2, JSON.stringify(answers.map((r) => r.status)));
    const limited = answers.filter((r) => r.status === 429);
    assert.equal(limited.length, 4);
    for (const r of limited) isRateLimited(r, 'loginRate');
  });
});

test('a sign-up for a taken name is answered 409 without hashing: no password check slot is ever taken', async () => {
  // One hash at a time: any hashing for these 100 concurrent sign-ups would
  // show as 503. The failure limits are raised so that all of them reach
  // the existence check (only the address's request burst refuses some).
  await withNode({ limits: { hashesInFlight: 1, loginFailuresPerMinute: 1000, loginFailuresPerMinutePerAddress: 1000 } }, async (t) => {
    const taken = uniqueUser('taken');
    await signup(t, taken);
    const answers = await Promise.all(Array.from({ length: 100 }, () => post(t, '/v1/accounts', { user: taken, password: 'another password' })));
    const statuses = new Set(answers.map((r) => r.status));
    assert.ok(!statuses.has(503), `a taken name took a hash slot: ${JSON.stringify([...statuses])}`);
    assert.ok([...statuses].every((s) => s === 409 || s === 429), JSON.stringify([...statuses]));
    assert.ok(answers.filter((r) => r.status === 409).length >= 90, `${answers.filter((r) => r.status === 409).length} answered 409`);
  });
});

test('past limits.hashesInFlight a login is answered 503 unavailable with Retry-After: 1', async () => {
  await withNode({ limits: { hashesInFlight: 1 } }, async (t) => {
    const users = Array.from({ length: 12 }, () => uniqueUser('hashy'));
    for (const u of users) await signup(t, u);
    const answers = await Promise.all(users.map((user) => post(t, '/v1/sessions', { user, password: PASSWORD, device: 'd1' })));
    const busy = answers.filter((r) => r.status === 503);
    assert.ok(busy.length >= 1, `statuses ${JSON.stringify(answers.map((r) => r.status))}`);
    for (const r of busy) {
      assert.equal(errorCode(r), 'unavailable');
      assert.equal(r.retryAfter, '1');
      assert.match(String((r.body.error as { message: string }).message), /limits\.hashesInFlight/);
    }
    assert.ok(answers.some((r) => r.status === 200));
    assert.ok(answers.every((r) => r.status === 200 || r.status === 503));
  });
});

test('200 concurrent sign-ups for taken names and wrong passwords: many 429s, nothing crashes, bystanders’ sends are still answered promptly', async () => {
  await withNode({}, async (t) => {
    const by = await bystanders(t);
    // Two more users talk during the flood (the bystanders' stored state must stay as it was).
    const c = await newUser(t, 'talkc');
    const d = await newUser(t, 'talkd');
    const taken = uniqueUser('popular');
    await signup(t, taken);
    await unaffected(t, by, async () => {
      let flooding = true;
      const sendTimes: number[] = [];
      // c keeps sending to d while the flood runs; each send must be answered.
      const talker = (async () => {
        while (flooding) {
          const id = msgId();
          const started = Date.now();
          c.peer.send({ t: 'send', id, to: `user:${d.name}`, body: { during: 'flood' } });
          const sent = await c.peer.next((f) => (f.t === 'sent' || f.t === 'error') && f.id === id, 5000, `sent ${id} during the flood`);
          assert.equal(sent.t, 'sent', JSON.stringify(sent));
          sendTimes.push(Date.now() - started);
          const m = await d.peer.next((f) => f.t === 'msg' && f.id === id, 5000, `msg ${id}`);
          d.peer.send({ t: 'ack', inbox: m.inbox });
          const rc = await c.peer.next((f) => f.t === 'receipt' && f.status === 'delivered' && (f.seqs as number[]).includes(sent.seq as number), 5000, 'receipt');
          c.peer.send({ t: 'ack', inbox: rc.inbox });
        }
      })();
      const flood = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          i % 2 === 0 ? post(t, '/v1/accounts', { user: taken, password: 'another password' }) : post(t, '/v1/sessions', { user: i % 4 === 1 ? taken : uniqueUser('ghost'), password: `wrong ${i}`, device: 'd1' }),
        ),
      );
      flooding = false;
      await talker;
      const limited = flood.filter((r) => r.status === 429);
      assert.ok(limited.length >= 50, `only ${limited.length} of 200 were rate limited`);
      for (const r of limited) {
        assert.equal(errorCode(r), 'rate_limited');
        assert.match(r.retryAfter ?? '', /^[1-9]\d*$/);
      }
      for (const r of flood) assert.ok([401, 409, 429, 503].includes(r.status), `answered ${r.status} ${JSON.stringify(r.body)}`);
      for (const r of flood.filter((x) => x.status === 503)) assert.equal(r.retryAfter, '1');
      assert.ok(sendTimes.length >= 1, 'no send was made during the flood');
      assert.ok(Math.max(...sendTimes) < 5000, `a send took ${Math.max(...sendTimes)} ms`);
    });
    by.close();
    c.peer.close();
    d.peer.close();
  });
});
