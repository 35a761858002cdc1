import express, { type Express, type RequestHandler, type Router } from 'express';
import type { Logger } from '../core/logger.js';
import type { RoutingStore } from '../lua/routing-store.js';
import { requireScope, scopeFor } from './auth.js';
import type { CallRouter } from './call-router.js';
import { Credentials } from './credentials.js';
import { errorMiddleware, HttpError } from './errors.js';
import { EventLoopWatch } from './event-loop-watch.js';
import type { RouterMetrics } from './metrics.js';
import type { PodDrainControl } from './pod-control.js';
import { callRoutes } from './routes/calls.js';
import { podRoutes } from './routes/pods.js';
import { probeRoutes } from './routes/probes.js';
import { statusRoutes } from './routes/status.js';
import { openapi } from './validation.js';

export interface AppDeps {
  store: RoutingStore;
  router: CallRouter;
  metrics: RouterMetrics;
  logger: Logger;
  drain: PodDrainControl;
  isLeader: () => boolean;
  /** Bearer tokens and their scopes; none configured leaves /api/v1 open. */
  credentials?: Credentials;
  redisCommandTimeoutMs: number;
  /** Express `trust proxy`: a hop count or addresses/CIDRs (TRUST_PROXY); loopback when unset. */
  trustProxy?: number | string[];
  /** Routes under /api/v1 with their own authentication (telephony webhooks). */
  providerRoutes?: Router;
  /** Dates each request's arrival; one is started when not given. */
  loopWatch?: EventLoopWatch;
}

export const MAX_BODY_BYTES = 16 * 1024;

/** JSON bodies only; a body of another type is refused rather than ignored. */
const jsonOnly: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (hasBody && req.body === undefined) return next(new HttpError(415, { error: 'Content-Type must be application/json' }));
  if (req.body === undefined) req.body = {};
  next();
};

/** Builds the HTTP app without listening, so tests drive it in process. */
export function buildApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', deps.trustProxy ?? 'loopback');

  // First of all: when the request arrived. Its deadline counts from here.
  const loopWatch = deps.loopWatch ?? new EventLoopWatch().start();
  app.use((_req, res, next) => {
    res.locals.arrivedAt = loopWatch.arrivalOf();
    next();
  });

  // Open: probes, metrics and the API's own description. Everything else
  // under /api/v1 needs a token of the route's scope, or a provider's signature.
  app.use(probeRoutes(deps.store, deps.metrics, deps.redisCommandTimeoutMs));
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  if (deps.providerRoutes) app.use('/api/v1', deps.providerRoutes);

  const api = express.Router();
  api.use(requireScope(deps.credentials ?? Credentials.none(), (req) => scopeFor(req.path)));
  api.use(express.json({ limit: MAX_BODY_BYTES, strict: false }));
  api.use(jsonOnly);
  api.use(callRoutes(deps.router));
  api.use(podRoutes(deps.store, deps.drain, deps.logger));
  api.use(statusRoutes(deps.store, deps.router, deps.isLeader));
  app.use('/api/v1', api);

  app.use((req, _res, next) => next(new HttpError(404, { error: `no route for ${req.method} ${req.path}` })));
  app.use(errorMiddleware(deps.logger));
  return app;
}
