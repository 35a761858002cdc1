// The reconciler's steps against a real Redis, with the pods and pools of an
// in-memory fleet in place of the informer caches: plan, routing in Redis,
// labels, status and Events, each checked where it lands.
import { POOL_LABEL } from '../../../core/pool-types.js';
import type { RoutingStore } from '../../../lua/routing-store.js';
import { FakeFleet, fakeFleetReconciler } from '../../support/fake-fleet.js';
import { isolatedStore, sharedTestRedis } from '../../support/routing.js';

const redis = sharedTestRedis();
let store: RoutingStore;
let fleet: FakeFleet;
beforeEach(() => {
  store = isolatedStore(redis);
  fleet = new FakeFleet();
});

const allocate = async (sid: string, route: string[]) => store.allocate(sid, route, await store.poolsVersion());

describe('a reconcile', () => {
  test('puts pods in their pool in Redis, labels them, writes status and tells it with Events', async () => {
    fleet.addPool('std', { replicas: 2, capacity: 1 });
    for (const name of ['a', 'b', 'c']) fleet.addPod(name);
    const { reconciler } = fakeFleetReconciler(fleet, store);

    await reconciler.reconcile();

    expect(await store.poolMembers('std')).toEqual(['a', 'b']);
    expect(fleet.pods.get('a')!.metadata!.labels![POOL_LABEL]).toBe('std');
    expect(fleet.pods.get('c')!.metadata!.labels![POOL_LABEL]).toBeUndefined();
    expect(fleet.statusWrites.at(-1)).toMatchObject({ pool: 'std', status: { pods: 2, readyPods: 2, activeCalls: 0 } });
    expect(fleet.eventsOn('a')).toEqual([{ reason: 'PodAssigned', message: 'serving pool std' }]);
  });

  test('run again with nothing changed writes nothing', async () => {
    fleet.addPool('std', { replicas: 2 });
    for (const name of ['a', 'b']) fleet.addPod(name);
    const { reconciler } = fakeFleetReconciler(fleet, store);
    await reconciler.reconcile();
    const writes = [fleet.podPatches.length, fleet.statusWrites.length, fleet.events.length];
    await reconciler.reconcile();
    expect([fleet.podPatches.length, fleet.statusWrites.length, fleet.events.length]).toEqual(writes);
  });

  test('a drain annotation reaches Redis: the pod keeps its call and takes no new one', async () => {
    fleet.addPool('std', { replicas: 2, capacity: 2 });
    for (const name of ['a', 'b']) fleet.addPod(name);
    const { reconciler } = fakeFleetReconciler(fleet, store);
    await reconciler.reconcile();
    const first = await allocate('x', ['std']);
    const busy = first.kind === 'allocated' ? first.pod : '';
    fleet.updatePod(busy, (p) => (p.metadata!.annotations = { 'smartrouter.io/drain': 'true' }));

    await reconciler.reconcile();

    expect(await store.podState(busy)).toMatchObject({ draining: true, calls: ['x'] });
    for (const sid of ['y', 'z']) expect(await allocate(sid, ['std'])).toMatchObject({ pod: busy === 'a' ? 'b' : 'a' });
  });

  test('a pod gone from Kubernetes has its calls ended, counted and told on its pool', async () => {
    fleet.addPool('std', { replicas: 1 });
    fleet.addPod('a');
    const { reconciler, metrics } = fakeFleetReconciler(fleet, store);
    await reconciler.reconcile();
    await allocate('x', ['std']);
    fleet.deletePod('a');

    await reconciler.reconcile();

    expect(await store.call('x')).toBeNull();
    expect(await store.knownPods()).toEqual([]);
    expect((await metrics.reaped.get()).values).toEqual([expect.objectContaining({ labels: { pool: 'std', reason: 'pod_gone' }, value: 1 })]);
    expect(fleet.eventsOn('std').map((e) => e.reason)).toContain('CallsReaped');
  });
});
