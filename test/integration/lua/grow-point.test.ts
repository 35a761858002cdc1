// The autoscaler's grow point, against a real redis-server: the allocation
// that brings a pool's calls to it publishes the pool on the autoscale
// channel, so the leader grows the workload without waiting for its pass.
import type { Redis } from 'ioredis';
import { listenForAutoscaleWakeups } from '../../../lua/autoscale-wakeups.js';
import { RoutingStore } from '../../../lua/routing-store.js';
import { silentLogger } from '../../../core/logger.js';
import { createRedisClient } from '../../../lua/redis-client.js';
import { isolatedStore, pool, sharedTestRedis, testRedisUrl } from '../../support/routing.js';

const redis: Redis = sharedTestRedis();
const routerClient = createRedisClient(testRedisUrl(), 1000, silentLogger());
afterAll(() => routerClient.disconnect());
let store: RoutingStore;
let woken: string[];
let stop: () => Promise<void>;

beforeEach(async () => {
  store = isolatedStore(redis);
  woken = [];
  // The router's own client (lazy, no offline queue), as the operator passes it.
  const wakeups = listenForAutoscaleWakeups(routerClient, store.keys.autoscaleChannel, (p) => woken.push(p), silentLogger());
  await wakeups.subscribed;
  stop = wakeups.stop;
});
afterEach(async () => {
  await stop();
});

const member = (name: string) => ({ pod: name, ready: true, draining: false, incarnation: '' });
const allocate = async (sid: string) => store.allocate(sid, ['p'], (await store.poolsSnapshot()).version);
/** Pub/Sub delivers after the reply: a round trip on the subscriber's server lets it arrive. */
const settle = async () => {
  await redis.ping();
  await new Promise((r) => setTimeout(r, 50));
};

test('the allocation that reaches the grow point wakes the autoscaler, and each one past it', async () => {
  await store.syncPool(pool('p', {}), ['a', 'b', 'c', 'd'].map(member));
  expect(await store.setGrowPoint('p', 2)).toBe(true);
  await allocate('x1');
  await settle();
  expect(woken).toEqual([]);
  await allocate('x2');
  await allocate('x3');
  await settle();
  expect(woken).toEqual(['p', 'p']);
});

test('no point, no wake-up; clearing it stops them; a pool Redis does not hold gets none', async () => {
  await store.syncPool(pool('p', {}), ['a', 'b'].map(member));
  await allocate('x1');
  await store.setGrowPoint('p', 1);
  expect(await store.setGrowPoint('p', 1)).toBe(false);
  expect(await store.setGrowPoint('p', undefined)).toBe(true);
  await allocate('x2');
  await settle();
  expect(woken).toEqual([]);
  // A pool deleted meanwhile: the point is not written, so no config hash comes back for it.
  expect(await store.setGrowPoint('gone', 3)).toBe(false);
  expect(await redis.exists(store.keys.poolConfig('gone'))).toBe(0);
});

test('a leader whose term is over cannot move the point', async () => {
  const old = new RoutingStore(redis, store.keys.base.slice(1, -2));
  await store.syncPool(pool('p', {}), ['a'].map(member));
  expect(await old.beginTerm(0)).toBe(1);
  const next = new RoutingStore(redis, store.keys.base.slice(1, -2));
  expect(await next.beginTerm(1)).toBe(2);
  await expect(old.setGrowPoint('p', 5)).rejects.toThrow('FENCED');
});
