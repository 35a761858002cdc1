import { Router } from 'express';
import type { RoutingStore } from '../../lua/routing-store.js';
import type { CallRouter } from '../call-router.js';
import { StoreUnavailableError } from '../errors.js';

export function statusRoutes(store: RoutingStore, router: CallRouter, isLeader: () => boolean): Router {
  const routes = Router();

  routes.get('/status', async (_req, res) => {
    let counts;
    try {
      counts = await store.status();
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
    const pools: Record<string, unknown> = {};
    for (const pool of await router.pools()) {
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
