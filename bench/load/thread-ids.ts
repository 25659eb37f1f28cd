/**
 * A thread module for the node under test: on each scheduler thread, writes
 * that thread's Linux thread id to `$PARLEY_LOAD_TIDS/<thread>`, so run.ts
 * can tell from /proc which of the node's threads is busy.
 */
import { readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ThreadEnv, ThreadModule } from '../../src/runtime/thread-module.js';

export default function setup(env: ThreadEnv): ThreadModule {
  const dir = process.env.PARLEY_LOAD_TIDS;
  if (dir) {
    // /proc/thread-self links to /proc/<pid>/task/<tid>.
    const tid = readlinkSync('/proc/thread-self').split('/').pop()!;
    writeFileSync(join(dir, String(env.thread)), tid);
  }
  return {};
}
