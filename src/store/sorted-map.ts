/**
 * SortedBytesMap: an ordered map of byte keys, for the in-memory adapter
 * (ram tables, tests, the power-loss backend).
 *
 * Two parallel arrays kept sorted by unsigned byte order; lookups are binary
 * searches, inserts and deletes move the tail (a memmove of pointers, cheap
 * up to a few hundred thousand keys; beyond that use a disc table).
 */

import type { Bytes, KeyRange } from './adapter.js';

export class SortedBytesMap {
  private keys: Buffer[] = [];
  private values: Buffer[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** Index of the first key >= `key`. */
  lowerBound(key: Bytes): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(this.keys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the first key > `key`. */
  upperBound(key: Bytes): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(this.keys[mid]!, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get(key: Bytes): Buffer | undefined {
    const i = this.lowerBound(key);
    const k = this.keys[i];
    return k !== undefined && Buffer.compare(k, key) === 0 ? this.values[i] : undefined;
  }

  set(key: Bytes, value: Bytes): void {
    const i = this.lowerBound(key);
    const k = this.keys[i];
    const v = Buffer.from(value);
    if (k !== undefined && Buffer.compare(k, key) === 0) {
      this.values[i] = v;
    } else {
      this.keys.splice(i, 0, Buffer.from(key));
      this.values.splice(i, 0, v);
    }
  }

  delete(key: Bytes): void {
    const i = this.lowerBound(key);
    const k = this.keys[i];
    if (k !== undefined && Buffer.compare(k, key) === 0) {
      this.keys.splice(i, 1);
      this.values.splice(i, 1);
    }
  }

  clone(): SortedBytesMap {
    const c = new SortedBytesMap();
    c.keys = this.keys.slice();
    c.values = this.values.slice();
    return c;
  }

  /** The index bounds [from, to) of a range, ignoring `reverse` and `limit`. */
  bounds(range: KeyRange): [number, number] {
    let from = 0;
    let to = this.keys.length;
    if (range.gte) from = Math.max(from, this.lowerBound(range.gte));
    if (range.gt) from = Math.max(from, this.upperBound(range.gt));
    if (range.lt) to = Math.min(to, this.lowerBound(range.lt));
    if (range.lte) to = Math.min(to, this.upperBound(range.lte));
    return [from, Math.max(from, to)];
  }

  keyAt(i: number): Buffer | undefined {
    return this.keys[i];
  }

  valueAt(i: number): Buffer | undefined {
    return this.values[i];
  }

  /** Every key in a range (for clear). */
  keysIn(range: KeyRange): Buffer[] {
    const [from, to] = this.bounds(range);
    return this.keys.slice(from, to);
  }
}
