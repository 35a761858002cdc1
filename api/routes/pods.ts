import { Router } from 'express';
import type { Logger } from '../../core/logger.js';
import type { PodState, RoutingStore } from '../../lua/routing-store.js';
import { badRequest, HttpError, notFound, StoreUnavailableError } from '../errors.js';
import { drainAndWaitForIdle } from '../pod-idle-wait.js';
import type { ReadCache } from '../read-cache.js';
import type { PodDrainControl } from '../pod-control.js';
import { validateBody } from '../validation.js';
import { poolRef } from './calls.js';

/** Longest wait one request may ask for; a preStop hook asks again until its grace period ends. */
export const MAX_IDLE_WAIT_SECONDS = 3600;
const DEFAULT_IDLE_WAIT_SECONDS = 30;

function waitSeconds(raw: unknown): number {
  if (raw === undefined) return DEFAULT_IDLE_WAIT_SECONDS;
  if (typeof raw !== 'string' || !/^\d{1,4}$/.test(raw) || Number(raw) > MAX_IDLE_WAIT_SECONDS) {
    throw badRequest(`timeout must be a whole number of seconds from 0 to ${MAX_IDLE_WAIT_SECONDS}`);
  }
  return Number(raw);
}

/** Pod details come from `cache` (one Redis read per pod per interval on this replica); drains always act on Redis. */
export function podRoutes(store: RoutingStore, drain: PodDrainControl, logger: Logger, cache: ReadCache<PodState | null>): Router {
  const routes = Router();

  const setDrain = (draining: boolean) =>
    async function drainHandler(req: import('express').Request, res: import('express').Response) {
      const { pod_name: pod } = validateBody<{ pod_name: string }>('DrainRequest', req.body);
      const result = await drain.setDrain(pod, draining);
      cache.forget(pod);
      if (!result) throw notFound('pod not found');
      logger.info(draining ? 'pod draining' : 'pod undrained', { pod, pool: result.pool, active_calls: result.calls, via: 'api' });
      res.json({ success: true, pod_name: pod, pool: result.pool && poolRef(result.pool), draining, active_calls: result.calls });
    };
  routes.post('/drain', setDrain(true));
  routes.post('/undrain', setDrain(false));

  routes.get('/pod/:name', async (req, res) => {
    const { pod_name: name } = validateBody<{ pod_name: string }>('DrainRequest', { pod_name: req.params.name });
    const pod = await cache.get(name, async () => {
      try {
        return await store.podState(name);
      } catch (err) {
        throw new StoreUnavailableError(err);
      }
    });
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

  // For a voice agent's preStop hook: drains the pod and answers once it has no call (200) or the wait ran out (408).
  routes.post('/pod/:name/wait-idle', async (req, res) => {
    const { pod_name: name } = validateBody<{ pod_name: string }>('DrainRequest', { pod_name: req.params.name });
    const timeoutSeconds = waitSeconds(req.query.timeout);
    // The client going away (the hook killed at the end of the grace period) ends the wait.
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    let result;
    try {
      result = await drainAndWaitForIdle(store, name, timeoutSeconds * 1000, gone.signal);
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
    const body = { pod_name: name, idle: result.idle, draining: result.known, active_calls: result.activeCalls, waited_seconds: Math.round(result.waitedMs / 100) / 10 };
    if (gone.signal.aborted && !result.idle) return;
    if (!result.idle) throw new HttpError(408, { error: `pod ${name} still has ${result.activeCalls} call(s) after ${timeoutSeconds} s`, ...body });
    if (result.waitedMs > 0) logger.info('pod idle after wait', { pod: name, waited_ms: result.waitedMs });
    res.json(body);
  });

  return routes;
}
