// The two servers the HTTP benchmark compares, each run as its own process:
//   baseline <redis-url> <port>                a bare Express route doing one EVALSHA of a trivial script
//   router <redis-url> <port> <prefix> <pods>  smart-router's real app over a pool of <pods> pods
import express from 'express';
import { Redis } from 'ioredis';
import { buildApp } from '../api/app.js';
import { CallRouter } from '../api/call-router.js';
import { listen } from '../api/http-server.js';
import { RouterMetrics } from '../api/metrics.js';
import { redisDrainControl } from '../api/pod-control.js';
import { createLogger } from '../core/logger.js';
import { connectRedis, createRedisClient } from '../lua/redis-client.js';
import { RoutingStore } from '../lua/routing-store.js';
import { benchPool, benchMembers } from './fleet.js';

const [mode, redisUrl, portArg, prefix, podsArg] = process.argv.slice(2);
const port = Number(portArg);
const logger = createLogger(process.env.LOG_LEVEL ?? 'info');

if (mode === 'baseline') {
  const redis = new Redis(redisUrl as string);
  redis.defineCommand('trivial', { numberOfKeys: 1, lua: "return redis.call('EXISTS', KEYS[1])" });
  const app = express();
  app.use(express.json({ limit: 16 * 1024 }));
  const handler: express.RequestHandler = async (req, res) => {
    const n = await (redis as unknown as { trivial(k: string): Promise<number> }).trivial(`{baseline}:${String(req.body?.call_sid)}`);
    res.json({ success: true, n });
  };
  app.get('/health', (_req, res) => {
    res.send('healthy');
  });
  app.post('/allocate', handler);
  app.post('/release', handler);
  await listen(app, '127.0.0.1', port, createLogger('error'));
} else if (mode === 'router') {
  const redis = createRedisClient(redisUrl as string, 1000, logger);
  await connectRedis(redis, 10_000);
  const store = new RoutingStore(redis, prefix as string);
  const pods = Number(podsArg);
  await store.syncPool(benchPool('bench', pods), benchMembers(pods));
  const metrics = new RouterMetrics(store);
  const router = new CallRouter(store, { defaultTier: 'bench', wsUrlTemplate: 'wss://voice.example.test/ws/pod/{pod}/{call_sid}' }, metrics, logger);
  // STATUS_CACHE_MS as the router reads it: the status benchmark runs one server with the cache and one without.
  const readCacheMs = Number(process.env.STATUS_CACHE_MS ?? 0);
  const app = buildApp({ store, router, metrics, logger, drain: redisDrainControl(store), isLeader: () => true, redisCommandTimeoutMs: 1000, readCacheMs });
  await listen(app, '127.0.0.1', port, createLogger('error'));
} else {
  console.error('usage: servers.js baseline|router <redis-url> <port> [prefix pods]');
  process.exit(2);
}
