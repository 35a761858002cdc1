/**
 * Answers reads from a value at most ttlMs old, and runs at most one load
 * per key at a time: however many requests ask during an interval, the
 * store sees one read per key per interval on this replica. Failed loads
 * are not kept, so an error is retried by the next request. A ttl of 0 turns
 * the cache off (every read loads).
 */
export class ReadCache<T> {
  private readonly entries = new Map<string, { value?: T; expires: number; pending?: Promise<T> }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Drops a key, so the next read loads: this replica just changed what it holds. */
  forget(key: string): void {
    this.entries.delete(key);
  }

  get(key: string, load: () => Promise<T>): Promise<T> {
    if (this.ttlMs <= 0) return load();
    const entry = this.entries.get(key);
    if (entry?.pending) return entry.pending;
    if (entry && entry.expires > this.now()) return Promise.resolve(entry.value as T);
    if (!entry && this.entries.size >= this.maxEntries) {
      // Oldest first: names nobody asks for again (guessed pod names) leave first.
      this.entries.delete(this.entries.keys().next().value as string);
    }
    const fresh: { value?: T; expires: number; pending?: Promise<T> } = { expires: 0 };
    fresh.pending = load().then(
      (value) => {
        fresh.value = value;
        fresh.expires = this.now() + this.ttlMs;
        fresh.pending = undefined;
        return value;
      },
      (err: unknown) => {
        if (this.entries.get(key) === fresh) this.entries.delete(key);
        throw err;
      },
    );
    this.entries.delete(key); // re-inserted last: the Map's order is the age order
    this.entries.set(key, fresh);
    return fresh.pending;
  }
}
