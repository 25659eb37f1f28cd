/**
 * Node configuration: defaults, then a JSON config file, then environment
 * variables, then command-line flags (each later source wins).
 *
 * Every limit of PROTOCOL.md is here with its default, and every option is
 * checked once, here, by a small validator that names the rule it breaks
 * (`invalid_config: limits.bodyBytes must be an integer >= 1`).
 *
 * Environment: every setting as PARLEY_ and its name in upper snake case
 * (PARLEY_HOST, PARLEY_HEARTBEAT_MS, PARLEY_LIMITS_SEND_RATE, …; see
 * `configFromEnv`), with PARLEY_OPERATOR_KEY a PEM public key or
 * `hs256:<secret>` (PARLEY_OPERATOR_ISSUER, _AUDIENCE), PARLEY_ORIGINS
 * comma-separated, PARLEY_PUSH_WEBHOOK_URL, _SECRET, _TIMEOUT_MS and
 * _MAX_ATTEMPTS, PARLEY_BUILTIN_ACCOUNTS (true/false), PARLEY_METRICS_PORT,
 * _HOST, _TOKEN and _PUBLIC.
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../actors/errors.js';
import type { LogMode } from '../store/index.js';

export interface Limits {
  /** Largest WebSocket frame, encoded (ws maxPayload); over it: close 1009. Default 128 KiB. */
  frameBytes: number;
  /** Largest encoded `body` of one message; over it: `too_large`. Default 64 KiB. */
  bodyBytes: number;
  /** Sends per second per device (token refill), default 50; bucket of `sendBurst`, default 200. */
  sendRate: number;
  sendBurst: number;
  /**
   * Every other frame but `ack` and `ping` (history, chats, read, typing,
   * presence, settings, groups, keys) per connection: per second (token
   * refill), default 50; bucket of `requestBurst`, default 200. Each of them
   * costs a store read or actor work, so a flood of them is refused like a
   * flood of sends.
   */
  requestRate: number;
  requestBurst: number;
  /** Close 4008 after this long of sends or requests refused without pause; default 10 000 ms. */
  rateAbuseMs: number;
  /** Members of a group, default 1024. */
  groupMembers: number;
  /** Largest `history` page, default 100; default page 50. */
  historyLimit: number;
  historyDefault: number;
  /** Unacknowledged inbox entries in flight per device, default 256. */
  window: number;
  /** How long inbox entries and messages are retained, default 30 days. */
  retentionMs: number;
  /** `auth` must be the first frame, within this; default 10 000 ms, then close 4002. */
  authTimeoutMs: number;
  /** Bytes queued to a slow reader before it is dropped, default 4 MiB. */
  sendBufferBytes: number;
  /** keys_get per requesting user (all its devices together): per second and burst; defaults 5 and 20. */
  keysRate: number;
  keysBurst: number;
  /**
   * keys_get of one target by one requesting user: a bucket of
   * `keysPairBurst` (default 5) refilled at `keysPairPerHour` (default 20):
   * each fetch consumes one of the target's one-time prekeys, so one
   * requester must not be able to drain them however many connections it opens.
   */
  keysPairBurst: number;
  keysPairPerHour: number;
  /**
   * Every frame of a device, `ack`, `ping` and invalid frames included: per
   * second and burst, defaults 500 and 1000 (well above what a client needs:
   * acks are cumulative). Past it: `rate_limited`, counted into the 4008 streak.
   */
  frameRate: number;
  frameBurst: number;
  /** Bytes of `history` answers per user: per second and burst; defaults 4 MiB and 16 MiB. */
  historyBytesRate: number;
  historyBytesBurst: number;
  /** `history` requests of one user not answered yet; default 4. */
  historyInFlight: number;
  /**
   * Bytes of message bodies in one `history` page, default 1 MiB: past it
   * the page ends early (`more: true`), so a page of 100 × 64 KiB bodies is
   * never built whole.
   */
  historyBytes: number;
  /** Sends of one user in flight on the node (its share of `sendsInFlight`); default 256. */
  userSendsInFlight: number;
  /** Open connections per user (all devices); default 32. Past it: error `rate_limited`, close 4029. */
  connectionsPerUser: number;
  /** Open connections per client address; default 1024. Past it the upgrade is refused with HTTP 429. */
  connectionsPerAddress: number;
  /** Groups one user may create per hour (bucket of the same size); default 20. */
  groupsPerHour: number;
  /** Users one connection may watch for presence; default 1024. */
  presenceSubs: number;
  /**
   * Sends the node has accepted and not answered yet, over all connections;
   * past it a send is answered `unavailable` at once. Default 4096. Under
   * overload this sheds work at the door instead of letting queues grow
   * until calls time out while the work they asked for still gets done.
   */
  sendsInFlight: number;
  /** Largest HTTP JSON body; default 64 KiB. */
  httpBodyBytes: number;
  /** Largest media upload; default 64 MiB (media endpoints come with their own issue). */
  mediaBytes: number;
  /**
   * Registered devices per user, default 16. Every device is an inbox
   * consumer and a keys row; without a cap one stolen token could register
   * devices without bound. Past it a new device's `connect` is `forbidden`.
   */
  devicesPerUser: number;
  /**
   * Message bytes (JSON length of `body` or `payloads`) one sender may have
   * stored within the retention, default 256 MiB; past it a send is
   * `rate_limited`. Bounds the disk one account can fill.
   */
  storedBytesPerUser: number;
  /**
   * Unacknowledged inbox entries per user (head minus the lowest device
   * cursor), default 100 000; past it a dm to that user is `rate_limited`.
   * Bounds what one sender can pile up for a recipient who never reads.
   */
  inboxEntries: number;
  /**
   * POST /v1/sessions and /v1/accounts per client address, both routes
   * together: per second (token refill), default 10; bucket of `loginBurst`,
   * default 100. Checked before the body is read.
   */
  loginRate: number;
  loginBurst: number;
  /**
   * Failed logins per user name per minute (a bucket of this size, refilled
   * over a minute), default 5. An attempt holds a token while its password
   * is checked and gets it back if it succeeds, so concurrent guesses are
   * bounded too. Per user name on /v1/accounts likewise (a taken name is a
   * failure there).
   */
  loginFailuresPerMinute: number;
  /** Failed logins (and taken names on /v1/accounts) per client address per minute, likewise; default 20. */
  loginFailuresPerMinutePerAddress: number;
  /** Accounts created per client address per hour (a bucket of this size, refilled over an hour); default 100. */
  accountsPerHourPerAddress: number;
  /**
   * Password hashes (scrypt on the CPU pool, ~16 MiB each) queued or running,
   * node-wide; default 16. Past it /v1/accounts and /v1/sessions answer 503
   * `unavailable` with Retry-After: 1 instead of queueing without bound.
   */
  hashesInFlight: number;
}

export interface MetricsConfig {
  port?: number;
  host?: string;
  token?: string;
  public?: boolean;
}

export interface OperatorKey {
  /** A PEM public key (RS256, ES256, EdDSA) or an HS256 secret. */
  publicKey?: string;
  secret?: string;
  issuer?: string;
  audience?: string;
}

export interface NodeConfig {
  node: string;
  host: string;
  port: number;
  data: string;
  workers: number;
  partitions: number;
  /** "fsync" (default): acknowledged means synced to disk. "os": acknowledged once the OS has it; a power loss can lose it. */
  durability: 'fsync' | 'os';
  /**
   * What each store's partition log keeps (src/store/options.ts `log`).
   * "lsn" (default): batch numbers only, so every write reaches LevelDB
   * once; nothing follows a single node's partitions. "ops": every batch's
   * ops too, for replicas that follow them (the cluster).
   */
  partitionLog: LogMode;
  /** The node's own JWT secret; default: generated once and kept in `<data>/node-secret`. */
  secret?: string;
  /** Lifetime of tokens the node signs, seconds; default 30 days. */
  tokenTtlS: number;
  operator?: OperatorKey;
  /** Allowed Origin headers for WebSocket upgrades; empty: any (or none). */
  origins: string[];
  /**
   * Addresses of reverse proxies in front of the node. For a connection from
   * one of them, the client's address (for the per-address limits) is the
   * last entry of `X-Forwarded-For`; from anyone else that header is ignored,
   * since a client could write anything there. Default: none.
   */
  trustedProxies: string[];
  /** WebSocket ping interval; a peer silent for two intervals is dropped. Default 30 000 ms. */
  heartbeatMs: number;
  /** Server-side timeouts against slow clients (slowloris): header and request timeouts, ms. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  limits: Limits;
  push?: { webhook?: { url: string; secret: string; timeoutMs?: number; maxAttempts?: number } };
  /** Enables the fault-injection hooks; default false. */
  faults: boolean;
  /**
   * Built-in accounts: POST /v1/accounts and /v1/sessions (passwords kept by
   * the node). Default: on without an `operator` key, off with one (the
   * operator's identity system is then the only source of users); set it to
   * turn them on or off explicitly. Off: both routes answer 404 `not_found`.
   * `resolveConfig` fills in the default.
   */
  builtinAccounts?: boolean;
  /**
   * Where GET /metrics is answered. `port`: on an admin listener of its own
   * (on `host`, default 127.0.0.1), stopped with the node. `token`: only
   * with `Authorization: Bearer <token>` (401 otherwise), wherever served.
   * `public`: also on the public port (or the embedding server); default
   * true for a standalone node without `port` (as before), false otherwise,
   * so an embedded node exposes nothing on its host's server unless asked.
   */
  metrics?: MetricsConfig;
  log: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

export const DEFAULT_LIMITS: Limits = {
  frameBytes: 128 * 1024,
  bodyBytes: 64 * 1024,
  sendRate: 50,
  sendBurst: 200,
  requestRate: 50,
  requestBurst: 200,
  rateAbuseMs: 10_000,
  groupMembers: 1024,
  historyLimit: 100,
  historyDefault: 50,
  window: 256,
  retentionMs: 30 * 24 * 3600 * 1000,
  authTimeoutMs: 10_000,
  sendBufferBytes: 4 * 1024 * 1024,
  keysRate: 5,
  keysBurst: 20,
  keysPairBurst: 5,
  keysPairPerHour: 20,
  frameRate: 500,
  frameBurst: 1000,
  historyBytesRate: 4 * 1024 * 1024,
  historyBytesBurst: 16 * 1024 * 1024,
  historyInFlight: 4,
  historyBytes: 1024 * 1024,
  userSendsInFlight: 256,
  connectionsPerUser: 32,
  connectionsPerAddress: 1024,
  groupsPerHour: 20,
  presenceSubs: 1024,
  sendsInFlight: 4096,
  httpBodyBytes: 64 * 1024,
  mediaBytes: 64 * 1024 * 1024,
  devicesPerUser: 16,
  storedBytesPerUser: 256 * 1024 * 1024,
  inboxEntries: 100_000,
  loginRate: 10,
  loginBurst: 100,
  loginFailuresPerMinute: 5,
  loginFailuresPerMinutePerAddress: 20,
  accountsPerHourPerAddress: 100,
  hashesInFlight: 16,
};

export function defaultConfig(): NodeConfig {
  return {
    node: `parley@${os.hostname()}`,
    host: '127.0.0.1',
    port: 8080,
    data: './data',
    workers: Math.max(1, os.availableParallelism()),
    partitions: 256,
    durability: 'fsync',
    partitionLog: 'lsn',
    tokenTtlS: 30 * 24 * 3600,
    origins: [],
    trustedProxies: [],
    heartbeatMs: 30_000,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    limits: { ...DEFAULT_LIMITS },
    faults: false,
    log: 'info',
  };
}

export type ConfigInput = Partial<Omit<NodeConfig, 'limits'>> & { limits?: Partial<Limits> };

/** Merges sources, each later one winning, setting by setting (limit by limit); undefined is not a setting. */
export function mergeConfig(...sources: ConfigInput[]): ConfigInput {
  const out: ConfigInput = {};
  for (const s of sources) {
    const { limits, metrics, ...rest } = s;
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
    // Key by key, so PARLEY_METRICS_PORT does not drop a token from the config file.
    if (metrics) for (const [k, v] of Object.entries(metrics)) if (v !== undefined) (out.metrics ??= {})[k as keyof MetricsConfig] = v as never;
    if (limits) for (const [k, v] of Object.entries(limits)) if (v !== undefined) (out.limits ??= {})[k as keyof Limits] = v as number;
  }
  return out;
}

/** Merges sources over the defaults and validates the result. */
export function resolveConfig(...sources: ConfigInput[]): NodeConfig {
  const { limits, ...rest } = mergeConfig(...sources);
  const c = { ...defaultConfig(), ...rest } as NodeConfig;
  c.limits = { ...DEFAULT_LIMITS, ...limits };
  // Built-in accounts next to an operator's identity system only when asked for.
  c.builtinAccounts ??= c.operator === undefined;
  validateConfig(c);
  return c;
}

function bad(rule: string): never {
  throw new ConfigError('invalid_config', rule);
}

function int(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) bad(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
}

export function validateConfig(c: NodeConfig): void {
  if (typeof c.node !== 'string' || !/^[A-Za-z0-9_.@:-]{1,128}$/.test(c.node)) bad(`node must match ^[A-Za-z0-9_.@:-]{1,128}$, got ${JSON.stringify(c.node)}`);
  if (typeof c.host !== 'string' || c.host.length === 0) bad('host must be a non-empty string');
  int('port', c.port, 0, 65535);
  if (typeof c.data !== 'string' || c.data.length === 0) bad('data must be a directory path');
  int('workers', c.workers, 0, 256);
  int('partitions', c.partitions, 1, 65536);
  if (c.durability !== 'fsync' && c.durability !== 'os') bad(`durability must be "fsync" or "os", got ${JSON.stringify(c.durability)}`);
  if (c.partitionLog !== 'ops' && c.partitionLog !== 'lsn') bad(`partitionLog must be "ops" or "lsn", got ${JSON.stringify(c.partitionLog)}`);
  if (c.secret !== undefined && (typeof c.secret !== 'string' || c.secret.length < 32)) bad('secret must be a string of at least 32 characters');
  int('tokenTtlS', c.tokenTtlS, 60);
  if (!Array.isArray(c.origins) || c.origins.some((o) => typeof o !== 'string')) bad('origins must be an array of strings');
  if (!Array.isArray(c.trustedProxies) || c.trustedProxies.some((o) => typeof o !== 'string')) bad('trustedProxies must be an array of addresses');
  int('heartbeatMs', c.heartbeatMs, 100);
  int('headersTimeoutMs', c.headersTimeoutMs, 100);
  int('requestTimeoutMs', c.requestTimeoutMs, 100);
  if (typeof c.faults !== 'boolean') bad('faults must be true or false');
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(c.log)) bad(`log must be debug, info, warn, error or silent, got ${JSON.stringify(c.log)}`);
  const L = c.limits;
  for (const k of Object.keys(DEFAULT_LIMITS) as Array<keyof Limits>) int(`limits.${k}`, L[k], 1);
  if (L.bodyBytes > L.frameBytes) bad('limits.bodyBytes must not exceed limits.frameBytes');
  if (L.historyDefault > L.historyLimit) bad('limits.historyDefault must not exceed limits.historyLimit');
  if (c.builtinAccounts !== undefined && typeof c.builtinAccounts !== 'boolean') bad('builtinAccounts must be true or false');
  if (c.metrics !== undefined) {
    const m = c.metrics;
    if (typeof m !== 'object' || m === null) bad('metrics must be an object {port, host, token, public}');
    if (m.port !== undefined) int('metrics.port', m.port, 0, 65535);
    if (m.host !== undefined && (typeof m.host !== 'string' || m.host.length === 0)) bad('metrics.host must be a non-empty string');
    if (m.token !== undefined && (typeof m.token !== 'string' || m.token.length < 16)) bad('metrics.token must be a string of at least 16 characters');
    if (m.public !== undefined && typeof m.public !== 'boolean') bad('metrics.public must be true or false');
  }
  if (c.operator !== undefined) {
    const o = c.operator;
    if (typeof o !== 'object' || o === null || (typeof o.publicKey !== 'string' && typeof o.secret !== 'string')) bad('operator needs publicKey (PEM) or secret');
  }
  const w = c.push?.webhook;
  if (w !== undefined) {
    if (typeof w.url !== 'string' || !/^https?:\/\//.test(w.url)) bad('push.webhook.url must be an http(s) URL');
    if (typeof w.secret !== 'string' || w.secret.length < 16) bad('push.webhook.secret must be at least 16 characters');
    if (w.timeoutMs !== undefined) int('push.webhook.timeoutMs', w.timeoutMs, 1);
    if (w.maxAttempts !== undefined) int('push.webhook.maxAttempts', w.maxAttempts, 1);
  }
}

/** Reads a JSON config file; errors name the file. */
export function readConfigFile(path: string): ConfigInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('config_unreadable', `cannot read config file ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as ConfigInput;
  } catch (e) {
    throw new ConfigError('config_unreadable', `config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** A setting's name in the environment: `sendRate` → `SEND_RATE`. */
function envName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/**
 * Settings from PARLEY_* environment variables: every setting has one
 * (`limits.sendRate` is PARLEY_LIMITS_SEND_RATE). A number that is not one
 * is `invalid_config` naming the variable.
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ConfigInput {
  const num = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new ConfigError('invalid_config', `${name} must be a number, got ${JSON.stringify(v)}`);
    return n;
  };
  const bool = (name: string): boolean | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw new ConfigError('invalid_config', `${name} must be true or false, got ${JSON.stringify(v)}`);
  };
  const str = (name: string): string | undefined => env[name] || undefined;
  const op = env.PARLEY_OPERATOR_KEY;
  const hook = env.PARLEY_PUSH_WEBHOOK_URL;
  const hookTimeoutMs = num('PARLEY_PUSH_WEBHOOK_TIMEOUT_MS');
  const hookAttempts = num('PARLEY_PUSH_WEBHOOK_MAX_ATTEMPTS');
  const limits: Partial<Limits> = {};
  for (const k of Object.keys(DEFAULT_LIMITS) as Array<keyof Limits>) {
    const v = num(`PARLEY_LIMITS_${envName(k)}`);
    if (v !== undefined) limits[k] = v;
  }
  return {
    host: str('PARLEY_HOST'),
    port: num('PARLEY_PORT'),
    data: str('PARLEY_DATA'),
    workers: num('PARLEY_WORKERS'),
    partitions: num('PARLEY_PARTITIONS'),
    node: str('PARLEY_NODE'),
    secret: str('PARLEY_SECRET'),
    tokenTtlS: num('PARLEY_TOKEN_TTL_S'),
    durability: str('PARLEY_DURABILITY') as NodeConfig['durability'] | undefined,
    partitionLog: str('PARLEY_PARTITION_LOG') as NodeConfig['partitionLog'] | undefined,
    origins: env.PARLEY_ORIGINS ? env.PARLEY_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
    trustedProxies: env.PARLEY_TRUSTED_PROXIES ? env.PARLEY_TRUSTED_PROXIES.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
    heartbeatMs: num('PARLEY_HEARTBEAT_MS'),
    headersTimeoutMs: num('PARLEY_HEADERS_TIMEOUT_MS'),
    requestTimeoutMs: num('PARLEY_REQUEST_TIMEOUT_MS'),
    faults: bool('PARLEY_FAULTS'),
    builtinAccounts: bool('PARLEY_BUILTIN_ACCOUNTS'),
    metrics: {
      port: num('PARLEY_METRICS_PORT'),
      host: str('PARLEY_METRICS_HOST'),
      token: str('PARLEY_METRICS_TOKEN'),
      public: bool('PARLEY_METRICS_PUBLIC'),
    },
    log: str('PARLEY_LOG') as NodeConfig['log'] | undefined,
    operator: op
      ? {
          ...(op.startsWith('hs256:') ? { secret: op.slice(6) } : { publicKey: op }),
          ...(env.PARLEY_OPERATOR_ISSUER ? { issuer: env.PARLEY_OPERATOR_ISSUER } : {}),
          ...(env.PARLEY_OPERATOR_AUDIENCE ? { audience: env.PARLEY_OPERATOR_AUDIENCE } : {}),
        }
      : undefined,
    push: hook
      ? {
          webhook: {
            url: hook,
            secret: env.PARLEY_PUSH_WEBHOOK_SECRET ?? '',
            ...(hookTimeoutMs !== undefined ? { timeoutMs: hookTimeoutMs } : {}),
            ...(hookAttempts !== undefined ? { maxAttempts: hookAttempts } : {}),
          },
        }
      : undefined,
    limits,
  };
}
