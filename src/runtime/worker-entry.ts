/**
 * The main function of a scheduler worker thread: one Host, one
 * ThreadTransport, the thread modules, and the control loop with the main
 * thread (heartbeat, peers coming and going, graceful stop, fault hooks).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Host } from '../actors/host.js';
import { formatReason } from '../actors/exit-reason.js';
import { ThreadTransport } from '../transport/thread-link.js';
import { loadThreadModules } from './thread-module.js';
import type { FromWorker, ToWorker, WorkerInit } from './control.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (m: FromWorker): void => port.postMessage(m);

const host = new Host({
  node: init.node,
  thread: init.thread,
  generation: init.generation,
  partitions: init.partitions,
  table: init.table,
  throughput: init.throughput,
  sliceMs: init.sliceMs,
  sweepMs: init.sweepMs,
});
const transport = new ThreadTransport(host);
host.setTransport(transport);
if (init.linkFaults !== null) transport.setFaults(init.linkFaults);
for (const [t, p] of Object.entries(init.ports)) transport.addPeer(Number(t), p);
host.onCrash((id, reason) => post({ t: 'crash', id, reason: formatReason(reason) }));

let stops: Array<() => void | Promise<void>> = [];

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'ping':
      post({ t: 'pong', n: m.n });
      return;
    case 'peer':
      transport.addPeer(m.thread, m.port);
      return;
    case 'peer_down':
      transport.peerDown(m.thread);
      host.threadDown(m.thread);
      return;
    case 'stats':
      post({
        t: 'stats',
        n: m.n,
        stats: {
          ...host.getStats(),
          batchesSent: transport.batchesSent,
          batchesReceived: transport.batchesReceived,
          linkFaults: { ...transport.faultCounts },
          heapUsed: process.memoryUsage().heapUsed,
        },
      });
      return;
    case 'faults':
      transport.setFaults(m.link);
      return;
    case 'hang':
      // Fault hook: a thread stuck in a loop. Only the heartbeat can find it.
      for (;;) {
        /* spin until terminated */
      }
    case 'crash':
      // Fault hook: an uncaught error ends the thread, as a bug would.
      setImmediate(() => {
        throw new Error('worker crash injected');
      });
      return;
    case 'stop':
      void stop(m.timeoutMs);
      return;
  }
});

async function stop(timeoutMs: number): Promise<void> {
  await host.shutdown(timeoutMs);
  for (const s of stops.reverse()) {
    try {
      await s();
    } catch (e) {
      post({ t: 'crash', id: `thread:${init.thread}:stop`, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  post({ t: 'stopped' });
}

try {
  const owned: number[] = [];
  init.table.forEach((t, p) => {
    if (t === init.thread) owned.push(p);
  });
  stops = await loadThreadModules(init.modules, {
    node: init.node,
    thread: init.thread,
    generation: init.generation,
    partitions: init.partitions,
    owned,
    config: init.config,
    host,
  });
  post({ t: 'ready' });
} catch (e) {
  post({ t: 'start_failed', message: e instanceof Error ? `${e.message}` : String(e) });
}
