import type { RouterMetrics } from '../api/metrics.js';
import type { Logger } from '../core/logger.js';
import type { RoutingStore } from '../lua/routing-store.js';

/**
 * Counts every pool's counters exactly from its pods and repairs them. The
 * scripts keep the counters as they change pods, so drift means a bug or a
 * hand edit in Redis: each drifted counter is logged and counted, never silent.
 */
export async function recountPoolCounters(store: RoutingStore, pools: readonly string[], metrics: RouterMetrics, logger: Logger): Promise<void> {
  for (const pool of pools) {
    const drift = await store.recountPool(pool);
    if (drift === null) {
      logger.info('pool counters recount stepped aside: the pool changed under it; the next full resync retries', { pool });
      continue;
    }
    for (const d of drift) {
      metrics.countDrift.inc({ pool, counter: d.field });
      logger.warn('pool counter drifted: repaired from an exact count', { pool, counter: d.field, kept: d.kept, exact: d.exact });
    }
  }
}
