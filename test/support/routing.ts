import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Express } from 'express';
import { Redis } from 'ioredis';
import { buildApp, type AppDeps } from '../../api/app.js';
import { CallRouter } from '../../api/call-router.js';
import { Credentials } from '../../api/credentials.js';
import { EventLoopWatch } from '../../api/event-loop-watch.js';
import { RouterMetrics } from '../../api/metrics.js';
import { OverloadGuard, type OverloadLimits } from '../../api/overload-guard.js';
import { redisDrainControl } from '../../api/pod-control.js';
import { silentLogger } from '../../core/logger.js';
import { packageRoot } from '../../core/paths.js';
import { planPoolAssignments } from '../../core/planner.js';
import type { PodFacts, Pool, PoolSpec } from '../../core/pool-types.js';
import { parseFleetFile, type StandaloneFleet } from '../../core/standalone-file.js';
import { syncFleet } from '../../lua/pool-membership.js';
import { telephonyRoutes, type TelephonyOptions } from '../../api/telephony/provider-routes.js';
import { RoutingStore } from '../../lua/routing-store.js';

/** The shared test redis-server started by the jest global setup. */
export function testRedisUrl(): string {
  const url = process.env.SMART_ROUTER_TEST_REDIS_URL;
  if (!url) throw new Error('SMART_ROUTER_TEST_REDIS_URL is not set: run through jest (the global setup starts redis-server)');
  return url;
}

/** A client like production's: no offline queue, bounded commands. */
export function testRedisClient(url = testRedisUrl()): Redis {
  return new Redis(url, { enableOfflineQueue: true, maxRetriesPerRequest: 1, commandTimeout: 2000 });
}

/** A client to the shared test redis-server for one test file, closed after it. */
export function sharedTestRedis(): Redis {
  const redis = testRedisClient();
  afterAll(async () => {
    await redis.quit();
  });
  return redis;
}

/** A store on its own key prefix: tests sharing one redis-server never see each other. */
export function isolatedStore(redis: Redis): RoutingStore {
  return new RoutingStore(redis, `t-${randomUUID().slice(0, 8)}`);
}

export function exampleFleet(): StandaloneFleet {
  const file = join(packageRoot, 'examples', 'pools.yaml');
  return parseFleetFile(readFileSync(file, 'utf8'), file);
}

export function pool(name: string, spec: Partial<PoolSpec>): Pool {
  return {
    name,
    spec: { tier: name, exclusive: false, capacity: 1, replicas: 1, priority: 0, scheduling: 'LeastLoaded', maxCallDurationSeconds: 14400, ...spec },
  };
}

export function pod(name: string, labels: Record<string, string> = { app: 'voice-agent' }, extra: Partial<PodFacts> = {}): PodFacts {
  return { name, labels, ready: true, drainRequested: false, deleting: false, incarnation: '', ...extra };
}

/** Plans a fleet from scratch and writes it to the store, as standalone mode does. */
export async function loadFleet(store: RoutingStore, fleet: StandaloneFleet): Promise<void> {
  const plan = planPoolAssignments({ pools: fleet.pools, pods: fleet.pods, current: new Map(), calls: new Map() });
  await syncFleet(store, fleet.pools, fleet.pods, plan);
}

export interface TestRouter {
  app: Express;
  store: RoutingStore;
  router: CallRouter;
  metrics: RouterMetrics;
}

/** The real Express app over a real Redis, in process. */
export function routerApp(
  store: RoutingStore,
  options: { apiToken?: string; credentials?: Credentials; wsUrlTemplate?: string; wsTokenSecret?: string; telephony?: TelephonyOptions; requestTimeoutMs?: number; overload?: OverloadLimits } & Pick<AppDeps, 'readCacheMs' | 'adminRateLimit' | 'trustProxy'> = {},
): TestRouter {
  const loopWatch = new EventLoopWatch().start();
  const overload = options.overload ? new OverloadGuard(loopWatch, options.overload) : undefined;
  const metrics = new RouterMetrics(store);
  if (overload) metrics.watchOverload(overload);
  const logger = silentLogger();
  const router = new CallRouter(store, { defaultTier: 'standard', wsUrlTemplate: options.wsUrlTemplate ?? 'wss://voice.example.test/ws/pod/{pod}/{call_sid}', wsTokenSecret: options.wsTokenSecret, requestTimeoutMs: options.requestTimeoutMs, overload }, metrics, logger);
  const providerRoutes = options.telephony ? telephonyRoutes(router, options.telephony, metrics.registry, logger) : undefined;
  const app = buildApp({ store, router, metrics, logger, drain: redisDrainControl(store), isLeader: () => true, credentials: options.credentials ?? Credentials.open({ legacyToken: options.apiToken, reloadMs: 1000 }, logger), redisCommandTimeoutMs: options.requestTimeoutMs ?? 1000, loopWatch, providerRoutes, readCacheMs: options.readCacheMs, adminRateLimit: options.adminRateLimit, trustProxy: options.trustProxy });
  return { app, store, router, metrics };
}
