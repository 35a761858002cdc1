import { Router } from 'express';
import type { RoutingStore } from '../../lua/routing-store.js';
import type { RouterMetrics } from '../metrics.js';

/** Liveness, readiness and metrics: unauthenticated, for kubelet and Prometheus. */
export function probeRoutes(store: RoutingStore, metrics: RouterMetrics, readinessTimeoutMs: number): Router {
  const routes = Router();

  const health: import('express').RequestHandler = (_req, res) => {
    res.type('text/plain').send('healthy');
  };

  // Ready only while Redis answers: a replica that cannot allocate should get no traffic.
  const ready: import('express').RequestHandler = async (_req, res) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        store.redis.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out')), readinessTimeoutMs);
        }),
      ]);
      res.type('text/plain').send('ready');
    } catch (err) {
      res.status(503).json({ success: false, error: `redis unreachable: ${(err as Error).message}` });
    } finally {
      clearTimeout(timer);
    }
  };

  routes.get(['/health', '/api/v1/health'], health);
  routes.get(['/ready', '/api/v1/ready'], ready);
  routes.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return routes;
}
