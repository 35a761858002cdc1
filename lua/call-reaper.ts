import type { Logger } from '../core/logger.js';
import { PeriodicTask } from '../core/periodic-task.js';
import type { EndedCall, RoutingStore } from './routing-store.js';

export interface ReaperHooks {
  onReaped?(calls: EndedCall[]): void;
  /** A pass failed (it is retried on the next tick); e.g. a fenced write means this replica no longer leads. */
  onFailed?(err: Error): void;
}

/**
 * Ends zombie calls (no release before the pool's maxCallDurationSeconds),
 * on a timer, in bounded batches. Runs where the caller decides: on the
 * leader in operator mode, in-process in standalone mode. Safe to run on
 * several replicas at once: each call is ended by exactly one script run.
 */
export class CallReaper {
  private readonly task: PeriodicTask;

  constructor(
    private readonly store: RoutingStore,
    intervalMs: number,
    private readonly logger: Logger,
    private readonly hooks: ReaperHooks = {},
    private readonly batch = 500,
  ) {
    this.task = new PeriodicTask(() => this.reapOnce(), intervalMs, (err) => {
      this.logger.warn('reaping failed; will retry', { error: err.message });
      this.hooks.onFailed?.(err);
    });
  }

  /** One pass: reaps until no expired call is left. */
  async reapOnce(): Promise<EndedCall[]> {
    const all: EndedCall[] = [];
    for (;;) {
      const reaped = await this.store.reapExpired(this.batch);
      for (const call of reaped) {
        this.logger.warn('zombie call reaped', { call_sid: call.callSid, pod: call.pod, pool: call.pool, reason: 'max_call_duration' });
      }
      all.push(...reaped);
      if (reaped.length) this.hooks.onReaped?.(reaped);
      if (reaped.length < this.batch) return all;
    }
  }

  start(): void {
    this.task.start();
  }

  stop(): Promise<void> {
    return this.task.stop();
  }
}
