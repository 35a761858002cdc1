import { Router } from 'express';
import type { RoutingStore } from '../../lua/routing-store.js';
import type { RouterMetrics } from '../metrics.js';

/** Liveness, readiness and metrics: unauthenticated, for kubelet and Prometheus. */
export function probeRoutes(store: RoutingStore, metrics: RouterMetrics, readinessTimeoutMs: number): Router {
  const routes = Router();

  const health: import('express').RequestHandler = (_req, res) => {
    res.type('text/plain').send('healthy');
  };

  /**
   * Ready whenever this process serves HTTP, Redis or not. When Redis is
   * down, every replica is down with it: failing readiness would empty the
   * Service, and providers would get a proxy's 502 (Twilio and Plivo then
   * play their own error) instead of a fast 503 with Retry-After or the
   * spoken fallback markup each replica still answers within the command
   * timeout. The body says whether Redis answers, for people.
   */
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
      res.type('text/plain').send(`ready; redis unreachable (${(err as Error).message}): allocations answer 503 with Retry-After`);
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
