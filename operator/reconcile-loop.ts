import type { Logger } from '../core/logger.js';

/** Exponential backoff for the nth consecutive failure (1-based), capped. */
export function backoffDelay(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
}

export interface LoopTiming {
  /** First retry after a failure; doubles per consecutive failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Reconcile at least this often even without events (status counts, drift in Redis). */
  resyncMs: number;
  /**
   * After a successful run that took D ms, the next starts no sooner than
   * restShare × D after it ended, whatever the events (default 0). Work that
   * runs beside the loop then gets its share of the process under a stream
   * of events: at 1, runs take at most half of it.
   */
  restShare?: number;
}

/** What a run asks of the loop: run again after a delay even if no event comes. */
export interface RunResult {
  requeueAfterMs?: number;
}

/**
 * A run that stopped on purpose, not because something is broken: the
 * replica lost the lease mid-run, or its caches are not complete yet. Logged
 * quietly and retried like any failure (if the loop still runs).
 */
export class RunAbandoned extends Error {
  override name = 'RunAbandoned';
}

export type RunOutcome = 'ok' | 'error' | 'abandoned';

/**
 * A work queue with one key: every event marks the fleet dirty, and one
 * reconcile at a time runs, so a burst of events costs one or two runs, not
 * one each. A failed run is retried with exponential backoff, which a new
 * event cuts short; a periodic resync catches what no event announces.
 */
export class ReconcileLoop {
  private running = false;
  private dirty = false;
  private active = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The pending timer is a backoff after a failure, which an event cuts short. */
  private backingOff = false;
  private requeue: { timer: NodeJS.Timeout; atMs: number } | undefined;
  private resync: NodeJS.Timeout | undefined;
  /** No run starts before this (performance.now() clock): the rest after the last run. */
  private restUntil = 0;
  private idle: Promise<void> = Promise.resolve();
  runs = 0;

  constructor(
    private readonly work: () => Promise<RunResult | void>,
    private readonly timing: LoopTiming,
    private readonly logger: Logger,
    private readonly onRun: (outcome: RunOutcome, seconds: number) => void = () => undefined,
  ) {}

  start(): void {
    if (this.active) return;
    this.active = true;
    this.failures = 0;
    this.resync = setInterval(() => this.enqueue(), this.timing.resyncMs);
    this.enqueue();
  }

  /**
   * Something changed: run as soon as the run in flight (if any) ends. A
   * pending backoff is cut short, as a work queue's Add is: the failure that
   * caused it may have nothing to do with this change, and a drain must not
   * wait out another object's trouble. The failure count stays, so a run
   * that fails again backs off further when no event comes.
   */
  enqueue(): void {
    if (!this.active) return;
    this.dirty = true;
    if (this.timer && this.backingOff) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.running && !this.timer) this.schedule(Math.max(0, this.restUntil - performance.now()), false);
  }

  private schedule(delayMs: number, backingOff: boolean): void {
    this.backingOff = backingOff;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.backingOff = false;
      this.idle = this.runOnce();
    }, delayMs);
  }

  /** Enqueues after `delayMs`, keeping only the earliest pending request. */
  enqueueAfter(delayMs: number): void {
    if (!this.active) return;
    const atMs = Date.now() + delayMs;
    if (this.requeue && this.requeue.atMs <= atMs) return;
    clearTimeout(this.requeue?.timer);
    this.requeue = {
      atMs,
      timer: setTimeout(() => {
        this.requeue = undefined;
        this.enqueue();
      }, delayMs),
    };
  }

  private async runOnce(): Promise<void> {
    if (!this.active || this.running) return;
    this.running = true;
    this.dirty = false;
    let delay: number | undefined;
    const started = performance.now();
    try {
      this.runs++;
      const result = await this.work();
      this.failures = 0;
      const tookMs = performance.now() - started;
      this.restUntil = performance.now() + (this.timing.restShare ?? 0) * tookMs;
      this.onRun('ok', tookMs / 1000);
      if (result?.requeueAfterMs !== undefined && this.active) this.enqueueAfter(result.requeueAfterMs);
    } catch (err) {
      this.failures++;
      delay = backoffDelay(this.failures, this.timing.baseDelayMs, this.timing.maxDelayMs);
      this.dirty = true;
      if (err instanceof RunAbandoned) {
        this.onRun('abandoned', (performance.now() - started) / 1000);
        if (this.active) this.logger.info('reconcile postponed', { why: err.message, retry_in_ms: delay });
      } else {
        this.onRun('error', (performance.now() - started) / 1000);
        this.logger.warn('reconcile failed; retrying', { error: (err as Error).message, retry_in_ms: delay, failures: this.failures });
      }
    } finally {
      this.running = false;
    }
    if (this.active && this.dirty && !this.timer) this.schedule(delay ?? Math.max(0, this.restUntil - performance.now()), delay !== undefined);
  }

  /** Stops at once: no new run starts; waits for the one in flight. */
  async stop(): Promise<void> {
    this.active = false;
    clearTimeout(this.timer);
    clearTimeout(this.requeue?.timer);
    clearInterval(this.resync);
    this.timer = undefined;
    this.requeue = undefined;
    await this.idle;
  }
}
