/**
 * The identity routes' limiter (src/server/http/attempts.ts) on its own,
 * with an injected clock: its tables stay bounded, full buckets are
 * forgotten, a reservation is both-or-neither, and client addresses are
 * keyed as documented. The routes' behaviour over sockets is in
 * test/abuse/login-limits.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressKey, Attempts, isRefusal, type Ticket } from '../../src/server/http/attempts.js';
import { configFromEnv, DEFAULT_LIMITS, resolveConfig } from '../../src/server/config.js';

test('the tables are capped at maxKeys (least recently used evicted first), whatever the number of addresses and names', () => {
  let now = 1_000_000;
  const a = new Attempts({ ...DEFAULT_LIMITS }, { maxKeys: 100, now: () => now });
  for (let i = 0; i < 10_000; i++) {
    a.request(`10.0.${i >> 8}.${i & 255}`);
    a.reserve('login', `10.0.${i >> 8}.${i & 255}`, `user${i}`);
    now += 1;
  }
  assert.ok(a.size <= 200, `${a.size} buckets held`);
});

test('buckets that have refilled completely are forgotten after a minute', () => {
  let now = 1_000_000;
  const a = new Attempts({ ...DEFAULT_LIMITS }, { now: () => now });
  for (let i = 0; i < 50; i++) a.request(`10.1.0.${i}`);
  assert.equal(a.size, 50);
  now += 61_000;
  a.request('10.2.0.1');
  assert.equal(a.size, 1);
});

test('a reservation holds a failure token until it fails or succeeds; success gives it back', () => {
  const now = 1_000_000;
  const a = new Attempts({ ...DEFAULT_LIMITS, loginFailuresPerMinute: 2 }, { now: () => now });
  const t1 = a.reserve('login', '10.0.0.1', 'alice') as Ticket;
  const t2 = a.reserve('login', '10.0.0.1', 'alice') as Ticket;
  const refused = a.reserve('login', '10.0.0.1', 'alice');
  assert.ok(isRefusal(refused));
  assert.equal(refused.limit, 'loginFailuresPerMinute');
  assert.ok(refused.retryAfterS >= 1);
  t1.succeeded();
  t1.succeeded(); // a second call changes nothing
  assert.ok(!isRefusal(a.reserve('login', '10.0.0.1', 'alice')));
  t2.failed();
  assert.ok(isRefusal(a.reserve('login', '10.0.0.1', 'alice')));
  // Another route's bucket for the same name is its own.
  assert.ok(!isRefusal(a.reserve('account', '10.0.0.1', 'alice')));
});

test('a refusal by the user name gives the address its token back (both or neither)', () => {
  const now = 1_000_000;
  const a = new Attempts({ ...DEFAULT_LIMITS, loginFailuresPerMinute: 1, loginFailuresPerMinutePerAddress: 2 }, { now: () => now });
  a.reserve('login', '10.0.0.1', 'alice');
  for (let i = 0; i < 5; i++) assert.equal((a.reserve('login', '10.0.0.1', 'alice') as { limit: string }).limit, 'loginFailuresPerMinute');
  // The address still has its second token.
  assert.ok(!isRefusal(a.reserve('login', '10.0.0.1', 'bob')));
});

test('hash slots: at most hashesInFlight, each released once', () => {
  const a = new Attempts({ ...DEFAULT_LIMITS, hashesInFlight: 2 });
  const r1 = a.hashSlot()!;
  const r2 = a.hashSlot()!;
  assert.equal(a.hashSlot(), null);
  r1();
  r1();
  const r3 = a.hashSlot();
  assert.notEqual(r3, null);
  assert.equal(a.hashSlot(), null);
  r2();
  r3!();
});

test('client addresses: IPv4 as is, IPv4-mapped as IPv4, IPv6 by its /64', () => {
  assert.equal(addressKey('203.0.113.9'), '203.0.113.9');
  assert.equal(addressKey('::ffff:203.0.113.9'), '203.0.113.9');
  assert.equal(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8:1:2::1'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(addressKey(undefined), 'unknown');
});

test('config: builtinAccounts defaults to on without an operator key and off with one; PARLEY_BUILTIN_ACCOUNTS sets it', () => {
  const op = { secret: 'k'.repeat(32) };
  assert.equal(resolveConfig({}).builtinAccounts, true);
  assert.equal(resolveConfig({ operator: op }).builtinAccounts, false);
  assert.equal(resolveConfig({ operator: op, builtinAccounts: true }).builtinAccounts, true);
  assert.equal(resolveConfig(configFromEnv({ PARLEY_OPERATOR_KEY: 'hs256:' + 'k'.repeat(32), PARLEY_BUILTIN_ACCOUNTS: 'true' })).builtinAccounts, true);
  assert.equal(resolveConfig(configFromEnv({ PARLEY_BUILTIN_ACCOUNTS: 'false' })).builtinAccounts, false);
  assert.throws(() => configFromEnv({ PARLEY_BUILTIN_ACCOUNTS: 'maybe' }), /PARLEY_BUILTIN_ACCOUNTS must be true or false/);
});

test('config: metrics from the environment merge key by key with the config file, and bad values are invalid_config', () => {
  const c = resolveConfig({ metrics: { token: 't'.repeat(16) } }, configFromEnv({ PARLEY_METRICS_PORT: '9100', PARLEY_METRICS_HOST: '0.0.0.0' }));
  assert.deepEqual(c.metrics, { token: 't'.repeat(16), port: 9100, host: '0.0.0.0' });
  assert.equal(resolveConfig(configFromEnv({ PARLEY_METRICS_PUBLIC: 'true' })).metrics?.public, true);
  assert.equal(resolveConfig(configFromEnv({})).metrics, undefined);
  for (const [m, rule] of [
    [{ port: 70000 }, /metrics\.port must be an integer/],
    [{ token: 'short' }, /metrics\.token must be a string of at least 16/],
    [{ host: '' }, /metrics\.host must be a non-empty string/],
    [{ public: 'yes' }, /metrics\.public must be true or false/],
  ] as const) {
    assert.throws(() => resolveConfig({ metrics: m as never }), (e: Error & { code?: string }) => e.code === 'invalid_config' && rule.test(e.message));
  }
});

test('config: the identity limits are limits like any other (integers >= 1, PARLEY_LIMITS_*)', () => {
  const c = resolveConfig(configFromEnv({ PARLEY_LIMITS_LOGIN_FAILURES_PER_MINUTE: '3', PARLEY_LIMITS_HASHES_IN_FLIGHT: '4', PARLEY_LIMITS_ACCOUNTS_PER_HOUR_PER_ADDRESS: '7' }));
  assert.equal(c.limits.loginFailuresPerMinute, 3);
  assert.equal(c.limits.hashesInFlight, 4);
  assert.equal(c.limits.accountsPerHourPerAddress, 7);
  assert.throws(() => resolveConfig({ limits: { loginRate: 0 } }), /limits\.loginRate must be an integer/);
  assert.deepEqual(
    [DEFAULT_LIMITS.loginRate, DEFAULT_LIMITS.loginBurst, DEFAULT_LIMITS.loginFailuresPerMinute, DEFAULT_LIMITS.loginFailuresPerMinutePerAddress, DEFAULT_LIMITS.accountsPerHourPerAddress, DEFAULT_LIMITS.hashesInFlight],
    [10, 100, 5, 20, 100, 16],
  );
});
