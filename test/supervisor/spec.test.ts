/**
 * Supervisor and child specifications: OTP's defaults, and one tagged
 * ConfigError per rule.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/actors/errors.js';
import { validateSpec, validateChild, type ChildSpec, type SupervisorSpec } from '../../src/supervisor/spec.js';
import { supervisor } from '../../src/supervisor/supervisor.js';
import { RestartIntensity } from '../../src/supervisor/restart-intensity.js';

const start = (): { handle(): void } => ({ handle: () => undefined });
const ok: ChildSpec = { id: 'a', start };

function fails(code: string, spec: unknown): void {
  assert.throws(
    () => validateSpec(spec as SupervisorSpec),
    (e: unknown) => e instanceof ConfigError && e.code === code,
    code,
  );
  // The behaviour refuses the same spec before anything starts.
  assert.throws(() => supervisor(spec as SupervisorSpec), { code });
}

describe('spec defaults', () => {
  test('defaults are OTP’s: one_for_one, 1 restart in 5000 ms, permanent workers with shutdown 5000', () => {
    const s = validateSpec({ children: [ok] });
    assert.equal(s.strategy, 'one_for_one');
    assert.equal(s.intensity, 1);
    assert.equal(s.period, 5000);
    assert.deepEqual({ ...s.children[0], start: undefined }, { id: 'a', start: undefined, restart: 'permanent', shutdown: 5000, type: 'worker', options: {} });
  });

  test('a supervisor child waits for ever by default (shutdown infinity)', () => {
    assert.equal(validateChild({ id: 's', start, type: 'supervisor' }).shutdown, 'infinity');
  });

  test('valid options are kept as given', () => {
    const s = validateSpec({
      strategy: 'rest_for_one',
      intensity: 0,
      period: 1,
      children: [
        { id: 'a', start, restart: 'transient', shutdown: 'brutal_kill' },
        { id: 'b', start, restart: 'temporary', shutdown: 0 },
      ],
    });
    assert.equal(s.strategy, 'rest_for_one');
    assert.equal(s.intensity, 0);
    assert.deepEqual(
      s.children.map((c) => [c.restart, c.shutdown]),
      [
        ['transient', 'brutal_kill'],
        ['temporary', 0],
      ],
    );
  });
});

describe('spec validators fail with their codes', () => {
  test('invalid_supervisor_spec: no children array', () => {
    fails('invalid_supervisor_spec', {});
    fails('invalid_supervisor_spec', null);
  });
  test('invalid_strategy', () => fails('invalid_strategy', { strategy: 'one_for_some', children: [ok] }));
  test('invalid_intensity', () => {
    fails('invalid_intensity', { intensity: -1, children: [ok] });
    fails('invalid_intensity', { intensity: 1.5, children: [ok] });
  });
  test('invalid_period', () => {
    fails('invalid_period', { period: 0, children: [ok] });
    fails('invalid_period', { period: Infinity, children: [ok] });
    fails('invalid_period', { period: '5s', children: [ok] });
  });
  test('invalid_restart_type', () => fails('invalid_restart_type', { children: [{ ...ok, restart: 'sometimes' }] }));
  test('invalid_shutdown', () => {
    fails('invalid_shutdown', { children: [{ ...ok, shutdown: -1 }] });
    fails('invalid_shutdown', { children: [{ ...ok, shutdown: 'never' }] });
    fails('invalid_shutdown', { children: [{ ...ok, shutdown: NaN }] });
    fails('invalid_shutdown', { children: [{ ...ok, shutdown: 2 ** 31 }] }); // a timer would fire after 1 ms
  });
  test('invalid_child_type', () => fails('invalid_child_type', { children: [{ ...ok, type: 'manager' }] }));
  test('invalid_child_spec', () => fails('invalid_child_spec', { children: [null] }));
  test('invalid_child_id', () => {
    fails('invalid_child_id', { children: [{ start }] });
    fails('invalid_child_id', { children: [{ id: '', start }] });
  });
  test('invalid_start', () => fails('invalid_start', { children: [{ id: 'a' }] }));
  test('duplicate_child_id', () => fails('duplicate_child_id', { children: [ok, { id: 'b', start }, { ...ok }] }));
  test('invalid_simple_one_for_one: exactly one template', () => {
    fails('invalid_simple_one_for_one', { strategy: 'simple_one_for_one', children: [] });
    fails('invalid_simple_one_for_one', { strategy: 'simple_one_for_one', children: [ok, { id: 'b', start }] });
  });
});

describe('restart intensity', () => {
  test('allows `intensity` restarts within any `period`, refuses the next one', () => {
    let now = 0;
    const r = new RestartIntensity(2, 100, () => now);
    assert.equal(r.add(), true);
    now = 50;
    assert.equal(r.add(), true);
    now = 99;
    assert.equal(r.add(), false, 'third within 100 ms');
  });

  test('a restart leaves the window once `period` has passed', () => {
    let now = 0;
    const r = new RestartIntensity(1, 100, () => now);
    assert.equal(r.add(), true);
    now = 100;
    assert.equal(r.add(), true, 'the first is 100 ms old: out of the window');
    now = 150;
    assert.equal(r.add(), false);
  });
});
