/**
 * The execArgv handed to scheduler workers: flags a worker thread refuses
 * (V8 and process-wide ones) are dropped with their values, per-thread
 * flags are kept in order, and a runtime starts under `node --expose-gc
 * --max-old-space-size=…`.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { REFUSED, workerExecArgv } from '../../src/runtime/worker-argv.js';
import { idOn, startRuntime } from '../fixtures/runtime.js';

/** Resolves when a worker with `execArgv` has started and exited; rejects as `new Worker` does. */
async function runWorker(execArgv: string[]): Promise<void> {
  const w = new Worker('require("node:worker_threads").parentPort.postMessage(1)', { eval: true, execArgv });
  await new Promise<void>((resolve, reject) => {
    w.once('message', () => resolve());
    w.once('error', reject);
  });
  await w.terminate();
}

const refusedFlags = ['--expose-gc', '--expose_gc', '--max-old-space-size=64', '--max-semi-space-size', '16', '--stack-size=2000', '--jitless', '--title=parley', '--allow-natives-syntax', '--trace-gc', '--v8-pool-size=2', '--prof'];
const commandFlags = ['--test', '--test-reporter=spec', '--experimental-test-coverage', '-e', 'console.log(1)', '--watch-path', 'src'];
const keptFlags = ['--enable-source-maps', '--conditions', 'development', '--no-warnings', '--unhandled-rejections=strict', '-r', 'node:os'];

describe('scheduler worker execArgv', () => {
  test('this Node refuses, by name, every flag on the REFUSED list, so the list drops nothing a worker would accept', () => {
    for (const name of REFUSED) {
      assert.throws(() => new Worker('0', { eval: true, execArgv: [`--${name}`] }), { code: 'ERR_WORKER_INVALID_EXEC_ARGV' }, `--${name}`);
    }
  });

  test('V8 and process-wide flags and main-process commands are dropped with their values; per-thread flags are kept in order', () => {
    const mixed = ['--expose-gc', ...keptFlags.slice(0, 3), '--max-semi-space-size', '16', '-e', 'x()', ...keptFlags.slice(3), '--title=parley', '--test'];
    assert.deepEqual(workerExecArgv(mixed), keptFlags);
    assert.deepEqual(workerExecArgv(refusedFlags), []);
    assert.deepEqual(workerExecArgv(commandFlags), []);
  });

  test('profiler flags that NODE_OPTIONS refuses but a worker takes are kept', () => {
    const prof = ['--cpu-prof', '--cpu-prof-dir', '/tmp/prof', '--cpu-prof-interval=100', '--heap-prof'];
    assert.deepEqual(workerExecArgv(prof), prof);
  });

  test('a worker refuses the unfiltered flags and starts with the filtered ones', async () => {
    const argv = [...refusedFlags.slice(0, 6), ...keptFlags];
    assert.throws(() => new Worker('0', { eval: true, execArgv: argv }), { code: 'ERR_WORKER_INVALID_EXEC_ARGV' });
    await runWorker(workerExecArgv(argv));
  });

  test('a runtime starts its schedulers when the main process runs with --expose-gc and --max-old-space-size', async () => {
    const saved = process.execArgv.slice();
    process.execArgv.push('--expose-gc', '--max-old-space-size=4096');
    try {
      const { rt } = await startRuntime({ workers: 1 });
      try {
        assert.equal(await rt.ref(idOn(rt, 'log:argv', 1)).call('thread'), 1);
      } finally {
        await rt.stop();
      }
    } finally {
      process.execArgv.splice(0, process.execArgv.length, ...saved);
    }
  });
});
