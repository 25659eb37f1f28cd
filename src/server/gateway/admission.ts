/**
 * Admission: the limits that belong to a device, a user or a client address
 * rather than to one connection, so that closing and reopening a socket
 * resets none of them (a loop of connect, auth, 200 sends, close would
 * otherwise get a fresh burst every time).
 *
 * | key               | what it bounds (defaults in `Limits`)                                   |
 * |-------------------|-------------------------------------------------------------------------|
 * | device            | sends (50/s, bursts of 200), requests (50/s, 200), all frames (500/s, 1000) |
 * | user              | connections (32), sends in flight (256), history bytes (4 MiB/s, 16 MiB), history in flight (4), key fetches (5/s, 20), groups created (20 per hour) |
 * | (user, target)    | key fetches of one target (bursts of 5, 20 per hour)                    |
 * | client address    | connections (1024)                                                     |
 *
 * Guarantees: a bucket is never forgotten before it has refilled completely
 * and nothing holds it (an open connection, a call in flight), so
 * forgetting it cannot hand out more than the limit; entries of gone users
 * are swept every `SWEEP_MS` (60 s), so the table is bounded by the users
 * seen in the last hour (the slowest bucket's refill time) at most. The
 * figures are per node: in a cluster each node admits its own share.
 */
import type { Limits } from '../config.js';
import { TokenBucket } from './token-bucket.js';

/** How often idle entries are looked at. */
export const SWEEP_MS = 60_000;

/** What a device may still do; made on first use. */
export interface DeviceLimits {
  send: TokenBucket | null;
  request: TokenBucket | null;
  frames: TokenBucket | null;
}

/** What a user may still do, over all its devices and connections. */
export interface UserLimits {
  connections: number;
  sendsInFlight: number;
  historyInFlight: number;
  history: TokenBucket | null;
  keys: TokenBucket | null;
  groups: TokenBucket | null;
  /** Per target user of `keys_get`. */
  keysPair: Map<string, TokenBucket> | null;
}

export class Admission {
  private readonly devices = new Map<string, DeviceLimits>();
  private readonly users = new Map<string, UserLimits>();
  private readonly addresses = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly L: Limits) {}

  /** Starts the sweep of forgotten entries (unref'd: it never keeps a process alive). */
  start(): void {
    this.timer ??= setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  // ---- addresses ------------------------------------------------------------------------

  /** Counts a connection from `addr`; false (and nothing counted) past `connectionsPerAddress`. */
  openAddress(addr: string): boolean {
    const n = this.addresses.get(addr) ?? 0;
    if (n >= this.L.connectionsPerAddress) return false;
    this.addresses.set(addr, n + 1);
    return true;
  }

  closeAddress(addr: string): void {
    const n = (this.addresses.get(addr) ?? 1) - 1;
    if (n <= 0) this.addresses.delete(addr);
    else this.addresses.set(addr, n);
  }

  // ---- users and devices --------------------------------------------------------------------

  device(user: string, device: string): DeviceLimits {
    const k = `${user}/${device}`;
    let d = this.devices.get(k);
    if (d === undefined) this.devices.set(k, (d = { send: null, request: null, frames: null }));
    return d;
  }

  user(user: string): UserLimits {
    let u = this.users.get(user);
    if (u === undefined) this.users.set(user, (u = { connections: 0, sendsInFlight: 0, historyInFlight: 0, history: null, keys: null, groups: null, keysPair: null }));
    return u;
  }

  /** Counts a connection of `user`; false (and nothing counted) past `connectionsPerUser`. */
  openUser(user: string): boolean {
    const u = this.user(user);
    if (u.connections >= this.L.connectionsPerUser) return false;
    u.connections++;
    return true;
  }

  closeUser(user: string): void {
    const u = this.users.get(user);
    if (u !== undefined && u.connections > 0) u.connections--;
  }

  // ---- the buckets, each made on first use ----------------------------------------------------

  sendBucket(d: DeviceLimits): TokenBucket {
    return (d.send ??= new TokenBucket(this.L.sendRate, this.L.sendBurst));
  }

  requestBucket(d: DeviceLimits): TokenBucket {
    return (d.request ??= new TokenBucket(this.L.requestRate, this.L.requestBurst));
  }

  frameBucket(d: DeviceLimits): TokenBucket {
    return (d.frames ??= new TokenBucket(this.L.frameRate, this.L.frameBurst));
  }

  historyBucket(u: UserLimits): TokenBucket {
    return (u.history ??= new TokenBucket(this.L.historyBytesRate, this.L.historyBytesBurst));
  }

  keysBucket(u: UserLimits): TokenBucket {
    return (u.keys ??= new TokenBucket(this.L.keysRate, this.L.keysBurst));
  }

  groupsBucket(u: UserLimits): TokenBucket {
    return (u.groups ??= new TokenBucket(this.L.groupsPerHour / 3600, this.L.groupsPerHour));
  }

  keysPairBucket(u: UserLimits, target: string): TokenBucket {
    const m = (u.keysPair ??= new Map());
    let b = m.get(target);
    if (b === undefined) m.set(target, (b = new TokenBucket(this.L.keysPairPerHour / 3600, this.L.keysPairBurst)));
    return b;
  }

  /** Entries in the tables (for tests and metrics). */
  get size(): { devices: number; users: number; addresses: number } {
    return { devices: this.devices.size, users: this.users.size, addresses: this.addresses.size };
  }

  /** Forgets what nothing holds and what has refilled: forgetting it then changes no answer. */
  sweep(now = Date.now()): void {
    for (const [k, d] of this.devices) {
      if ((d.send === null || d.send.full(now)) && (d.request === null || d.request.full(now)) && (d.frames === null || d.frames.full(now))) {
        // A device's buckets are held by its user's connections.
        const user = this.users.get(k.slice(0, k.indexOf('/')));
        if (user === undefined || user.connections === 0) this.devices.delete(k);
      }
    }
    for (const [k, u] of this.users) {
      if (u.keysPair !== null) {
        for (const [t, b] of u.keysPair) if (b.full(now)) u.keysPair.delete(t);
        if (u.keysPair.size === 0) u.keysPair = null;
      }
      const idle = u.connections === 0 && u.sendsInFlight === 0 && u.historyInFlight === 0 && u.keysPair === null;
      const refilled = (u.history === null || u.history.full(now)) && (u.keys === null || u.keys.full(now)) && (u.groups === null || u.groups.full(now));
      if (idle && refilled) this.users.delete(k);
    }
  }
}
