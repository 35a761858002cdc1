import { Router } from 'express';
import type { Logger } from '../../core/logger.js';
import type { RoutingStore } from '../../lua/routing-store.js';
import { notFound, StoreUnavailableError } from '../errors.js';
import type { PodDrainControl } from '../pod-control.js';
import { validateBody } from '../validation.js';
import { poolRef } from './calls.js';

export function podRoutes(store: RoutingStore, drain: PodDrainControl, logger: Logger): Router {
  const routes = Router();

  const setDrain = (draining: boolean) =>
    async function drainHandler(req: import('express').Request, res: import('express').Response) {
      const { pod_name: pod } = validateBody<{ pod_name: string }>('DrainRequest', req.body);
      const result = await drain.setDrain(pod, draining);
      if (!result) throw notFound('pod not found');
      logger.info(draining ? 'pod draining' : 'pod undrained', { pod, pool: result.pool, active_calls: result.calls, via: 'api' });
      res.json({ success: true, pod_name: pod, pool: result.pool && poolRef(result.pool), draining, active_calls: result.calls });
    };
  routes.post('/drain', setDrain(true));
  routes.post('/undrain', setDrain(false));

  routes.get('/pod/:name', async (req, res) => {
    const { pod_name: name } = validateBody<{ pod_name: string }>('DrainRequest', { pod_name: req.params.name });
    let pod;
    try {
      pod = await store.podState(name);
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
    if (!pod) throw notFound('pod not found');
    res.json({
      pod_name: pod.name,
      pool: pod.pool && poolRef(pod.pool),
      ready: pod.ready,
      draining: pod.draining,
      active_calls: pod.calls.length,
      calls: pod.calls,
    });
  });

  return routes;
}
