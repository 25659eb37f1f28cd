/**
 * Starting and stopping a runtime: options are validated, a thread module
 * that fails stops the start cleanly (no worker left behind), and with
 * `workers: 0` every actor runs on the main thread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Runtime, type RuntimeOptions } from '../../src/runtime/runtime.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { KINDS, startRuntime } from '../fixtures/runtime.js';
import { sleep } from '../fixtures/probes.js';

/** True while something holds a worker's port open (a running worker does). */
function workerPortsOpen(): boolean {
  return process.getActiveResourcesInfo().includes('MessagePort');
}

test('invalid runtime options are ConfigErrors named after the option', async () => {
  const cases: Array<[Partial<RuntimeOptions>, string]> = [
    [{ workers: -1 }, 'invalid_workers'],
    [{ workers: 1.5 }, 'invalid_workers'],
    [{ partitions: 0 }, 'invalid_partitions'],
    [{ throughput: 0 }, 'invalid_throughput'],
    [{ workers: 0, heartbeatMs: 0 }, 'invalid_heartbeatMs'],
    [{ workers: 0, hangTimeoutMs: -5 }, 'invalid_hangTimeoutMs'],
  ];
  for (const [o, code] of cases) await assert.rejects(Runtime.start({ log: () => undefined, ...o }), { code }, JSON.stringify(o));
});

test('a thread module that fails to load fails the start with start_failed and leaves no worker running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-start-'));
  try {
    const bad = join(dir, 'bad-module.mjs');
    writeFileSync(bad, "export default function setup() { throw new Error('module cannot start'); }\n");
    await assert.rejects(Runtime.start({ workers: 2, modules: [pathToFileURL(bad)], log: () => undefined }), (e: { code?: string; message: string }) => {
      assert.equal(e.code, 'start_failed');
      assert.match(e.message, /module cannot start/);
      return true;
    });
    await sleep(20);
    assert.equal(workerPortsOpen(), false, 'no worker left behind');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with workers: 0 every virtual actor lives on the main thread', async () => {
  const rt = await Runtime.start({ workers: 0, modules: [KINDS], log: () => undefined });
  try {
    assert.equal(rt.workers, 0);
    const c = rt.ref('counter:main');
    c.send(3);
    assert.equal(await c.call('get'), 3);
    assert.equal(rt.ownerOf(c.partition), 0);
    assert.equal(await rt.ref('log:main').call('thread'), 0);
    assert.equal(rt.host.isActive('counter:main'), true);
  } finally {
    await rt.stop();
  }
});

test('the runtime is a supervision tree: root over schedulers over one child per worker', async () => {
  const { rt } = await startRuntime({ workers: 2 });
  try {
    const top = await Supervisor.whichChildren(rt.root);
    assert.deepEqual(top.map((c) => [c.id, c.type]), [['schedulers', 'supervisor']]);
    const schedulers = await Supervisor.whichChildren(top[0]!.ref!);
    assert.deepEqual(schedulers.map((c) => c.id), ['scheduler-1', 'scheduler-2']);
    assert.ok(workerPortsOpen());
  } finally {
    await rt.stop();
  }
  await sleep(20);
  assert.equal(workerPortsOpen(), false, 'stop() ends every worker');
});
