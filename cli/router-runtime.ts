import type { RedisClient } from '../lua/redis-client.js';
import { buildApp, type AppDeps } from '../api/app.js';
import { CallRouter } from '../api/call-router.js';
import { listen, type RunningServer } from '../api/http-server.js';
import { RouterMetrics } from '../api/metrics.js';
import type { PodDrainControl } from '../api/pod-control.js';
import { Credentials } from '../api/credentials.js';
import { EventLoopWatch } from '../api/event-loop-watch.js';
import { OverloadGuard } from '../api/overload-guard.js';
import type { Config } from '../core/config.js';
import { ForeignInstallationError, type Installation } from '../core/installation.js';
import type { Logger } from '../core/logger.js';
import { flushTracing } from '../core/tracing.js';
import { connectRedis, createRedisClient } from '../lua/redis-client.js';
import { RedisTlsReloader, redisTlsOptions } from '../lua/redis-tls-files.js';
import { RedisClock } from '../lua/redis-clock.js';
import { RoutingStore } from '../lua/routing-store.js';

/** What every mode shares: Redis, the routing store, metrics, the allocator and its HTTP server. */
export interface RouterRuntime {
  redis: RedisClient;
  store: RoutingStore;
  metrics: RouterMetrics;
  router: CallRouter;
  credentials: Credentials;
  /** Dates requests and measures the event loop; shared by the app and the overload guard. */
  loopWatch: EventLoopWatch;
}

/** Connects to Redis and claims the installation's key prefix; another installation's prefix stops the process. */
export async function openRouterRuntime(config: Config, installation: Installation, logger: Logger): Promise<RouterRuntime> {
  const credentials = openCredentials(config, logger);
  const tls = redisTlsOptions(config.redisTls);
  const redis = createRedisClient(config.redis, config.redisCommandTimeoutMs, logger.child({ component: 'redis' }), tls);
  // Rotated certificates reach the next connection; the timer is unref'd and dies with the process.
  if (tls && RedisTlsReloader.needed(config.redisTls)) new RedisTlsReloader(tls, config.redisTls, logger.child({ component: 'redis' })).start();
  await connectRedis(redis, 30_000);
  const store = new RoutingStore(redis, installation.keyPrefix, { tombstoneSeconds: config.callTombstoneSeconds });
  const claim = await store.claimOwner(installation.id);
  if (claim.outcome === 'foreign') {
    redis.disconnect();
    throw new ForeignInstallationError(installation, claim.owner, store.keys.owner);
  }
  logger.info(claim.outcome === 'claimed' ? 'key prefix claimed' : 'key prefix owned by this installation', { key_prefix: installation.keyPrefix, installation: installation.id });
  // Measured now, so the first allocation does not spend its deadline on the clock.
  await RedisClock.of(redis, store.keys.deadlines).measure();
  const metrics = new RouterMetrics(store);
  const loopWatch = new EventLoopWatch().start();
  const overload = new OverloadGuard(loopWatch, config.shedding);
  metrics.watchOverload(overload);
  const router = new CallRouter(
    store,
    {
      defaultTier: config.defaultTier,
      wsUrlTemplate: config.wsUrlTemplate,
      wsTokenSecret: config.wsTokenSecret,
      wsTokenTtlSeconds: config.wsTokenTtlSeconds,
      requestTimeoutMs: config.redisCommandTimeoutMs,
      overload,
    },
    metrics,
    logger.child({ component: 'allocator' }),
  );
  return { redis, store, metrics, router, credentials, loopWatch };
}

/** Read before Redis is touched, so a bad token directory stops the process at once. */
function openCredentials(config: Config, logger: Logger): Credentials {
  const { apiToken, tokensDir, reloadMs } = config.auth;
  const credentials = Credentials.open({ legacyToken: apiToken, tokensDir, reloadMs }, logger.child({ component: 'auth' }));
  if (!credentials.enforced) {
    logger.warn('no API credentials configured (AUTH_TOKENS_DIR or API_TOKEN): anyone who can reach this port can allocate, release and drain; set AUTH_TOKENS_DIR for production');
  } else if (apiToken !== undefined) {
    logger.warn('API_TOKEN holds every scope (routing and admin): prefer separate routing and admin tokens in AUTH_TOKENS_DIR');
  }
  return credentials;
}

export function serveRouter(
  runtime: RouterRuntime,
  config: Config,
  logger: Logger,
  extra: Pick<AppDeps, 'drain' | 'isLeader' | 'providerRoutes'> & { drain: PodDrainControl },
): Promise<RunningServer> {
  const app = buildApp({
    ...runtime,
    ...extra,
    logger: logger.child({ component: 'api' }),
    redisCommandTimeoutMs: config.redisCommandTimeoutMs,
    trustProxy: config.trustProxy,
    readCacheMs: config.http.readCacheMs,
    adminRateLimit: config.http.adminRateLimit,
  });
  return listen(app, config.host, config.port, logger, { requestMs: config.http.requestTimeoutMs, headersMs: config.http.headersTimeoutMs });
}

/** Runs `stop` once on SIGTERM or SIGINT, then exits. */
export function onShutdown(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    stop()
      .then(() => flushTracing())
      .then(() => process.exit(0))
      .catch((err: Error) => {
        logger.error('shutdown failed', { error: err.message });
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}
