/**
 * One seeded run of chat traffic under faults, judged by the history
 * checker (history-check.ts). Shared by the fault test (a few seeds in
 * `npm test`) and `npm run soak` (many).
 *
 * A fresh node (fault hooks on, 2 scheduler threads) and five users, two of
 * them with two devices; a group of four made before the traffic, a fifth
 * user added to it halfway through. Every device sends on a seeded schedule
 * to a seeded choice of a dm peer or the group, for `ms`, while seeded
 * faults hit the node at seeded times: a scheduler worker killed, the next
 * store batches of a thread failed, an actor crashed. Then the traffic
 * stops, the clients finish their retries, and the checker is polled until
 * the histories are consistent or `settleMs` has passed.
 */
import { FaultDevice } from './fault-device.js';
import { checkHistories, type Membership } from './history-check.js';
import { dm, failWrites, name, sleep, startNode, type TestNode } from '../fixtures/chat-node.js';

export interface ScenarioOptions {
  seed: number;
  /** Traffic time, default 2000 ms. */
  ms?: number;
  /** Faults injected during the traffic, default 3. */
  faults?: number;
  /** How long the histories may take to converge afterwards, default 30 000 ms. */
  settleMs?: number;
}

export interface ScenarioResult {
  violations: string[];
  /** What was injected, when (ms into the traffic). */
  injected: string[];
  messages: number;
  reconnects: number;
}

/** A small seeded PRNG (mulberry32): the same seed, the same schedule. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const rnd = prng(o.seed);
  const ms = o.ms ?? 2000;
  const n = await startNode({
    faults: true,
    workers: 2,
    limits: { sendRate: 10_000, sendBurst: 10_000, frameRate: 100_000, frameBurst: 100_000, requestRate: 10_000, requestBurst: 10_000 },
  });
  const devices: FaultDevice[] = [];
  try {
    return await drive(n, o, rnd, ms, devices);
  } finally {
    for (const d of devices) d.stop();
    await n.stop();
  }
}

async function drive(n: TestNode, o: ScenarioOptions, rnd: () => number, ms: number, devices: FaultDevice[]): Promise<ScenarioResult> {
  const [a, b, c, d, e] = ['fa', 'fb', 'fc', 'fd', 'fe'].map((p) => name(p)) as [string, string, string, string, string];
  const plan: Array<[string, string]> = [
    [a, 'phone'],
    [a, 'laptop'],
    [b, 'phone'],
    [b, 'laptop'],
    [c, 'phone'],
    [d, 'phone'],
    [e, 'phone'],
  ];
  for (const [u, dev] of plan) devices.push(new FaultDevice(u, dev, n.ws, await n.mint(u, dev)));
  await Promise.all(devices.map((x) => x.start()));
  const at = (u: string, dev = 'phone'): FaultDevice => devices.find((x) => x.user === u && x.device === dev)!;

  const made = await at(a).request({ t: 'group_create', name: 'faults', members: [b, c, d] });
  if (made.t !== 'group') throw new Error(`group_create: ${JSON.stringify(made)}`);
  const group = made.group.id as string;
  const gconv = `g:${group}`;
  const members = new Set([a, b, c, d]);
  const users = [a, b, c, d, e];

  // Faults at seeded times within the traffic (not in its first or last tenth).
  const injected: string[] = [];
  const faultCount = o.faults ?? 3;
  const start = Date.now();
  const faultRuns: Array<Promise<void>> = [];
  for (let i = 0; i < faultCount; i++) {
    const when = ms * (0.1 + 0.8 * rnd());
    const kind = rnd();
    const thread = 1 + Math.floor(rnd() * 2);
    const victim = rnd() < 0.5 ? `user:${users[Math.floor(rnd() * users.length)]}` : `conv:${rnd() < 0.5 ? gconv : dm(a, b)}`;
    faultRuns.push(
      sleep(when).then(async () => {
        const t = Date.now() - start;
        try {
          if (kind < 0.4) {
            injected.push(`${t} ms: kill worker ${thread}`);
            await n.node.runtime.faults.killWorker(thread);
          } else if (kind < 0.8) {
            const times = 1 + Math.floor(rnd() * 2);
            injected.push(`${t} ms: fail ${times} store batch(es) on thread ${thread}`);
            await failWrites(n, thread, times);
          } else {
            injected.push(`${t} ms: crash ${victim}`);
            n.node.runtime.faults.crashActor(victim);
          }
        } catch (err) {
          injected.push(`${t} ms: the fault itself failed: ${(err as Error).message}`);
        }
      }),
    );
  }

  // The group gets a fifth member halfway through (retried: a fault may refuse the add).
  let addIssued = 0;
  let addAnswered = 0;
  const adding = sleep(ms / 2).then(async () => {
    addIssued = Date.now();
    for (let i = 0; i < 50; i++) {
      const r = await at(a).request({ t: 'group_add', group, users: [e] }).catch(() => null);
      if (r !== null && r.t === 'group') {
        addAnswered = Date.now();
        members.add(e);
        return;
      }
      await sleep(100);
    }
    throw new Error('group_add never succeeded');
  });

  // Traffic: each device on its own seeded schedule.
  let k = 0;
  const senders = devices.map(async (dv) => {
    while (Date.now() - start < ms) {
      await sleep(10 + Math.floor(rnd() * 30));
      const toGroup = members.has(dv.user) && rnd() < 0.35;
      let to: string;
      if (toGroup) to = `group:${group}`;
      else {
        const others = users.filter((u) => u !== dv.user);
        to = `user:${others[Math.floor(rnd() * others.length)]}`;
      }
      const id = `s${o.seed}-${String(++k).padStart(7, "0")}`;
      dv.send(id, to, `${dv.user}/${dv.device} #${k}`);
    }
  });
  await Promise.all([...senders, ...faultRuns, adding]);

  // Conversations and who must see what.
  const convs = new Map<string, Membership>();
  for (let i = 0; i < users.length; i++) for (let j = i + 1; j < users.length; j++) convs.set(dm(users[i]!, users[j]!), { members: [users[i]!, users[j]!] });
  const late = new Map<string, { low: number; high: number }>();
  const gmembers = [a, b, c, d, e];
  convs.set(gconv, {
    members: gmembers,
    late,
    events: [
      { event: 'created', users: [a, b, c, d], to: [a, b, c, d] },
      { event: 'added', users: [e], to: gmembers },
    ],
  });

  const settleEnd = Date.now() + (o.settleMs ?? 30_000);
  let violations: string[] = [];
  for (;;) {
    const groupSends = devices.flatMap((x) => [...x.sent.values()]).filter((s) => s.conv === gconv);
    const low = Math.max(0, ...groupSends.filter((s) => s.answeredAt < addIssued).map((s) => s.seq));
    const high = Math.min(Infinity, ...groupSends.filter((s) => s.issuedAt > addAnswered).map((s) => s.seq)) - 1;
    late.set(e, { low, high: Number.isFinite(high) ? high : Infinity });
    violations = checkHistories({ devices, convs });
    if (violations.length === 0 || Date.now() > settleEnd) break;
    await sleep(250);
  }
  return {
    violations,
    injected,
    messages: devices.reduce((s, x) => s + x.sent.size, 0),
    reconnects: devices.reduce((s, x) => s + x.reconnects, 0),
  };
}
