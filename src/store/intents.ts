/**
 * What each intent does when the committer builds a batch: the semantics of
 * queues (numbering, cursors, trim, expiry), counters, TTL'd records and
 * replicated batches, turned into the LevelDB ops of the batch.
 *
 * Runs synchronously inside the committer's build step, one transaction
 * after another in commit order, on the hot state (state.ts) that the
 * committer loaded before. A rule broken here (an ack past the head, an ack
 * by a stranger, an LSN gap) throws; the committer then undoes that
 * transaction's state changes (`ctx.undo`) and cuts its ops off, and the
 * other transactions of the batch go on.
 */

import type { WriteOp } from './adapter.js';
import { stampExpiry } from './codec.js';
import { StoreError } from './errors.js';
import { TTL_KIND, keyId, ttlKey, writeUint } from './keys.js';
import type { PartitionLsns } from './lsn.js';
import type { CounterState, HotState, QueueState, StateCache } from './state.js';
import type { Assigned, Intent } from './transaction.js';

const EMPTY = new Uint8Array(0);

export interface ApplyEnv {
  now(): number;
  expiryGranularityMs: number;
  lsns: PartitionLsns;
  cache: StateCache;
  /** Whether a TTL record was written since the running sweep read it. */
  tracked(keyId: string): boolean;
}

/** One batch being built; a transaction that fails is cut off at the lengths these had before it. */
export interface BuildCtx {
  /** The current transaction's partition's ops. */
  ops: WriteOp[];
  ram: WriteOp[];
  undo: Array<() => void>;
  /** State id -> number of the last transaction that saved it for undo. */
  saved: Map<string, number>;
  txNo: number;
  dirty: Map<string, HotState>;
  ttl: string[];
}

export function entryKey(s: QueueState, seq: number): Uint8Array {
  const pre = s.entryPrefix;
  const out = Buffer.allocUnsafe(pre.length + 8);
  out.set(pre, 0);
  writeUint(out, pre.length, seq);
  return out;
}

/** Deletes the entries every consumer has acknowledged (none are trimmed while a queue has no consumer). */
function trim(s: QueueState, ctx: BuildCtx): void {
  const m = s.minCursor();
  if (m === null || m < s.first) return;
  for (let n = s.first; n <= m; n++) ctx.ops.push({ key: entryKey(s, n), value: null });
  s.first = m + 1;
}

export function applyIntent(env: ApplyEnv, p: number, it: Intent, ctx: BuildCtx, rawLsn: Map<number, number>): void {
  switch (it.t) {
    case 'put':
    case 'del': {
      const value = it.t === 'put' ? it.value : null;
      if (it.def.storage === 'ram') {
        ctx.ram.push({ key: it.key, value });
        if (it.t === 'put' && it.def.ttlMs !== null) ctx.ram.push({ key: ttlKey(p, it.expiresAt, TTL_KIND.record, it.key.subarray(3)), value: EMPTY });
        return;
      }
      ctx.ops.push({ key: it.key, value });
      if (it.def.ttlMs !== null) {
        ctx.ttl.push(keyId(it.key));
        if (it.t === 'put') ctx.ops.push({ key: ttlKey(p, it.expiresAt, TTL_KIND.record, it.key.subarray(3)), value: EMPTY });
      }
      return;
    }
    case 'append': {
      const s = queueState(env, it.state, ctx);
      const seq = s.next++;
      const expiresAt = it.def.ttlMs === null ? 0 : env.now() + it.def.ttlMs;
      // The bytes are this transaction's own copy (encodeExpiring), so stamping them is safe.
      stampExpiry(it.value, expiresAt);
      ctx.ops.push({ key: entryKey(s, seq), value: it.value });
      if (expiresAt > 0) {
        const g = env.expiryGranularityMs;
        const bucket = Math.ceil(expiresAt / g) * g;
        if (s.bucket !== bucket) {
          ctx.ops.push({ key: ttlKey(p, bucket, TTL_KIND.queue, s.key.subarray(3)), value: EMPTY });
          s.bucket = bucket;
        }
      }
      (it.slot as Assigned).v = seq;
      return;
    }
    case 'ack': {
      const s = queueState(env, it.state, ctx);
      const c = s.cursors.get(it.consumer);
      if (c === undefined) throw new StoreError('store_invalid', `${it.def.name}: ${it.consumer} is not a consumer of ${it.owner}`, { table: it.def.name, key: it.owner, partition: p });
      if (it.seq > s.next - 1) throw new StoreError('store_invalid', `${it.def.name}: ack of ${it.seq} past the head ${s.next - 1} of ${it.owner}`, { table: it.def.name, key: it.owner, partition: p });
      if (it.seq > c) s.cursors.set(it.consumer, it.seq);
      trim(s, ctx);
      return;
    }
    case 'subscribe': {
      const s = queueState(env, it.state, ctx);
      if (s.cursors.has(it.consumer)) return;
      const lo = s.first - 1;
      const hi = s.next - 1;
      const at = it.from === 'end' ? hi : it.from === 'start' ? lo : Math.min(hi, Math.max(lo, it.from));
      s.cursors.set(it.consumer, at);
      // The first consumer, starting at the end, has acknowledged everything before it.
      trim(s, ctx);
      return;
    }
    case 'unsubscribe': {
      const s = queueState(env, it.state, ctx);
      if (!s.cursors.delete(it.consumer)) return;
      trim(s, ctx);
      return;
    }
    case 'increment': {
      const s = hotState(env, it.state, ctx) as CounterState;
      s.value += it.by;
      (it.slot as Assigned).v = s.value;
      return;
    }
    case 'expire': {
      const s = queueState(env, it.state, ctx);
      if (it.upTo >= s.first) {
        for (let n = s.first; n <= it.upTo; n++) ctx.ops.push({ key: entryKey(s, n), value: null });
        s.first = it.upTo + 1;
      }
      // Keep the index entry if entries were appended into the same bucket after the sweep read the queue.
      if (!(s.bucket === it.bucket && s.next - 1 > it.upTo)) ctx.ops.push({ key: it.index, value: null });
      return;
    }
    case 'ttl_delete':
      if (!env.tracked(keyId(it.key))) ctx.ops.push({ key: it.key, value: null });
      ctx.ops.push({ key: it.index, value: null });
      return;
    case 'index_delete':
      ctx.ops.push({ key: it.index, value: null });
      return;
    case 'raw': {
      const expected = env.lsns.last[p]! + 1;
      if (it.lsn !== expected) throw new StoreError('store_lsn_gap', `partition ${p}: batch ${it.lsn} does not follow ${expected - 1}`, { partition: p });
      for (const op of it.ops) ctx.ops.push(op);
      rawLsn.set(p, it.lsn);
      // The replicated ops may rewrite queue and counter state this store has cached.
      env.cache.dropPartition(p);
      return;
    }
  }
}

function hotState(env: ApplyEnv, key: Uint8Array, ctx: BuildCtx): HotState {
  const id = keyId(key);
  const s = env.cache.get(id);
  if (!s) throw new StoreError('store_io', 'state was not loaded before the batch was built');
  if (ctx.saved.get(id) !== ctx.txNo) {
    ctx.saved.set(id, ctx.txNo);
    ctx.undo.push(s.save());
    ctx.dirty.set(id, s);
  }
  return s;
}

function queueState(env: ApplyEnv, key: Uint8Array, ctx: BuildCtx): QueueState {
return hotState(env, key, ctx) as QueueState;
}
