// Picking the pods a scale-down removes, against a real redis-server: only
// idle pods, atomically marked, in the order the workload controller removes pods.
import { FencedWriteError, RoutingStore } from '../../../lua/routing-store.js';
import { isolatedStore, pool, sharedTestRedis } from '../../support/routing.js';

const redis = sharedTestRedis();
let store: RoutingStore;

beforeEach(() => {
  store = isolatedStore(redis);
});

const member = (name: string, extra: Partial<{ ready: boolean; draining: boolean; incarnation: string }> = {}) => ({ pod: name, ready: true, draining: false, incarnation: '', ...extra });
const allocate = async (sid: string, route: string[]) => store.allocate(sid, route, (await store.poolsSnapshot()).version);
const tier = (t: number, ...pods: string[]) => pods.map((pod) => ({ pod, tier: t }));

describe('retire-idle-pods', () => {
  test('picks only idle pods, and a picked pod takes no call afterwards, not even when undrained or resynced', async () => {
    const p = pool('p', { capacity: 1 });
    await store.syncPool(p, [member('a'), member('b'), member('c')]);
    await allocate('x', ['p']); // lands on a (names sort first on equal load)
    const busy = (await store.call('x'))!.pod;
    const result = await store.retireIdlePods(tier(0, 'a', 'b', 'c'), 2);
    expect(result.picked.sort()).toEqual(['a', 'b', 'c'].filter((n) => n !== busy).sort());
    expect(result.blockedBy).toBeUndefined();
    // Every slot left is on a retiring pod: nothing to allocate.
    expect((await allocate('y', ['p'])).kind).toBe('none');
    // A resync planned before the pick, and an undrain, keep the picked pods draining.
    await store.syncPool(p, [member('a'), member('b'), member('c')]);
    for (const pod of result.picked) await store.setDraining(pod, false);
    expect((await allocate('y', ['p'])).kind).toBe('none');
    const routing = await store.podRouting(['a', 'b', 'c']);
    for (const pod of result.picked) expect(routing.get(pod)).toMatchObject({ draining: true, retiring: true, calls: 0 });
    expect(routing.get(busy)).toMatchObject({ draining: false, calls: 1 });
  });

  test('a tier must go whole before the next: a busy pod in it stops the walk', async () => {
    await store.syncPool(pool('p', {}), ['nr1', 'nr2', 'r1', 'r2', 'r3'].map((n) => member(n, { ready: !n.startsWith('nr') })));
    // A not-ready pod holding a call (it got it while Ready): the controller would remove not-ready pods first.
    await store.setReady('nr1', true);
    await allocate('x', ['p']);
    expect((await store.call('x'))!.pod).toBe('nr1');
    await store.setReady('nr1', false);
    const candidates = [...tier(0, 'nr1', 'nr2'), ...tier(1, 'r1', 'r2', 'r3')];
    // Asking for 3 needs the whole not-ready tier: only nr2 can go, and nr1 is named.
    expect(await store.retireIdlePods(candidates, 3)).toEqual({ picked: ['nr2'], blockedBy: 'nr1' });
  });

  test('a tier larger than the count gives up its idle pods only', async () => {
    await store.syncPool(pool('p', {}), ['a', 'b', 'c', 'd'].map((n) => member(n)));
    await allocate('x', ['p']);
    await allocate('y', ['p']);
    const busy = [(await store.call('x'))!.pod, (await store.call('y'))!.pod];
    const idle = ['a', 'b', 'c', 'd'].filter((n) => !busy.includes(n));
    expect(await store.retireIdlePods(tier(0, 'a', 'b', 'c', 'd'), 2)).toEqual({ picked: idle });
    // Asking for more than the idle pods of a tier stops at its first busy pod.
    const again = await store.retireIdlePods(tier(0, 'a', 'b', 'c', 'd'), 4);
    expect(again.picked.sort()).toEqual(idle.sort());
    expect(busy).toContain(again.blockedBy);
  });

  test('StatefulSet ordinals, one tier each, highest first: stops at the first busy ordinal', async () => {
    await store.syncPool(pool('p', {}), ['s-0', 's-1', 's-2', 's-3'].map((n) => member(n)));
    // A call on s-2 only.
    for (const pod of ['s-0', 's-1', 's-3']) await store.setDraining(pod, true);
    await allocate('x', ['p']);
    expect((await store.call('x'))!.pod).toBe('s-2');
    for (const pod of ['s-0', 's-1', 's-3']) await store.setDraining(pod, false);
    const ordinals = [...tier(0, 's-3'), ...tier(1, 's-2'), ...tier(2, 's-1')];
    expect(await store.retireIdlePods(ordinals, 3)).toEqual({ picked: ['s-3'], blockedBy: 's-2' });
  });

  test('pods outside every pool are idle candidates, marked so no sync makes them allocatable', async () => {
    expect(await store.retireIdlePods(tier(0, 'free'), 1)).toEqual({ picked: ['free'] });
    expect((await store.podRouting(['free'])).get('free')).toMatchObject({ pool: '', retiring: true });
    await store.syncPool(pool('p', {}), [member('free')]);
    expect((await allocate('x', ['p'])).kind).toBe('none');
    // Unretired outside any pool, it leaves nothing behind.
    expect(await store.retireIdlePods(tier(0, 'other'), 1)).toEqual({ picked: ['other'] });
    expect(await store.unretirePod('other', false)).toBe(true);
    expect(await store.knownPods()).toEqual(['free']);
    // Leaving the pool idle forgets it, mark and all: the pod's annotation keeps it out of pools from then on.
    await store.syncPool(pool('p', {}), []);
    expect(await store.knownPods()).toEqual([]);
  });

  test('unretire: the pod takes calls again, unless it must stay draining', async () => {
    await store.syncPool(pool('p', {}), [member('a'), member('b')]);
    await store.retireIdlePods(tier(0, 'a', 'b'), 2);
    expect((await allocate('x', ['p'])).kind).toBe('none');
    expect(await store.unretirePod('a', false)).toBe(true);
    expect(await store.unretirePod('b', true)).toBe(true);
    expect(await store.unretirePod('b', true)).toBe(false);
    expect(await allocate('x', ['p'])).toMatchObject({ kind: 'allocated', pod: 'a' });
    expect((await allocate('y', ['p'])).kind).toBe('none');
    // The pool counters followed every mark: an exact recount finds nothing to repair.
    expect(await store.recountPool('p', 10)).toEqual([]);
    expect((await store.status()).pools.p).toMatchObject({ pods: 2, draining: 1, active_calls: 1, free_slots: 0 });
  });

  test('many concurrent allocations against one pick: no picked pod ever holds a call', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `pod-${String(i).padStart(2, '0')}`);
    await store.syncPool(pool('p', {}), names.map((n) => member(n)));
    const version = (await store.poolsSnapshot()).version;
    const allocations = Array.from({ length: 30 }, (_, i) => store.allocate(`c${i}`, ['p'], version));
    const pick = store.retireIdlePods(tier(0, ...names), 25);
    const [picked, outcomes] = await Promise.all([pick, Promise.all(allocations)]);
    const holders = new Set(outcomes.filter((o) => o.kind === 'allocated').map((o) => (o as { pod: string }).pod));
    for (const pod of picked.picked) expect(holders.has(pod)).toBe(false);
    expect(picked.picked.length + holders.size).toBeLessThanOrEqual(40);
  });

  test('a leader that lost its term picks nothing and gives nothing back', async () => {
    await store.syncPool(pool('p', {}), [member('a'), member('b')]);
    const prefix = store.keys.base.slice(1, -2);
    const oldLeader = new RoutingStore(redis, prefix);
    const newLeader = new RoutingStore(redis, prefix);
    await oldLeader.beginTerm(0);
    await newLeader.beginTerm(1);
    await expect(oldLeader.retireIdlePods(tier(0, 'a', 'b'), 1)).rejects.toThrow(FencedWriteError);
    expect((await store.podRouting(['a', 'b'])).get('a')?.retiring).toBeUndefined();
    expect((await newLeader.retireIdlePods(tier(0, 'a'), 1)).picked).toEqual(['a']);
    await expect(oldLeader.unretirePod('a', false)).rejects.toThrow(FencedWriteError);
    expect((await store.podRouting(['a'])).get('a')?.retiring).toBe(true);
  });
});
