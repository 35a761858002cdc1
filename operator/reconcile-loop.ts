import type { Logger } from '../core/logger.js';

/** Exponential backoff for the nth consecutive failure (1-based), capped. */
export function backoffDelay(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
}

export interface LoopTiming {
  /** First retry after a failure; doubles per consecutive failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Reconcile at least this often even without events (heals drift such as a flushed Redis). */
  resyncMs: number;
}

/**
 * A work queue with one key: every event marks the fleet dirty, and one
 * reconcile at a time runs, so a burst of events costs one or two runs, not
 * one each. A failed run is retried with exponential backoff; a periodic
 * resync catches what no event announces.
 */
export class ReconcileLoop {
  private running = false;
  private dirty = false;
  private active = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private idle: Promise<void> = Promise.resolve();
  runs = 0;

  constructor(
    private readonly work: () => Promise<void>,
    private readonly timing: LoopTiming,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.active) return;
    this.active = true;
    this.resync = setInterval(() => this.enqueue(), this.timing.resyncMs);
    this.enqueue();
  }

  enqueue(): void {
    if (!this.active) return;
    this.dirty = true;
    if (!this.running && !this.timer) this.schedule(0);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.idle = this.runOnce();
    }, delayMs);
  }

  private async runOnce(): Promise<void> {
    if (!this.active || this.running) return;
    this.running = true;
    this.dirty = false;
    let delay: number | undefined;
    try {
      this.runs++;
      await this.work();
      this.failures = 0;
    } catch (err) {
      this.failures++;
      delay = backoffDelay(this.failures, this.timing.baseDelayMs, this.timing.maxDelayMs);
      this.dirty = true;
      this.logger.warn('reconcile failed; retrying', { error: (err as Error).message, retry_in_ms: delay, failures: this.failures });
    } finally {
      this.running = false;
    }
    if (this.active && this.dirty && !this.timer) this.schedule(delay ?? 0);
  }

  /** Stops at once: no new run starts; waits for the one in flight. */
  async stop(): Promise<void> {
    this.active = false;
    clearTimeout(this.timer);
    clearInterval(this.resync);
    this.timer = undefined;
    await this.idle;
  }
}
