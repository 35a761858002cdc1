// What the reconciler reads from Redis before it plans: the pods routing
// knows (to find the ones that are gone), their state, and the pools version
// (to notice a Redis that lost or changed its state).
import type { RoutingStore } from '../../../lua/routing-store.js';
import { isolatedStore, pool, sharedTestRedis } from '../../support/routing.js';

const redis = sharedTestRedis();
let store: RoutingStore;
beforeEach(() => {
  store = isolatedStore(redis);
});

const member = (pod: string, extra: Partial<{ ready: boolean; draining: boolean; incarnation: string }> = {}) => ({ pod, ready: true, draining: false, incarnation: `${pod}-uid:0`, ...extra });
const allocate = async (sid: string, route: string[]) => store.allocate(sid, route, await store.poolsVersion());

describe('the pod index', () => {
  test('holds every pool member, and forgets an idle pod that leaves its pool', async () => {
    await store.syncPool(pool('p', {}), [member('a'), member('b')]);
    expect(await store.knownPods()).toEqual(['a', 'b']);
    await store.syncPool(pool('p', {}), [member('a')]);
    expect(await store.knownPods()).toEqual(['a']);
  });

  test('keeps a pod that left every pool while it holds calls, and forgets it with its last call', async () => {
    await store.syncPool(pool('p', {}), [member('a')]);
    await allocate('x', ['p']);
    await store.deletePool('p');
    expect(await store.knownPods()).toEqual(['a']);
    expect((await store.podRouting(['a'])).get('a')).toEqual({ pool: '', draining: true, incarnation: 'a-uid:0', calls: 1 });
    await store.release('x');
    expect(await store.knownPods()).toEqual([]);
  });

  test('forgets a removed pod, and a pod whose last call was reaped after it left its pool', async () => {
    await store.syncPool(pool('p', {}), [member('a'), member('b')]);
    await allocate('x', ['p']);
    await allocate('y', ['p']);
    await store.syncPool(pool('p', {}), []);
    expect(await store.knownPods()).toEqual(['a', 'b']);
    expect(await store.removePod('a')).toHaveLength(1);
    expect(await store.knownPods()).toEqual(['b']);
    // A restart seen by sync ends the call; the pod stays known while it is a member.
    await store.syncPool(pool('p', {}), [member('b', { incarnation: 'b-uid:1' })]);
    expect(await store.knownPods()).toEqual(['b']);
    expect((await store.podRouting(['b'])).get('b')).toMatchObject({ pool: 'p', calls: 0, incarnation: 'b-uid:1' });
    await store.syncPool(pool('p', {}), []);
    expect(await store.knownPods()).toEqual([]);
    expect(await redis.exists(store.keys.pods)).toBe(0);
  });
});

describe('podRouting', () => {
  test('reads pool, draining, incarnation and calls of many pods in one round trip; unknown pods have no pool', async () => {
    await store.syncPool(pool('p', { capacity: 2 }), [member('a'), member('b', { draining: true })]);
    await allocate('x', ['p']);
    const got = await store.podRouting(['a', 'b', 'ghost']);
    expect(Object.fromEntries(got)).toEqual({
      a: { pool: 'p', draining: false, incarnation: 'a-uid:0', calls: 1 },
      b: { pool: 'p', draining: true, incarnation: 'b-uid:0', calls: 0 },
      ghost: { pool: null, draining: false, incarnation: '', calls: 0 },
    });
    expect((await store.podRouting([])).size).toBe(0);
  });

  test('reads a fleet larger than one batch: every pod, each with its own state', async () => {
    const members = Array.from({ length: 23 }, (_, i) => member(`agent-${i}`, { draining: i % 3 === 0 }));
    await store.syncPool(pool('p', { capacity: 1 }), members);
    for (let i = 0; i < 5; i++) await allocate(`call-${i}`, ['p']);
    const got = await store.podRouting([...members.map((m) => m.pod), 'ghost'], 5);
    expect(got.size).toBe(24);
    for (const m of members) expect(got.get(m.pod)).toMatchObject({ pool: 'p', draining: m.draining, incarnation: m.incarnation });
    expect([...got.values()].reduce((n, r) => n + r.calls, 0)).toBe(5);
    expect(got.get('ghost')).toEqual({ pool: null, draining: false, incarnation: '', calls: 0 });
  });
});

describe('poolsVersion', () => {
  test("moves with spec changes only, and reads '0' once Redis lost it", async () => {
    expect(await store.poolsVersion()).toBe('0');
    await store.syncPool(pool('p', {}), [member('a')]);
    const v1 = await store.poolsVersion();
    await store.syncPool(pool('p', {}), [member('a'), member('b')]);
    expect(await store.poolsVersion()).toBe(v1);
    await store.syncPool(pool('p', { capacity: 2 }), [member('a')]);
    expect(await store.poolsVersion()).not.toBe(v1);
    await redis.del(store.keys.poolsVersion);
    expect(await store.poolsVersion()).toBe('0');
  });
});
