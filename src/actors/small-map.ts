/**
 * SmallMap: a map that holds its first entry in two fields and only makes a
 * `Map` for a second one.
 *
 * Why: nearly every cell that monitors anything monitors one actor (a
 * connection watches its user actor, the user actor watches the
 * connection), most users have one device online, and a `Map` with one entry costs about 210 bytes on V8 (the
 * object and a hash table sized for four). With a connection and its user
 * actor each holding a monitor and a watcher, that was ~850 bytes per idle
 * connection; this object with one entry is ~40.
 *
 * The API is the part of `Map` the signal table uses. Iteration visits every
 * entry once, in no promised order; deleting during iteration is allowed
 * for the entry being visited (as with `Map`).
 */
export class SmallMap<K, V> {
  private k: K | undefined = undefined;
  private v: V | undefined = undefined;
  private has1 = false;
  private more: Map<K, V> | null = null;

  get size(): number {
    return (this.has1 ? 1 : 0) + (this.more?.size ?? 0);
  }

  /** A copy with the same entries. */
  static from<K, V>(entries: Iterable<readonly [K, V]>): SmallMap<K, V> {
    const m = new SmallMap<K, V>();
    for (const [k, v] of entries) m.set(k, v);
    return m;
  }

  has(key: K): boolean {
    return (this.has1 && this.k === key) || (this.more?.has(key) ?? false);
  }

  get(key: K): V | undefined {
    if (this.has1 && this.k === key) return this.v;
    return this.more?.get(key);
  }

  set(key: K, value: V): this {
    if (this.has1 && this.k === key) this.v = value;
    else if (!this.has1 && this.more?.has(key) !== true) {
      this.k = key;
      this.v = value;
      this.has1 = true;
    } else (this.more ??= new Map()).set(key, value);
    return this;
  }

  delete(key: K): boolean {
    if (this.has1 && this.k === key) {
      this.has1 = false;
      this.k = undefined;
      this.v = undefined;
      return true;
    }
    return this.more?.delete(key) ?? false;
  }

  *[Symbol.iterator](): IterableIterator<[K, V]> {
    if (this.has1) yield [this.k as K, this.v as V];
    if (this.more !== null) yield* this.more;
  }

  *keys(): IterableIterator<K> {
    for (const [k] of this) yield k;
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this) yield v;
  }
}
