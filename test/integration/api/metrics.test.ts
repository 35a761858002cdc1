// /metrics counts what it says: every metric the documentation names is
// exported, and failures are counted as result="error".
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { silentLogger } from '../../../core/logger.js';
import { packageRoot } from '../../../core/paths.js';
import { connectRedis, createRedisClient } from '../../../lua/redis-client.js';
import { RoutingStore } from '../../../lua/routing-store.js';
import { OperatorMetrics } from '../../../operator/operator-metrics.js';
import { launchRedis, type TestRedisServer } from '../../support/redis-server.js';
import { exampleFleet, loadFleet, routerApp } from '../../support/routing.js';
import { serve, type TestServer } from '../../support/http.js';

let server: TestRedisServer;
let redis: Redis;
let http: TestServer;
let store: RoutingStore;
let metricsText: () => Promise<string>;

beforeEach(async () => {
  server = await launchRedis();
  // A Redis that answers nothing times requests out after 1 s; a loaded machine gets a generous request deadline.
  redis = createRedisClient(server.url, 1000, silentLogger());
  await connectRedis(redis, 5000);
  const router = routerApp(new RoutingStore(redis, 'metrics'), {
    requestTimeoutMs: 10_000,
    overload: { maxInflightAllocations: 0, eventLoopLagMs: 0 },
    telephony: { verifySignatures: false, failureMessage: 'busy', plivoNonceTtlSeconds: 600 },
  });
  // The operator's metrics share the router's registry in operator mode.
  new OperatorMetrics(router.metrics.registry);
  store = router.store;
  await loadFleet(store, exampleFleet());
  http = await serve(router.app);
  metricsText = async () => (await http.get('/metrics')).text;
});
afterEach(async () => {
  await http.close();
  server.resume();
  redis.disconnect();
  await server.destroy();
});

/** The value of one sample, 0 when the series does not exist yet. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** Every metric name the documents mention, wildcards (`smart_router_pool_*`) left out. */
function documentedMetrics(): string[] {
  const files = [join(packageRoot, 'README.md'), join(packageRoot, 'charts', 'smart-router', 'README.md')];
  for (const f of readdirSync(join(packageRoot, 'docs'))) if (f.endsWith('.md')) files.push(join(packageRoot, 'docs', f));
  const names = new Set<string>();
  for (const file of files) {
    for (const m of readFileSync(file, 'utf8').matchAll(/smart_router_[a-z0-9_]*[a-z0-9](?![a-z0-9_*])/g)) names.add(m[0]);
  }
  return [...names].sort();
}

test('every metric the documentation names is exported', async () => {
  const exported = new Set([...(await metricsText()).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
  const documented = documentedMetrics();
  expect(documented.length).toBeGreaterThan(5);
  const base = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
  expect(documented.filter((name) => !exported.has(name) && !exported.has(base(name)))).toEqual([]);
});

test('allocations and releases that fail are counted as result="error", and each documented result occurs', async () => {
  const allocate = (sid: string) => http.post('/api/v1/allocate', { call_sid: sid });
  expect((await allocate('m-1')).status).toBe(200);
  expect((await allocate('m-1')).status).toBe(200);
  for (let i = 2; i <= 7; i++) await allocate(`m-${i}`);
  expect((await allocate('m-full')).status).toBe(503);
  expect((await http.post('/api/v1/release', { call_sid: 'm-1' })).status).toBe(200);
  expect((await http.post('/api/v1/release', { call_sid: 'm-1' })).status).toBe(404);
  const ended = await allocate('m-1');
  expect(ended.body).toMatchObject({ error: 'call_ended' });
  expect(ended.status).toBe(409);

  server.pause();
  try {
    expect((await allocate('m-during')).status).toBe(503);
    expect((await http.post('/api/v1/release', { call_sid: 'm-2' })).status).toBe(503);
  } finally {
    server.resume();
  }
  await redis.ping();
  const text = await metricsText();
  const counted = (name: string, labels: string) => sample(text, `${name}{${labels}}`);
  expect(counted('smart_router_allocations_total', 'tier="standard",pool="",result="error"')).toBe(1);
  expect(counted('smart_router_releases_total', 'pool="",result="error"')).toBe(1);
  expect(counted('smart_router_allocations_total', 'tier="standard",pool="",result="no_capacity"')).toBeGreaterThanOrEqual(1);
  expect(counted('smart_router_allocations_total', 'tier="standard",pool="",result="call_ended"')).toBe(1);
  expect(counted('smart_router_allocations_total', 'tier="standard",pool="standard",result="existing"')).toBe(1);
  expect(counted('smart_router_allocations_total', 'tier="standard",pool="standard",result="allocated"')).toBe(3);
  expect(counted('smart_router_releases_total', 'pool="standard",result="released"')).toBe(1);
  expect(counted('smart_router_releases_total', 'pool="",result="not_found"')).toBe(1);
  // Failures are timed too: the histogram covers every answered allocation.
  expect(sample(text, 'smart_router_allocation_duration_seconds_count')).toBeGreaterThanOrEqual(1);
});
