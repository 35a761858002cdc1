import { performance } from 'node:perf_hooks';
import express, { type Express, type Request, type RequestHandler, type Router } from 'express';
import type { Logger } from '../core/logger.js';
import type { RoutingStore } from '../lua/routing-store.js';
import { requireScope, scopesFor } from './auth.js';
import type { CallRouter } from './call-router.js';
import { Credentials } from './credentials.js';
import { errorMiddleware, HttpError } from './errors.js';
import { EventLoopWatch } from './event-loop-watch.js';
import { jsonBody } from './json-body.js';
import { rateLimitPerClient, type RateLimit } from './rate-limit.js';
import { ReadCache } from './read-cache.js';
import type { RouterMetrics } from './metrics.js';
import type { PodDrainControl } from './pod-control.js';
import { callHandlers } from './routes/calls.js';
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
  /** How old a status or pod answer may be (ms): one Redis read per interval per replica; 0 reads every time. */
  readCacheMs?: number;
  /** Per-client limit on admin routes; off when unset. */
  adminRateLimit?: RateLimit;
  /** Express `trust proxy`: a hop count or addresses/CIDRs (TRUST_PROXY); loopback when unset. */
  trustProxy?: number | string[];
  /** Routes under /api/v1 with their own authentication (telephony webhooks). */
  providerRoutes?: Router;
  /** Dates each request's arrival; one is started when not given. */
  loopWatch?: EventLoopWatch;
}

export const MAX_BODY_BYTES = 16 * 1024;
const API = '/api/v1';

/**
 * A request's path relative to /api/v1, as written, whether its route is
 * mounted on the app (the call routes) or under the /api/v1 router: a
 * spelling Express also matches (a trailing slash, another case) gets the
 * scopes and limits of its own path.
 */
const apiPath = (req: Request) => (req.baseUrl === '' ? req.path.slice(API.length) : req.path);

/** A declared Content-Length over the limit: 413 now, and the connection closed rather than read. */
function refuseDeclaredOversize(limit: number): RequestHandler {
  return (req, res, next) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (!(declared > limit)) return next();
    res.set('Connection', 'close');
    next(new HttpError(413, { error: `request body is larger than ${limit / 1024} KiB` }));
  };
}

/** JSON bodies only; a body of another type is refused rather than ignored. */
const jsonOnly: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
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

  // First of all: when the request arrived (its deadline counts from here)
  // and, before anything reads a body, a declared length over the limit is
  // answered at once. One step: every request takes it.
  const loopWatch = deps.loopWatch ?? new EventLoopWatch().start();
  const refuseOversize = refuseDeclaredOversize(MAX_BODY_BYTES);
  app.use((req, res, next) => {
    const now = performance.now();
    res.locals.arrivedAt = loopWatch.arrivalOf(now);
    res.locals.afterStall = loopWatch.recentlyStalled(now);
    refuseOversize(req, res, next);
  });

  // Open: probes, metrics and the API's own description. Everything else
  // under /api/v1 needs a token of the route's scope, or a provider's signature.
  // What every /api/v1 request goes through before its route: the per-client
  // limit on admin routes (before authentication, so a client guessing tokens
  // is slowed down too), the token check and the JSON body.
  const credentials = deps.credentials ?? Credentials.none();
  // A limit that is off and an API left open (no credential configured) are no step at all.
  const adminLimit = deps.adminRateLimit ?? { perSecond: 0, burst: 0 };
  const gate: RequestHandler[] = [
    ...(adminLimit.perSecond > 0 ? [rateLimitPerClient(adminLimit, (req) => !scopesFor(req.method, apiPath(req)).includes('routing'))] : []),
    ...(credentials.enforced ? [requireScope(credentials, (req) => scopesFor(req.method, apiPath(req)))] : []),
    jsonBody(MAX_BODY_BYTES, 'request body is larger than 16 KiB'),
    jsonOnly,
  ];

  // The routes called for every call come first, each with that chain, so
  // the hot path does not walk the routers of probes, providers and admin
  // routes on every request.
  for (const [path, handler] of Object.entries(callHandlers(deps.router))) app.post(`${API}${path}`, ...gate, handler);

  app.use(probeRoutes(deps.store, deps.metrics, deps.redisCommandTimeoutMs));
  app.get(`${API}/openapi.json`, (_req, res) => {
    res.json(openapi);
  });
  if (deps.providerRoutes) app.use(API, deps.providerRoutes);

  const api = express.Router();
  api.use(...gate);
  api.use(podRoutes(deps.store, deps.drain, deps.logger, new ReadCache(deps.readCacheMs ?? 0)));
  api.use(statusRoutes(deps.store, deps.router, deps.isLeader, new ReadCache(deps.readCacheMs ?? 0)));
  app.use(API, api);

  app.use((req, _res, next) => next(new HttpError(404, { error: `no route for ${req.method} ${req.path}` })));
  app.use(errorMiddleware(deps.logger));
  return app;
}
