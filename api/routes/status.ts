import { Router } from 'express';
import type { Pool } from '../../core/pool-types.js';
import type { RoutingStatus, RoutingStore } from '../../lua/routing-store.js';
import type { ReadCache } from '../read-cache.js';
import type { CallRouter } from '../call-router.js';
import { StoreUnavailableError } from '../errors.js';

/** What a status answer reads from Redis: the O(pods) pool-status script and the pool specs. */
export interface StatusReading {
  counts: RoutingStatus;
  pools: Pool[];
}

/**
 * `cache` bounds what status costs Redis: one pool-status run per interval
 * on this replica, whatever the request rate. is_leader is this replica's
 * own and always current.
 */
export function statusRoutes(store: RoutingStore, router: CallRouter, isLeader: () => boolean, cache: ReadCache<StatusReading>): Router {
  const routes = Router();
  const read = () =>
    cache.get('status', async () => {
      let counts;
      try {
        counts = await store.status();
      } catch (err) {
        throw new StoreUnavailableError(err);
      }
      return { counts, pools: await router.pools() };
    });

  routes.get('/status', async (_req, res) => {
    const { counts, pools: specs } = await read();
    const pools: Record<string, unknown> = {};
    for (const pool of specs) {
      const c = counts.pools[pool.name];
      pools[pool.name] = {
        tier: pool.spec.tier,
        exclusive: pool.spec.exclusive,
        capacity: pool.spec.capacity,
        desired: pool.spec.replicas,
        pods: c?.pods ?? 0,
        ready: c?.ready ?? 0,
        draining: c?.draining ?? 0,
        busy: c?.busy ?? 0,
        active_calls: c?.active_calls ?? 0,
        free_slots: c?.free_slots ?? 0,
      };
    }
    res.json({ pools, active_calls: counts.active_calls, is_leader: isLeader(), status: 'up' });
  });

  return routes;
}
