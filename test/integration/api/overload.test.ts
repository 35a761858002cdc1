// Overload sheds, it does not queue: past its limits a router answers new
// allocations a fast 503 with Retry-After, and keeps serving releases.
import type { Redis } from 'ioredis';
import { silentLogger } from '../../../core/logger.js';
import { connectRedis, createRedisClient } from '../../../lua/redis-client.js';
import { RoutingStore } from '../../../lua/routing-store.js';
import { launchRedis, type TestRedisServer } from '../../support/redis-server.js';
import { exampleFleet, loadFleet, routerApp } from '../../support/routing.js';
import { serve, type TestServer } from '../../support/http.js';

let server: TestRedisServer;
let redis: Redis;
let http: TestServer | undefined;
beforeEach(async () => {
  server = await launchRedis();
  redis = createRedisClient(server.url, 5000, silentLogger());
  await connectRedis(redis, 5000);
});
afterEach(async () => {
  server.resume();
  await http?.close();
  redis.disconnect();
  await server.destroy();
});

async function start(limits: { maxInflightAllocations: number; eventLoopLagMs: number }) {
  const router = routerApp(new RoutingStore(redis, 'overload'), { requestTimeoutMs: 10_000, overload: limits });
  await loadFleet(router.store, exampleFleet());
  http = await serve(router.app);
  return router;
}

test('past the in-flight limit a new allocation is shed at once, not queued behind the slow ones', async () => {
  await start({ maxInflightAllocations: 2, eventLoopLagMs: 0 });
  const server_ = http as TestServer;
  server.pause();
  // Two allocations wait on a Redis that does not answer...
  const slow = [server_.post('/api/v1/allocate', { call_sid: 'slow-1' }), server_.post('/api/v1/allocate', { call_sid: 'slow-2' })];
  let shed;
  for (let i = 0; i < 50; i++) {
    shed = await server_.post('/api/v1/allocate', { call_sid: 'third' });
    if (shed.status === 503) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  // ...and the third is answered while they still wait.
  expect(shed!.status).toBe(503);
  expect(shed!.body).toEqual({ success: false, error: 'overloaded' });
  expect(shed!.headers.get('retry-after')).toBe('1');
  server.resume();
  const answered = await Promise.all(slow);
  expect(answered.map((r) => r.status)).toEqual([200, 200]);
  // The shed call took nothing; once the load is gone it is served.
  expect((await server_.get('/api/v1/status')).body.active_calls).toBe(2);
  expect((await server_.post('/api/v1/allocate', { call_sid: 'third' })).status).toBe(200);
  const metrics = (await server_.get('/metrics')).text;
  expect(metrics).toMatch(/smart_router_allocations_total\{tier="[a-z]+",pool="",result="overloaded"\} [1-9]/);
  expect(metrics).toMatch(/smart_router_allocations_in_flight 0/);
});

test('while the event loop lags, allocations are shed and releases are still served', async () => {
  // The lag limit is switched on once a call is in: this machine may lag a little at any time.
  const limits = { maxInflightAllocations: 0, eventLoopLagMs: 0 };
  const router = await start(limits);
  const server_ = http as TestServer;
  expect((await server_.post('/api/v1/allocate', { call_sid: 'before' })).status).toBe(200);
  limits.eventLoopLagMs = 50;
  // Keep the loop busy 150 ms out of every 160: the watch's ticks come late, far past 50 ms, for as long as it lasts.
  const busy = setInterval(() => {
    const until = performance.now() + 150;
    while (performance.now() < until);
  }, 10);
  let allocate, release;
  try {
    await new Promise((r) => setTimeout(r, 500));
    [allocate, release] = await Promise.all([server_.post('/api/v1/allocate', { call_sid: 'during' }), server_.post('/api/v1/release', { call_sid: 'before' })]);
  } finally {
    clearInterval(busy);
  }
  expect(allocate.status).toBe(503);
  expect(allocate.body).toEqual({ success: false, error: 'overloaded' });
  expect(release.body).toMatchObject({ success: true });
  expect(release.status).toBe(200);
  expect(await router.store.call('during')).toBeNull();
});
