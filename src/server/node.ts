/**
 * A Parley node: the actor runtime with the chat actors on its scheduler
 * threads, the HTTP API and the WebSocket gateway on the main thread.
 *
 * ```ts
 * const node = await createNode({ port: 8080, data: './data' });
 * await node.start();          // listening; node.address says where
 * await node.stop();           // graceful: see below
 * ```
 *
 * Embedding: pass `server` (an existing `http.Server`) and the node attaches
 * its routes and the `/v1/ws` upgrade to it instead of listening itself;
 * requests for other paths are left to the server's own handlers (the
 * node only answers its own routes). Hooks: `filter` sees every message
 * before it is stored and may reject it with a reason the sender sees
 * (error `forbidden`).
 *
 * `/metrics` (config `metrics`): on the public port of a standalone node
 * by default, as before; on an admin listener of its own with
 * `metrics.port` (host `metrics.host`, default 127.0.0.1), and then not on
 * the public port unless `metrics.public`; never on an embedding server
 * unless `metrics.public`; behind `Authorization: Bearer` with
 * `metrics.token`.
 *
 * The node owns a CPU pool (src/runtime/cpu-pool.ts) for password hashing,
 * made at start and closed at stop; there is no process-wide pool.
 *
 * Stop, in order: stop accepting connections and new frames, let in-flight
 * sends finish (up to 5 s), close every socket with 1001, stop the runtime
 * (actors passivate, the store flushes and closes), close the admin
 * listener and the CPU pool. A restart on the same data directory keeps
 * everything.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../actors/errors.js';
import { PARTITION_HASH } from '../actors/partition.js';
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Runtime } from '../runtime/runtime.js';
import { CpuPool } from '../runtime/cpu-pool.js';
import { resolveConfig, type ConfigInput, type NodeConfig } from './config.js';
import { Tokens, nodeSecret } from './auth/tokens.js';
import { createMetrics, type GatewayMetrics } from './gateway/metrics.js';
import { Gateway } from './gateway/gateway.js';
import { httpHandler } from './http/routes.js';
import type { MessageFilter } from './gateway/session.js';
import type { ChatModuleConfig } from '../chat/module.js';
import type { UserMsg } from '../chat/messages.js';
import { USER_PATTERN, isUser } from '../protocol/ids.js';

/** `declareUsers` calls this many user actors at once: thousands at once would block their threads. */
const DECLARE_SLICE = 64;

export interface NodeOptions extends ConfigInput {
  /** Attach to this server instead of listening on host:port. */
  server?: http.Server;
  /** Moderation: return `{ reject: reason }` to refuse a message. */
  filter?: MessageFilter;
  /** More thread modules (kinds of actors of the embedding application). */
  modules?: Array<string | URL>;
}

export interface ParleyNode {
  readonly config: NodeConfig;
  readonly runtime: Runtime;
  readonly server: http.Server;
  /** Where it listens (after start), e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Where the admin listener serves /metrics (after start, with `metrics.port`), else ''. */
  readonly metricsUrl: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Declares users of the operator's own identity system: each then exists
   * (it can be sent to, added to groups, asked for keys) before its first
   * login. Durable once resolved; declaring one again changes nothing.
   * Throws on an id that breaks the user rule, before declaring any.
   */
  declareUsers(users: string[]): Promise<void>;
}

const CHAT_MODULE = new URL(import.meta.url.endsWith('.ts') ? '../chat/module.ts' : '../chat/module.js', import.meta.url);

export async function createNode(o: NodeOptions = {}): Promise<ParleyNode> {
  const { server: external, filter, modules, ...input } = o;
  const cfg = resolveConfig(input);
  return new NodeImpl(cfg, external ?? null, filter, modules ?? []);
}

class NodeImpl implements ParleyNode {
  runtime!: Runtime;
  readonly server: http.Server;
  private gateway: Gateway | null = null;
  private metrics: GatewayMetrics | null = null;
  private pool: CpuPool | null = null;
  private admin: http.Server | null = null;
  private started = false;
  private stopping: Promise<void> | null = null;

  constructor(
    readonly config: NodeConfig,
    private readonly external: http.Server | null,
    private readonly filter: MessageFilter | undefined,
    private readonly modules: Array<string | URL>,
  ) {
    // Node checks these timeouts only every `connectionsCheckingInterval`,
    // 30 s by default: a 10 s headersTimeout would let a slow client hold its
    // socket for up to 40 s. Check often enough to honour the setting.
    const checkMs = Math.max(50, Math.min(1000, Math.floor(config.headersTimeoutMs / 4)));
    this.server = external ?? http.createServer({ connectionsCheckingInterval: checkMs });
    if (external === null) {
      // Slowloris: a client that trickles its request headers is cut off.
      this.server.headersTimeout = config.headersTimeoutMs;
      this.server.requestTimeout = config.requestTimeoutMs;
    }
  }

  get url(): string {
    const a = this.server.address() as AddressInfo | null;
    return a ? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : '';
  }

  get metricsUrl(): string {
    const a = this.admin?.address() as AddressInfo | null | undefined;
    return a ? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : '';
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const cfg = this.config;
    const data = resolve(cfg.data);
    mkdirSync(data, { recursive: true });
    checkLayout(data, cfg.workers, cfg.partitions);
    const moduleConfig: ChatModuleConfig = {
      data,
      durability: cfg.durability,
      partitionLog: cfg.partitionLog,
      limits: cfg.limits,
      ...(cfg.push ? { push: cfg.push } : {}),
      faults: cfg.faults,
    };
    this.runtime = await Runtime.start({
      node: cfg.node,
      workers: cfg.workers,
      partitions: cfg.partitions,
      modules: [CHAT_MODULE, ...this.modules],
      moduleConfig,
      faults: cfg.faults,
      log: (level, msg, fields) => {
        if (rank(level) >= rank(cfg.log)) process.stderr.write(`${new Date().toISOString()} ${level} ${msg}${fields ? ' ' + JSON.stringify(fields) : ''}\n`);
      },
    });
    const tokens = await Tokens.create({ secret: nodeSecret(data, cfg.secret), ttlS: cfg.tokenTtlS, ...(cfg.operator ? { operator: cfg.operator } : {}) });
    const rt = this.runtime;
    this.metrics = createMetrics(async () => {
      const s = await rt.stats();
      return { ...s.totals, connections: this.gateway?.connectionCount ?? 0 };
    });
    this.gateway = new Gateway(rt.host, cfg, tokens, this.metrics, this.filter);
    this.pool = new CpuPool();
    const deps = { host: rt.host, cfg, tokens, metrics: this.metrics, pool: this.pool, startedAt: Date.now() };
    // Metrics on the public port only where nobody has to ask for it to be
    // hidden: a standalone node without an admin port (as before), or when asked.
    const publicMetrics = cfg.metrics?.public ?? (this.external === null && cfg.metrics?.port === undefined);
    const handle = httpHandler(deps, { api: true, metrics: publicMetrics });
    if (this.external === null) {
      this.server.on('request', handle);
    } else {
      // Embedded: answer our own routes, leave the rest to the host application.
      const ours = new Set(['/v1/accounts', '/v1/sessions', '/healthz', ...(publicMetrics ? ['/metrics'] : [])]);
      const others = this.server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
      this.server.removeAllListeners('request');
      this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        if (ours.has((req.url ?? '').split('?')[0]!)) handle(req, res);
        else for (const l of others) l.call(this.server, req, res);
      });
    }
    this.gateway.attach(this.server);
    if (cfg.metrics?.port !== undefined) {
      const admin = http.createServer(httpHandler(deps, { api: false, metrics: true }));
      admin.headersTimeout = cfg.headersTimeoutMs;
      admin.requestTimeout = cfg.requestTimeoutMs;
      this.admin = admin;
      await new Promise<void>((res, rej) => {
        admin.once('error', rej);
        admin.listen(cfg.metrics!.port, cfg.metrics!.host ?? '127.0.0.1', () => {
          admin.off('error', rej);
          res();
        });
      });
    }
    if (this.external === null) {
      await new Promise<void>((res, rej) => {
        this.server.once('error', rej);
        this.server.listen(cfg.port, cfg.host, () => {
          this.server.off('error', rej);
          res();
        });
      });
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  async declareUsers(users: string[]): Promise<void> {
    const bad = users.find((u) => !isUser(u));
    if (bad !== undefined) throw new TypeError(`declareUsers: ${JSON.stringify(bad)} is not a user id (${USER_PATTERN})`);
    if (!this.started) throw new Error('declareUsers: start the node first');
    const host = this.runtime.host;
    for (let i = 0; i < users.length; i += DECLARE_SLICE) {
      await Promise.all(users.slice(i, i + DECLARE_SLICE).map((u) => host.ref<UserMsg>(`user:${u}`).call({ t: 'declare' }, { timeout: 30_000 })));
    }
  }

  private async doStop(): Promise<void> {
    if (!this.started) return;
    const closed = this.external === null ? new Promise<void>((r) => this.server.close(() => r())) : Promise.resolve();
    await this.gateway?.drain(5000);
    this.gateway?.stop();
    this.server.closeIdleConnections?.();
    const admin = this.admin;
    const adminClosed = admin ? new Promise<void>((r) => admin.close(() => r())) : Promise.resolve();
    admin?.closeAllConnections();
    await this.runtime.stop();
    await this.pool?.close();
    await Promise.all([closed, adminClosed]);
  }
}

/**
 * Each scheduler thread keeps its partitions in its own store, so the data
 * directory belongs to one (workers, partitions, partition hash) layout;
 * starting with another would hide data. The first start records it.
 */
function checkLayout(data: string, workers: number, partitions: number): void {
  const file = join(data, 'layout.json');
  let seen: { workers: number; partitions: number; hash?: string } | null = null;
  try {
    seen = JSON.parse(readFileSync(file, 'utf8')) as { workers: number; partitions: number; hash?: string };
  } catch {
    writeFileSync(file, JSON.stringify({ workers, partitions, hash: PARTITION_HASH }) + '\n');
    return;
  }
  if (seen.workers !== workers || seen.partitions !== partitions) {
    throw new ConfigError(
      'layout_mismatch',
      `${data} was created with workers=${seen.workers} partitions=${seen.partitions}; start with those (moving partitions between threads is not supported yet)`,
    );
  }
  const hash = seen.hash ?? 'fnv1a32';
  if (hash !== PARTITION_HASH) {
    throw new ConfigError('layout_mismatch', `${data} places ids by partition hash ${hash}; this version uses ${PARTITION_HASH} and cannot read that data (start with an empty data directory)`);
  }
}

function rank(l: string): number {
  return { debug: 0, info: 1, warn: 2, error: 3, silent: 4 }[l] ?? 1;
}
