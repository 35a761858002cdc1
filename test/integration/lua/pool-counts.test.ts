// Pool counters kept by the scripts, against an exact count from the pods,
// over randomized sequences of everything that changes a pod.
import { isDeepStrictEqual } from 'node:util';
import type { Redis } from 'ioredis';
import { RoutingStore, type PoolCounts, type PoolMember, type RoutingStatus } from '../../../lua/routing-store.js';
import type { Pool } from '../../../core/pool-types.js';
import { isolatedStore, pool, sharedTestRedis, testRedisClient } from '../../support/routing.js';

const redis = sharedTestRedis();
let store: RoutingStore;

beforeEach(() => {
  store = isolatedStore(redis);
});

/** Pool status counted the slow way, pod by pod, from the raw keys. */
async function exactStatus(s: RoutingStore, client: Redis = redis): Promise<RoutingStatus> {
  const k = s.keys;
  const pools: Record<string, PoolCounts> = {};
  for (const name of await client.hkeys(k.poolSpecs)) {
    const capacity = Number((await client.hget(k.poolConfig(name), 'capacity')) ?? 1);
    const c: PoolCounts = { pods: 0, ready: 0, draining: 0, busy: 0, active_calls: 0, draining_calls: 0, free_slots: 0, serving_slots: 0, capacity };
    for (const pod of await client.smembers(k.poolMembers(name))) {
      const [inPool, ready, draining] = await client.hmget(k.pod(pod), 'pool', 'ready', 'draining');
      expect(inPool).toBe(name);
      const calls = await client.scard(k.podCalls(pod));
      c.pods++;
      c.active_calls += calls;
      if (calls > 0) c.busy++;
      if (ready === '1') c.ready++;
      if (draining === '1') {
        c.draining++;
        c.draining_calls += calls;
      } else if (ready === '1') {
        c.serving_slots += capacity;
        if (calls < capacity) c.free_slots += capacity - calls;
      }
    }
    pools[name] = c;
  }
  return { active_calls: await client.zcard(k.deadlines), pools };
}

/** A small deterministic PRNG, so a failing sequence replays from its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] as T,
    chance: (p: number) => next() < p,
  };
}

const PODS = Array.from({ length: 12 }, (_, i) => `pod-${i}`);

describe('pool counters', () => {
  test.each([1, 2, 3, 4, 5, 6])('equal an exact count after every step of a random sequence (seed %i)', async (seed) => {
    const rnd = prng(seed);
    const specs: Record<string, Pool> = {
      a: pool('a', { capacity: 3 }),
      b: pool('b', { capacity: 1, exclusive: true }),
      c: pool('c', { capacity: 2, scheduling: 'Packed' }),
    };
    const members: Record<string, Map<string, PoolMember>> = { a: new Map(), b: new Map(), c: new Map() };
    const incarnations = new Map(PODS.map((p) => [p, `${p}-uid:0`]));
    const sync = async (name: string) => store.syncPool(specs[name] as Pool, [...(members[name] as Map<string, PoolMember>).values()]);
    const ownerOf = (pod: string) => Object.keys(members).find((p) => members[p]?.has(pod));
    // Every pod starts in a pool.
    PODS.forEach((pod, i) => members[['a', 'b', 'c'][i % 3] as string]!.set(pod, { pod, ready: true, draining: false, incarnation: incarnations.get(pod)! }));
    for (const name of Object.keys(members)) await sync(name);

    let sidCounter = 0;
    const steps: string[] = [];
    for (let step = 0; step < 150; step++) {
      const roll = rnd.int(100);
      const pod = rnd.pick(PODS);
      const owner = ownerOf(pod);
      if (roll < 35) {
        const route = rnd.chance(0.5) ? ['b', 'a', 'c'] : ['c', 'a'];
        const version = (await store.poolsSnapshot()).version;
        const r = await store.allocate(`call-${seed}-${sidCounter++}`, route, version);
        steps.push(`allocate ${r.kind}`);
      } else if (roll < 55) {
        const sids = await redis.zrange(store.keys.deadlines, "0", "-1");
        if (sids.length) await store.release(rnd.pick(sids));
        steps.push('release');
      } else if (roll < 62) {
        await store.setDraining(pod, rnd.chance(0.5));
        if (owner) members[owner]!.get(pod)!.draining = (await store.podState(pod))?.draining ?? false;
        steps.push(`drain ${pod}`);
      } else if (roll < 70) {
        const ready = rnd.chance(0.5);
        await store.setReady(pod, ready);
        if (owner) members[owner]!.get(pod)!.ready = ready;
        steps.push(`ready ${pod} ${ready}`);
      } else if (roll < 78) {
        // Membership: the pod moves to another pool, or leaves every pool.
        const target = rnd.pick(['a', 'b', 'c', null]);
        const state = (owner && members[owner]!.get(pod)) || { pod, ready: rnd.chance(0.8), draining: false, incarnation: incarnations.get(pod)! };
        if (owner) {
          members[owner]!.delete(pod);
          await sync(owner);
        }
        if (target) {
          members[target]!.set(pod, state);
          await sync(target);
        }
        steps.push(`move ${pod} ${owner} -> ${target}`);
      } else if (roll < 83) {
        // The pod restarted: its calls end.
        if (owner) {
          const n = Number(incarnations.get(pod)!.split(':')[1]) + 1;
          incarnations.set(pod, `${pod}-uid:${n}`);
          members[owner]!.get(pod)!.incarnation = incarnations.get(pod)!;
          await sync(owner);
        }
        steps.push(`restart ${pod}`);
      } else if (roll < 87) {
        await store.removePod(pod);
        if (owner) members[owner]!.delete(pod);
        steps.push(`remove ${pod}`);
      } else if (roll < 92) {
        // A call outlives its pool's maximum duration and is reaped.
        const sids = await redis.zrange(store.keys.deadlines, "0", "-1");
        if (sids.length) await redis.zadd(store.keys.deadlines, 1, rnd.pick(sids));
        await store.reapExpired();
        steps.push('reap');
      } else if (roll < 96) {
        const name = rnd.pick(['a', 'c']);
        specs[name] = pool(name, { ...specs[name]!.spec, capacity: 1 + rnd.int(4) });
        await sync(name);
        steps.push(`capacity ${name} ${specs[name]!.spec.capacity}`);
      } else {
        const name = rnd.pick(['a', 'b', 'c']);
        await store.deletePool(name);
        await sync(name);
        steps.push(`recreate ${name}`);
      }
      const counted = await store.status();
      const exact = await exactStatus(store);
      if (!isDeepStrictEqual(counted, exact)) {
        throw new Error(`counters drifted after: ${steps.slice(-5).join(' | ')}\n${JSON.stringify({ counted, exact })}`);
      }
    }
    // Nothing drifted, so the exact recount finds nothing to repair.
    for (const name of Object.keys(members)) expect(await store.recountPool(name, 2)).toEqual([]);
    expect(await store.status()).toEqual(await exactStatus(store));
  });

  test('the exact recount repairs counters that drifted and reports each one', async () => {
    await store.syncPool(pool('p', { capacity: 3 }), ['a', 'b', 'c'].map((pod) => ({ pod, ready: pod !== 'c', draining: false, incarnation: '' })));
    const version = (await store.poolsSnapshot()).version;
    await store.allocate('x', ['p'], version);
    await store.allocate('y', ['p'], version);
    const exact = await exactStatus(store);
    await redis.hincrby(store.keys.poolCounts('p'), 'free', 7);
    await redis.hset(store.keys.poolCounts('p'), 'ready', 40);
    await redis.hdel(store.keys.poolCounts('p'), 'calls');
    expect(await store.status()).not.toEqual(exact);

    const drift = await store.recountPool('p', 2);
    expect(drift).toEqual(
      expect.arrayContaining([
        { field: 'ready', kept: 40, exact: 2 },
        { field: 'calls', kept: 0, exact: 2 },
        { field: 'free', kept: exact.pools.p!.free_slots + 7, exact: exact.pools.p!.free_slots },
      ]),
    );
    expect(drift).toHaveLength(3);
    expect(await store.status()).toEqual(exact);
    // The recount leaves nothing behind.
    expect(await redis.exists(store.keys.poolRecount('p'), store.keys.poolRecounted('p'))).toBe(0);
    expect(await redis.hget(store.keys.poolConfig('p'), 'recounting')).toBeNull();
  });

  test('a recount in small batches stays exact while calls come and go between its batches', async () => {
    const pods = Array.from({ length: 40 }, (_, i) => ({ pod: `agent-${i}`, ready: true, draining: false, incarnation: '' }));
    await store.syncPool(pool('busy', { capacity: 4 }), pods);
    const version = (await store.poolsSnapshot()).version;
    // Calls on their own connection, so their scripts run between the recount's batches.
    const load = testRedisClient();
    const loadStore = new RoutingStore(load, store.keys.base.slice(1, -2));
    let running = true;
    let n = 0;
    const traffic = (async () => {
      const open: string[] = [];
      while (running || n < 200) {
        const sid = `c-${n++}`;
        await loadStore.allocate(sid, ['busy'], version);
        open.push(sid);
        if (open.length > 60) await loadStore.release(open.splice(n % open.length, 1)[0]!);
        if (n % 7 === 0) await loadStore.setDraining(`agent-${n % 40}`, n % 2 === 0);
      }
    })();
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await store.recountPool('busy', 3));
    running = false;
    await traffic;
    await load.quit();
    // Every recount either finished without finding drift or stepped aside; none "repaired" good counters.
    for (const r of results) expect(r === null || r.length === 0).toBe(true);
    expect(results.some((r) => r !== null)).toBe(true);
    expect(await store.status()).toEqual(await exactStatus(store));
  });

  test('a recount is abandoned, repairing nothing, when the pool changes capacity under it', async () => {
    const p = pool('p', { capacity: 2 });
    await store.syncPool(p, [{ pod: 'a', ready: true, draining: false, incarnation: '' }]);
    const k = store.keys;
    const lua = redis as unknown as { recountPool(...args: string[]): Promise<string[]> };
    expect(await lua.recountPool(k.poolSpecs, k.leaderTerm, k.base, 'p', '1', '0', '0', 'a')).toEqual(['partial']);
    await store.syncPool(pool('p', { capacity: 3 }), [{ pod: 'a', ready: true, draining: false, incarnation: '' }]);
    expect(await lua.recountPool(k.poolSpecs, k.leaderTerm, k.base, 'p', '0', '1', '0')).toEqual(['abandoned']);
    expect((await store.status()).pools.p).toMatchObject({ free_slots: 3 });
  });
});
