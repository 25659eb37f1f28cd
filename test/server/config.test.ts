import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFromEnv, mergeConfig, resolveConfig } from '../../src/server/config.js';

test('partitionLog: "lsn" by default (nothing follows a single node), "ops" from a config file or PARLEY_PARTITION_LOG', () => {
  assert.equal(resolveConfig({}).partitionLog, 'lsn');
  assert.equal(resolveConfig({ partitionLog: 'ops' }).partitionLog, 'ops');
  assert.equal(resolveConfig(configFromEnv({ PARLEY_PARTITION_LOG: 'ops' })).partitionLog, 'ops');
});

test('partitionLog: any other value is invalid_config naming the setting and its values', () => {
  assert.throws(
    () => resolveConfig({ partitionLog: 'all' as 'ops' }),
    (e: Error & { code?: string }) => e.code === 'invalid_config' && /partitionLog must be "ops" or "lsn"/.test(e.message),
  );
});

test('every setting has an environment variable: PARLEY_ and its name in upper snake case, limits as PARLEY_LIMITS_*', () => {
  const c = resolveConfig(
    configFromEnv({
      PARLEY_PARTITIONS: '64',
      PARLEY_TOKEN_TTL_S: '3600',
      PARLEY_HEARTBEAT_MS: '5000',
      PARLEY_HEADERS_TIMEOUT_MS: '2000',
      PARLEY_REQUEST_TIMEOUT_MS: '9000',
      PARLEY_FAULTS: 'true',
      PARLEY_OPERATOR_KEY: 'hs256:' + 'k'.repeat(32),
      PARLEY_OPERATOR_ISSUER: 'op',
      PARLEY_OPERATOR_AUDIENCE: 'chat',
      PARLEY_PUSH_WEBHOOK_URL: 'http://127.0.0.1:9/push',
      PARLEY_PUSH_WEBHOOK_SECRET: 's'.repeat(16),
      PARLEY_PUSH_WEBHOOK_TIMEOUT_MS: '1500',
      PARLEY_PUSH_WEBHOOK_MAX_ATTEMPTS: '7',
      PARLEY_LIMITS_SEND_RATE: '10',
      PARLEY_LIMITS_REQUEST_BURST: '30',
      PARLEY_LIMITS_SENDS_IN_FLIGHT: '99',
    }),
  );
  assert.equal(c.partitions, 64);
  assert.equal(c.tokenTtlS, 3600);
  assert.equal(c.heartbeatMs, 5000);
  assert.equal(c.headersTimeoutMs, 2000);
  assert.equal(c.requestTimeoutMs, 9000);
  assert.equal(c.faults, true);
  assert.deepEqual(c.operator, { secret: 'k'.repeat(32), issuer: 'op', audience: 'chat' });
  assert.deepEqual(c.push?.webhook, { url: 'http://127.0.0.1:9/push', secret: 's'.repeat(16), timeoutMs: 1500, maxAttempts: 7 });
  assert.equal(c.limits.sendRate, 10);
  assert.equal(c.limits.requestBurst, 30);
  assert.equal(c.limits.sendsInFlight, 99);
  assert.equal(c.limits.sendBurst, 200, 'a limit not in the environment keeps its default');
});

test('a limit from the environment overrides the config file only where it is set, as parley start merges them', () => {
  const merged = mergeConfig({ limits: { sendRate: 5, bodyBytes: 1024 } }, configFromEnv({ PARLEY_LIMITS_SEND_RATE: '7' }), { port: undefined });
  assert.deepEqual(merged.limits, { sendRate: 7, bodyBytes: 1024 });
  const c = resolveConfig(merged);
  assert.equal(c.limits.sendRate, 7);
  assert.equal(c.limits.bodyBytes, 1024);
  assert.equal(c.limits.sendBurst, 200);
});

test('an environment variable that is not a number or boolean is invalid_config naming the variable', () => {
  const bad = (env: Record<string, string>, re: RegExp): void =>
    assert.throws(() => resolveConfig(configFromEnv(env)), (e: Error & { code?: string }) => e.code === 'invalid_config' && re.test(e.message));
  bad({ PARLEY_LIMITS_SEND_RATE: 'fast' }, /^PARLEY_LIMITS_SEND_RATE must be a number, got "fast"$/);
  bad({ PARLEY_HEARTBEAT_MS: '1e' }, /^PARLEY_HEARTBEAT_MS must be a number/);
  bad({ PARLEY_FAULTS: 'yes' }, /^PARLEY_FAULTS must be true or false, got "yes"$/);
  // A number that breaks the setting's rule is named by the setting.
  bad({ PARLEY_LIMITS_WINDOW: '0' }, /limits\.window must be an integer in \[1, /);
  bad({ PARLEY_PUSH_WEBHOOK_URL: 'http://127.0.0.1:9/', PARLEY_PUSH_WEBHOOK_SECRET: 's'.repeat(16), PARLEY_PUSH_WEBHOOK_MAX_ATTEMPTS: '0' }, /push\.webhook\.maxAttempts must be an integer/);
});
