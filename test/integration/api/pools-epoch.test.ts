// The pools version carries a random epoch: after Redis loses the pools (a
// FLUSHALL, a restart without AOF) the version count starts over, but a route
// a router cached before the loss can never be accepted again.
import type { Redis } from 'ioredis';
import { silentLogger } from '../../../core/logger.js';
import { connectRedis, createRedisClient } from '../../../lua/redis-client.js';
import { RoutingStore } from '../../../lua/routing-store.js';
import { launchRedis, type TestRedisServer } from '../../support/redis-server.js';
import { pool, routerApp } from '../../support/routing.js';

let server: TestRedisServer;
let redis: Redis;
beforeAll(async () => {
  // Its own redis-server: this test flushes it.
  server = await launchRedis({ appendonly: false });
  redis = createRedisClient(server.url, 2000, silentLogger());
  await connectRedis(redis, 5000);
});
afterAll(async () => {
  redis.disconnect();
  await server.destroy();
});

const member = (name: string) => ({ pod: name, ready: true, draining: false, incarnation: `${name}-uid:0` });

test('FLUSHALL between two pool changes never routes a merchant into a pool now dedicated to another', async () => {
  const writer = new RoutingStore(redis, 'epoch');
  const { router } = routerApp(new RoutingStore(redis, 'epoch'));
  // Before: gold is acme's; standard takes everyone else.
  await writer.syncPool(pool('gold', { tier: 'standard', capacity: 10, merchants: ['acme'], priority: 10 }), [member('gold-0')]);
  await writer.syncPool(pool('standard', { capacity: 10 }), [member('std-0')]);
  const before = await writer.poolsVersion();
  expect(await router.allocate({ callSid: 'c1', merchantId: 'acme' })).toMatchObject({ pool: 'gold' });

  await redis.flushall();
  // After: gold now belongs to globex; acme has no dedicated pool. Two spec writes, as before the loss.
  await writer.syncPool(pool('gold', { tier: 'standard', capacity: 10, merchants: ['globex'], priority: 10 }), [member('gold-0')]);
  await writer.syncPool(pool('standard', { capacity: 10 }), [member('std-0')]);

  // The router still holds its route for acme from before the loss: it must drop it.
  expect(await router.allocate({ callSid: 'c2', merchantId: 'acme' })).toMatchObject({ pool: 'standard', pod: 'std-0' });
  const after = await writer.poolsVersion();
  expect(after.split(':')[1]).toBe(before.split(':')[1]); // the count repeated...
  expect(after).not.toBe(before); // ...the version did not
  expect(await router.allocate({ callSid: 'c3', merchantId: 'globex' })).toMatchObject({ pool: 'gold' });
  expect(await writer.poolMembers('gold')).toEqual(['gold-0']);
  expect((await writer.podState('gold-0'))?.calls).toEqual(['c3']);
});

test('while the pools are lost, a router with a cached route takes nothing and answers no capacity', async () => {
  const writer = new RoutingStore(redis, 'epoch-lost');
  const { router } = routerApp(new RoutingStore(redis, 'epoch-lost'));
  await writer.syncPool(pool('standard', { capacity: 10 }), [member('std-0')]);
  expect(await router.allocate({ callSid: 'c1' })).toMatchObject({ pool: 'standard' });
  await redis.flushall();
  expect(await router.allocate({ callSid: 'c2' })).toBeNull();
  expect(await redis.keys('*')).toEqual([]);
});
