import type { Logger } from '../core/logger.js';
import type { RoutingStore } from '../lua/routing-store.js';

/**
 * Takes the next leader term in Redis for a replica that just won the Lease
 * (lua/begin-term-1.lua), retrying while Redis does not answer. Nothing the
 * leader does may write before its term is begun: its writes would carry an
 * older term and be refused. Returns undefined when leadership ended first.
 */
export async function beginLeaderTerm(store: RoutingStore, leaseTransitions: number, stillLeading: () => boolean, logger: Logger, retryMs = 500): Promise<number | undefined> {
  for (;;) {
    if (!stillLeading()) return undefined;
    try {
      const term = await store.beginTerm(leaseTransitions);
      logger.info('leader term begun', { term, lease_transitions: leaseTransitions });
      return stillLeading() ? term : undefined;
    } catch (err) {
      logger.warn('could not begin the leader term in Redis; retrying', { error: (err as Error).message, retry_in_ms: retryMs });
      await new Promise((r) => setTimeout(r, retryMs));
    }
  }
}
