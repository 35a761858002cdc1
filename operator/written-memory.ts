/**
 * What this replica just wrote to an object, believed over the informer
 * cache until the cache has seen that write. The API server answers a write
 * with the object's new resourceVersion; a cached object with an older one
 * predates the write. resourceVersions are etcd revisions, decimal and
 * ordered (comparable since Kubernetes made that a guarantee); should an
 * API server hand out anything else, only the exact version the write was
 * based on counts as older.
 */
export class WrittenMemory<T> {
  private entries = new Map<string, { value: T; basedOn: string | undefined; writtenAs: string | undefined }>();

  remember(name: string, value: T, basedOn: string | undefined, writtenAs: string | undefined): void {
    this.entries.set(name, { value, basedOn, writtenAs });
  }

  /** What was written, while the cached object (at `cachedVersion`) predates the write; else forgets it. */
  recall(name: string, cachedVersion: string | undefined): T | undefined {
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    if (predates(cachedVersion, entry)) return entry.value;
    this.entries.delete(name);
    return undefined;
  }

  forget(exists: (name: string) => boolean): void {
    for (const name of this.entries.keys()) if (!exists(name)) this.entries.delete(name);
  }

  clear(): void {
    this.entries.clear();
  }
}

const DECIMAL = /^\d{1,30}$/;

function predates(cached: string | undefined, entry: { basedOn: string | undefined; writtenAs: string | undefined }): boolean {
  if (cached !== undefined && entry.writtenAs !== undefined && DECIMAL.test(cached) && DECIMAL.test(entry.writtenAs)) return BigInt(cached) < BigInt(entry.writtenAs);
  return cached === entry.basedOn;
}
