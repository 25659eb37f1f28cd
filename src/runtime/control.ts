/**
 * Control messages between the main thread and a scheduler worker. They
 * travel on the worker's own parent port, apart from actor traffic (which
 * has its own MessageChannels), so a flood of messages cannot delay a
 * heartbeat answer or a stop.
 */
import type { MessagePort } from 'node:worker_threads';
import type { HostStats } from '../actors/host.js';
import type { LinkFaultConfig, LinkFaultCounts } from '../transport/link-faults.js';

export type ToWorker =
  | { t: 'peer'; thread: number; port: MessagePort }
  | { t: 'peer_down'; thread: number }
  | { t: 'ping'; n: number }
  | { t: 'stop'; timeoutMs: number }
  | { t: 'stats'; n: number }
  | { t: 'faults'; link: LinkFaultConfig | null }
  | { t: 'hang' }
  | { t: 'crash' };

export interface ThreadStats extends HostStats {
  batchesSent: number;
  batchesReceived: number;
  linkFaults: LinkFaultCounts;
  heapUsed: number;
}

export type FromWorker =
  | { t: 'ready' }
  | { t: 'start_failed'; message: string }
  | { t: 'pong'; n: number }
  | { t: 'stopped' }
  | { t: 'stats'; n: number; stats: ThreadStats }
  | { t: 'crash'; id: string; reason: string };

export interface WorkerInit {
  entry?: string;
  node: string;
  thread: number;
  generation: number;
  partitions: number;
  table: number[];
  modules: string[];
  config: unknown;
  ports: Record<number, MessagePort>;
  throughput: number;
  sliceMs: number;
  sweepMs: number;
  linkFaults: LinkFaultConfig | null;
}
