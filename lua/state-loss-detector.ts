import type { Logger } from '../core/logger.js';
import { PeriodicTask } from '../core/periodic-task.js';
import type { RoutingStore } from './routing-store.js';

/**
 * Notices at once that Redis lost the routing state (a FLUSHALL, a restart
 * without AOF, an eviction of keys), instead of waiting for a resync: the
 * owner record every replica claims at start ({p}:owner) is the canary, and
 * one EXISTS every `intervalMs` is all it costs. On a loss it re-claims the
 * prefix and calls `onLost`, which rebuilds; runs on the leader in operator
 * mode and on every replica in standalone mode.
 */
export class StateLossDetector {
  private readonly task: PeriodicTask;

  constructor(
    private readonly store: RoutingStore,
    private readonly installation: string,
    intervalMs: number,
    private readonly onLost: () => Promise<void>,
    private readonly logger: Logger,
  ) {
    this.task = new PeriodicTask(() => this.checkOnce(), intervalMs, (err) => this.logger.warn('routing state check failed; will retry', { error: err.message }));
  }

  /** One check: true when the state was lost (and `onLost` ran). */
  async checkOnce(): Promise<boolean> {
    if ((await this.store.redis.exists(this.store.keys.owner)) === 1) return false;
    const claim = await this.store.claimOwner(this.installation);
    if (claim.outcome === 'foreign') {
      // Another installation took the prefix while it was empty: touching it would end its calls.
      this.logger.error('routing state lost, and another installation claimed the key prefix meanwhile: not rebuilding', { owner: claim.owner, installation: this.installation });
      return false;
    }
    this.logger.warn('routing state lost in Redis (flushed, or restarted without AOF): rebuilding now', { owner_key: this.store.keys.owner });
    await this.onLost();
    return true;
  }

  start(): void {
    this.task.start();
  }

  stop(): Promise<void> {
    return this.task.stop();
  }
}
