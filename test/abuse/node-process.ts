/**
 * A node in a process of its own, for tests that measure the server alone
 * (its memory must not include the test's clients). Run with
 * `node --import tsx node-process.ts '<options as JSON>'`.
 *
 * Prints one line `{"url": ...}` once listening. Over IPC it answers
 * `{t: 'mem'}` with `process.memoryUsage()` taken after a full collection,
 * and `{t: 'stop'}` by stopping the node and exiting; it also stops when
 * its parent goes away.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { createNode, type NodeOptions } from '../../src/server/node.js';

// Not `--expose-gc` on the command line: the scheduler threads inherit
// execArgv, and a worker refuses that flag.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const options = JSON.parse(process.argv[2] ?? '{}') as NodeOptions;
const node = await createNode(options);
await node.start();
process.stdout.write(JSON.stringify({ url: node.url }) + '\n');

let stopping = false;

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await node.stop().catch(() => undefined);
  process.exit(0);
}

process.on('message', (m: { t: string }) => {
  if (m.t === 'mem') {
    // Twice, with a turn in between: the first collection lets finalizers run.
    gc();
    setTimeout(() => {
      gc();
      process.send?.({ t: 'mem', ...process.memoryUsage() });
    }, 50);
  } else if (m.t === 'stop') void stop();
});
process.on('disconnect', () => void stop());
