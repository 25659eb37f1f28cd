import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFromEnv, resolveConfig } from '../../src/server/config.js';

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
