// Nothing the protocol keeps until acknowledged is lost, duplicated past the
// client's inbox dedupe, reordered, diverges between devices or leaks to a
// later member, when scheduler workers die, store batches fail and actors
// crash in the middle of real traffic over real sockets (issue 11, §2).
// A few seeds here; `npm run soak -- faults` runs many more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runScenario } from './fault-scenario.js';

const SEEDS = (process.env.PARLEY_FAULT_SEEDS ?? '1,2,3,4').split(',').map(Number);

for (const seed of SEEDS) {
  test(`no message, receipt or group event is lost, duplicated, reordered or leaked under worker kills, failed writes and crashes (seed ${seed})`, { timeout: 90_000 }, async () => {
    const r = await runScenario({ seed });
    assert.ok(r.messages > 100, `traffic ran: ${r.messages} messages answered`);
    assert.deepEqual(r.violations, [], `seed ${seed}, faults:\n  ${r.injected.join('\n  ')}\n${r.messages} messages, ${r.reconnects} reconnects; violations:\n  ${r.violations.slice(0, 40).join('\n  ')}`);
  });
}
