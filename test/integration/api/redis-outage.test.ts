// Redis goes away and comes back: requests fail fast with 503, nothing is
// half-written, everything recovers by itself, and AOF keeps every call.
import { createRedisClient, connectRedis } from '../../../lua/redis-client.js';
import { silentLogger } from '../../../core/logger.js';
import { RoutingStore } from '../../../lua/routing-store.js';
import { launchRedis, type TestRedisServer } from '../../support/redis-server.js';
import { exampleFleet, loadFleet, routerApp } from '../../support/routing.js';
import { serve, type TestServer } from '../../support/http.js';
import type { Redis } from 'ioredis';

let server: TestRedisServer;
let redis: Redis;
let http: TestServer;
let store: RoutingStore;

beforeEach(async () => {
  server = await launchRedis({ appendonly: true });
  redis = createRedisClient(server.url, 500, silentLogger());
  await connectRedis(redis, 5000);
  const router = routerApp(new RoutingStore(redis, 'outage'));
  store = router.store;
  await loadFleet(store, exampleFleet());
  http = await serve(router.app);
});
afterEach(async () => {
  await http.close();
  redis.disconnect();
  await server.destroy();
});

async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < 100; i++) {
    last = await probe();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`condition not met; last value ${JSON.stringify(last)}`);
}

test('while Redis is down, allocate and release answer 503 and the replica stays ready to answer them; all recovers by itself', async () => {
  const before = await http.post('/api/v1/allocate', { call_sid: 'before' });
  expect(before.status).toBe(200);

  await server.stop();
  const down = await eventually(() => http.post('/api/v1/allocate', { call_sid: 'during' }), (r) => r.status !== 200);
  expect(down.status).toBe(503);
  expect(down.body).toEqual({ success: false, error: 'routing store unavailable' });
  expect(down.headers.get('retry-after')).toBe('1');
  expect((await http.post('/api/v1/release', { call_sid: 'before' })).status).toBe(503);
  expect((await http.get('/api/v1/status')).status).toBe(503);
  // Still ready: a Service with no endpoints would hand providers a proxy's 502 instead of this 503.
  const ready = await http.get('/ready');
  expect(ready.status).toBe(200);
  expect(ready.text).toMatch(/^ready; redis unreachable \(.+\): allocations answer 503 with Retry-After$/);
  expect((await http.get('/health')).text).toBe('healthy');
  const metrics = (await http.get('/metrics')).text;
  expect(metrics).toMatch(/smart_router_redis_up 0/);
  expect(metrics).toMatch(/^smart_router_redis_ping_seconds nan$/im);
  expect(metrics).toMatch(/smart_router_allocations_total\{tier="standard",pool="",result="error"\} [1-9]/);

  await server.start();
  await eventually(() => http.get('/ready'), (r) => r.text === 'ready');
  // AOF: the call allocated before the outage survived the restart.
  const again = await http.post('/api/v1/allocate', { call_sid: 'before' });
  expect(again.body).toMatchObject({ success: true, was_existing: true, pod_name: before.body.pod_name });
  expect((await http.post('/api/v1/allocate', { call_sid: 'during' })).status).toBe(200);
  expect((await http.get('/api/v1/status')).body.active_calls).toBe(2);
});

test('a Redis that hangs makes requests answer 503 within the command timeout, not hang', async () => {
  // A frozen server keeps its connections open and answers nothing; the
  // client's 500 ms command timeout is what bounds the request.
  server.pause();
  let res;
  let ready;
  try {
    res = await http.post('/api/v1/allocate', { call_sid: 'hung' });
    ready = await http.get('/ready');
  } finally {
    server.resume();
  }
  expect(ready.status).toBe(200);
  expect(ready.text).toMatch(/^ready; redis unreachable/);
  expect(res.status).toBe(503);
  expect(res.body).toEqual({ success: false, error: 'routing store unavailable' });
  await eventually(() => http.get('/ready'), (r) => r.text === 'ready');
  // The timed-out attempt took nothing when Redis got to it (its deadline had passed, and its abandon followed it).
  expect((await http.get('/api/v1/status')).body.active_calls).toBe(0);
  const retry = await http.post('/api/v1/allocate', { call_sid: 'hung' });
  expect(retry.status).toBe(200);
  expect((await http.get('/api/v1/status')).body.active_calls).toBe(1);
});
