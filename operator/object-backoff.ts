import { backoffDelay } from './reconcile-loop.js';

/**
 * Per-object retry pacing for API writes, as client-go's per-item rate
 * limiter: an object whose write failed waits out its own exponential
 * backoff while every other object is written as usual. A new version of
 * the object, or a different write wanted of it, is a new event for that
 * object and cuts its wait short.
 */
export class ObjectBackoff {
  private entries = new Map<string, { failures: number; retryAtMs: number; version: string }>();

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  /** May `key` be written now, given what it is (`version`: its resourceVersion and the write wanted)? */
  due(key: string, version: string, nowMs: number): boolean {
    const entry = this.entries.get(key);
    if (!entry) return true;
    if (entry.version !== version) {
      this.entries.delete(key);
      return true;
    }
    return nowMs >= entry.retryAtMs;
  }

  /** Records a failed write; returns how long the object waits. */
  failed(key: string, version: string, nowMs: number): { delayMs: number; failures: number } {
    const failures = (this.entries.get(key)?.failures ?? 0) + 1;
    const delayMs = backoffDelay(failures, this.baseMs, this.maxMs);
    this.entries.set(key, { failures, retryAtMs: nowMs + delayMs, version });
    return { delayMs, failures };
  }

  succeeded(key: string): void {
    this.entries.delete(key);
  }

  /** Drops objects `exists` no longer knows. */
  forget(exists: (key: string) => boolean): void {
    for (const key of this.entries.keys()) if (!exists(key)) this.entries.delete(key);
  }

  /** Milliseconds until the earliest waiting object is due; undefined when none waits. */
  nextDueInMs(nowMs: number): number | undefined {
    let next: number | undefined;
    for (const { retryAtMs } of this.entries.values()) next = Math.min(next ?? Infinity, Math.max(1, retryAtMs - nowMs));
    return next;
  }

  clear(): void {
    this.entries.clear();
  }
}
