// The two servers the HTTP benchmark compares, each run as its own process:
//   baseline <redis-url> <port>                the floor: bare Express 5, express.json() and one EVALSHA per request
//   router <redis-url> <port> <prefix> <pods> [shed|noshed]
//                                              smart-router's real app over a pool of <pods> pods,
//                                              shedding with the default limits (shed, the default) or never
import express from 'express';
import { Redis } from 'ioredis';
import { buildApp } from '../api/app.js';
import { CallRouter } from '../api/call-router.js';
import { listen } from '../api/http-server.js';
import { EventLoopWatch } from '../api/event-loop-watch.js';
import { RouterMetrics } from '../api/metrics.js';
import { OverloadGuard } from '../api/overload-guard.js';
import { loadConfig } from '../core/config.js';
import { redisDrainControl } from '../api/pod-control.js';
import { createLogger } from '../core/logger.js';
import { connectRedis, createRedisClient } from '../lua/redis-client.js';
import { RoutingStore } from '../lua/routing-store.js';
import { benchPool, benchMembers } from './fleet.js';

const [mode, redisUrl, portArg, prefix, podsArg, shedArg] = process.argv.slice(2);
const port = Number(portArg);
const logger = createLogger(process.env.LOG_LEVEL ?? 'info');

// Exits on SIGTERM through process.exit, so a profile asked for with --cpu-prof is written.
process.once('SIGTERM', () => process.exit(0));

if (mode === 'baseline') {
  // The floor, as ../peer-bench's baseline.mjs has it: one EVALSHA per request, nothing else.
  const redis = new Redis(redisUrl as string) as Redis & { alloc(k: string, sid: string): Promise<string>; rel(k: string, sid: string): Promise<number> };
  redis.defineCommand('alloc', { numberOfKeys: 1, lua: "redis.call('SADD', KEYS[1], ARGV[1]) return 'voice-agent-0'" });
  redis.defineCommand('rel', { numberOfKeys: 1, lua: "return redis.call('SREM', KEYS[1], ARGV[1])" });
  const app = express();
  app.use(express.json({ limit: 16 * 1024 }));
  app.get('/health', (_req, res) => {
    res.send('healthy');
  });
  app.post('/allocate', async (req, res) => {
    const pod = await redis.alloc('{baseline}:calls', req.body.call_sid);
    res.json({ success: true, pod_name: pod, ws_url: `wss://x/ws/pod/${pod}/${req.body.call_sid}`, was_existing: false });
  });
  app.post('/release', async (req, res) => {
    const n = await redis.rel('{baseline}:calls', req.body.call_sid);
    res.status(n ? 200 : 404).json({ success: n === 1 });
  });
  await listen(app, '127.0.0.1', port, createLogger('error'));
} else if (mode === 'router') {
  // Setting up 10,000 pods on a starved machine may take longer than a request's timeout.
  const setup = new Redis(redisUrl as string);
  const pods = Number(podsArg);
  await new RoutingStore(setup, prefix as string).syncPool(benchPool('bench', pods), benchMembers(pods));
  await setup.quit();
  const redis = createRedisClient(redisUrl as string, 1000, logger);
  await connectRedis(redis, 10_000);
  const store = new RoutingStore(redis, prefix as string);
  const metrics = new RouterMetrics(store);
  const loopWatch = new EventLoopWatch().start();
  // The production defaults (core/config.ts), or no shedding at all for the comparison.
  const { shedding } = loadConfig([], {});
  const overload = shedArg === 'noshed' ? undefined : new OverloadGuard(loopWatch, shedding);
  if (overload) metrics.watchOverload(overload);
  const router = new CallRouter(store, { defaultTier: 'bench', wsUrlTemplate: 'wss://voice.example.test/ws/pod/{pod}/{call_sid}', requestTimeoutMs: 1000, overload }, metrics, logger);
  // STATUS_CACHE_MS as the router reads it: the status benchmark runs one server with the cache and one without.
  const readCacheMs = Number(process.env.STATUS_CACHE_MS ?? 0);
  const app = buildApp({ store, router, metrics, logger, drain: redisDrainControl(store), isLeader: () => true, redisCommandTimeoutMs: 1000, readCacheMs, loopWatch });
  await listen(app, '127.0.0.1', port, createLogger('error'));
} else {
  console.error('usage: servers.js baseline|router <redis-url> <port> [prefix pods]');
  process.exit(2);
}
