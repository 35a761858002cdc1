// The reconciler's steps against a real Redis, with the pods and pools of an
// in-memory fleet in place of the informer caches: plan, routing in Redis,
// labels, status and Events, each checked where it lands.
import { Registry } from 'prom-client';
import { LostStateGrace } from '../../../core/lost-state-grace.js';
import { POOL_LABEL } from '../../../core/pool-types.js';
import type { RoutingStore } from '../../../lua/routing-store.js';
import { OperatorMetrics } from '../../../operator/operator-metrics.js';
import { FakeFleet, fakeFleetReconciler } from '../../support/fake-fleet.js';
import { isolatedStore, sharedTestRedis } from '../../support/routing.js';

const redis = sharedTestRedis();
let store: RoutingStore;
let fleet: FakeFleet;
beforeEach(() => {
  store = isolatedStore(redis);
  fleet = new FakeFleet();
});

const waitFor = async (ok: () => boolean) => {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!ok()) throw new Error('condition never held');
};
const allocate = async (sid: string, route: string[]) => store.allocate(sid, route, await store.poolsVersion());

describe('a reconcile', () => {
  test('puts pods in their pool in Redis, labels them, writes status and tells it with Events', async () => {
    fleet.addPool('std', { replicas: 2, capacity: 1 });
    for (const name of ['a', 'b', 'c']) fleet.addPod(name);
    const { run } = fakeFleetReconciler(fleet, store);

    await run();

    expect(await store.poolMembers('std')).toEqual(['a', 'b']);
    expect(fleet.pods.get('a')!.metadata!.labels![POOL_LABEL]).toBe('std');
    expect(fleet.pods.get('c')!.metadata!.labels![POOL_LABEL]).toBeUndefined();
    expect(fleet.statusWrites.at(-1)).toMatchObject({ pool: 'std', status: { pods: 2, readyPods: 2, activeCalls: 0 } });
    expect(fleet.eventsOn('a')).toEqual([{ reason: 'PodAssigned', message: 'serving pool std' }]);
  });

  test('run again with nothing changed writes nothing', async () => {
    fleet.addPool('std', { replicas: 2 });
    for (const name of ['a', 'b']) fleet.addPod(name);
    const { run } = fakeFleetReconciler(fleet, store);
    await run();
    const writes = [fleet.podPatches.length, fleet.statusWrites.length, fleet.events.length];
    await run();
    expect([fleet.podPatches.length, fleet.statusWrites.length, fleet.events.length]).toEqual(writes);
  });

  test('a drain annotation reaches Redis: the pod keeps its call and takes no new one', async () => {
    fleet.addPool('std', { replicas: 2, capacity: 2 });
    for (const name of ['a', 'b']) fleet.addPod(name);
    const { run } = fakeFleetReconciler(fleet, store);
    await run();
    const first = await allocate('x', ['std']);
    const busy = first.kind === 'allocated' ? first.pod : '';
    fleet.updatePod(busy, (p) => (p.metadata!.annotations = { 'smartrouter.io/drain': 'true' }));

    await run();

    expect(await store.podState(busy)).toMatchObject({ draining: true, calls: ['x'] });
    for (const sid of ['y', 'z']) expect(await allocate(sid, ['std'])).toMatchObject({ pod: busy === 'a' ? 'b' : 'a' });
  });

  test('a pod gone from Kubernetes has its calls ended, counted and told on its pool', async () => {
    fleet.addPool('std', { replicas: 1 });
    fleet.addPod('a');
    const { run, metrics } = fakeFleetReconciler(fleet, store);
    await run();
    await allocate('x', ['std']);
    fleet.deletePod('a');

    await run();

    expect(await store.call('x')).toBeNull();
    expect(await store.knownPods()).toEqual([]);
    expect((await metrics.reaped.get()).values).toEqual([expect.objectContaining({ labels: { pool: 'std', reason: 'pod_gone' }, value: 1 })]);
    expect(fleet.eventsOn('std').map((e) => e.reason)).toContain('CallsReaped');
  });
});

describe('reconciles while a patch is in flight', () => {
  test('a pod updated by someone else while its label patch is in flight is labelled and told once', async () => {
    fleet.addPool('std', { replicas: 1 });
    fleet.addPod('a', { ready: false });
    const { reconciler } = fakeFleetReconciler(fleet, store);
    fleet.hangPodPatches.add('a');
    await reconciler.reconcile();
    await waitFor(() => fleet.hungPatches === 1);
    // The kubelet marks it Ready meanwhile: a newer version of the pod, still without the label.
    fleet.updatePod('a', (p) => (p.status!.conditions = [{ type: 'Ready', status: 'True' }]));
    await reconciler.reconcile();
    fleet.releaseHungPatches();
    await reconciler.apiWritesSettled();
    await reconciler.reconcile();
    await reconciler.apiWritesSettled();

    expect(fleet.podPatches.filter((p) => p.pod === 'a')).toHaveLength(1);
    expect(fleet.eventsOn('a')).toEqual([{ reason: 'PodAssigned', message: 'serving pool std' }]);
  });
});

describe('one object failing never holds back another', () => {
  const drainAnnotation = (name: string) => fleet.updatePod(name, (p) => (p.metadata!.annotations = { ...p.metadata!.annotations, 'smartrouter.io/drain': 'true' }));

  test('a reconcile ends once Redis holds the plan: a drain reaches Redis while another pod patch hangs', async () => {
    fleet.addPool('std', { replicas: 2 });
    for (const name of ['a', 'b']) fleet.addPod(name);
    const { reconciler, run } = fakeFleetReconciler(fleet, store);
    await run();
    await allocate('x', ['std']); // a is busy: it needs its call annotations
    fleet.hangPodPatches.add('a');
    await reconciler.reconcile(); // hands a's patch to the API writes, which hang on it
    await waitFor(() => fleet.hungPatches === 1);

    drainAnnotation('b');
    await reconciler.reconcile();

    expect(await store.podState('b')).toMatchObject({ draining: true });
    expect(fleet.hungPatches).toBe(1);
    fleet.releaseHungPatches();
    await reconciler.apiWritesSettled();
    expect(fleet.pods.get('a')!.metadata!.annotations).toMatchObject({ 'controller.kubernetes.io/pod-deletion-cost': '1000' });
  });

  test('a pod whose patch is refused waits out its own backoff; the others, and every drain, go on', async () => {
    fleet.addPool('std', { replicas: 3 });
    for (const name of ['a', 'b', 'c']) fleet.addPod(name);
    const { run, requeues } = fakeFleetReconciler(fleet, store);
    await run();
    fleet.rejectPodPatches.add('a');
    await allocate('x', ['std']);
    await allocate('y', ['std']);
    const busy = (await store.podRouting(['a', 'b', 'c'])).get('a')!.calls === 1;
    expect(busy).toBe(true);

    const before = fleet.podPatches.filter((p) => p.pod === 'a').length;
    const patchesOfA = () => fleet.podPatches.filter((p) => p.pod === 'a').length - before;
    await run();
    expect(patchesOfA()).toBe(0);
    expect(fleet.eventsOn('a').map((e) => e.reason)).toContain('PodPatchFailed');
    expect(requeues.at(-1)).toBeGreaterThan(0);
    const other = ['b', 'c'].find((p) => fleet.pods.get(p)!.metadata!.annotations?.['cluster-autoscaler.kubernetes.io/safe-to-evict'] === 'false');
    expect(other).toBeDefined();

    drainAnnotation('c');
    await run();
    expect(await store.podState('c')).toMatchObject({ draining: true });
    // a's backoff is not over and a did not change: it is not tried again, and nothing waited for it.
    fleet.rejectPodPatches.delete('a');
    await run();
    expect(patchesOfA()).toBe(0);

    // A change of a is a new event for a: it is retried at once.
    fleet.updatePod('a', (p) => (p.metadata!.labels = { ...p.metadata!.labels, team: 'x' }));
    await run();
    expect(fleet.pods.get('a')!.metadata!.annotations).toMatchObject({ 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' });
  });

  test('a pool whose status write fails does not stop the status of another pool or any pod patch', async () => {
    fleet.addPool('one', { replicas: 1, selector: { matchLabels: { team: 'one' } } });
    fleet.addPool('two', { replicas: 1, selector: { matchLabels: { team: 'two' } } });
    fleet.addPod('a', { labels: { team: 'one' } });
    fleet.addPod('b', { labels: { team: 'two' } });
    fleet.rejectStatus.add('one');
    const { run } = fakeFleetReconciler(fleet, store);
    await run();
    expect(fleet.statusWrites.map((w) => w.pool)).toEqual(['two']);
    expect(['a', 'b'].map((p) => fleet.pods.get(p)!.metadata!.labels!['smartrouter.io/pool'])).toEqual(['one', 'two']);
  });
});

describe('writes the API server does not take', () => {
  test('are counted per object kind and reason, once per refused attempt, and not again once they go through', async () => {
    const metrics = new OperatorMetrics(new Registry());
    const failures = async () => Object.fromEntries((await metrics.writeFailures.get()).values.map((v) => [`${v.labels.kind}/${v.labels.reason}`, v.value]));
    fleet.addPool('std', { replicas: 2, selector: { matchLabels: { team: 'std' } } });
    fleet.addPool('gold', { replicas: 1, selector: { matchLabels: { team: 'gold' } } });
    for (const name of ['a', 'b']) fleet.addPod(name, { labels: { team: 'std' } });
    fleet.addPod('g', { labels: { team: 'gold' } });
    fleet.rejectPodPatches.add('a'); // 403, as a policy denying it answers
    fleet.rejectStatus.add('std'); // 422
    fleet.rejectEvents = true; // 500
    const { run } = fakeFleetReconciler(fleet, store, { writeFailures: metrics });
    await run();
    const first = await failures();
    expect(first).toMatchObject({ 'pod/Forbidden': 1, 'pool_status/Invalid': 1 });
    // PodAssigned for b and g, PodPatchFailed for a: every one refused.
    expect(first['event/InternalError']).toBeGreaterThanOrEqual(3);
    expect(Object.keys(first).sort()).toEqual(['event/InternalError', 'pod/Forbidden', 'pool_status/Invalid']);
    expect(fleet.statusWrites.map((w) => w.pool)).toEqual(['gold']);

    // Nothing refused any more and the objects changed: written, and the counts stay where they were.
    fleet.rejectPodPatches.clear();
    fleet.rejectStatus.clear();
    fleet.rejectEvents = false;
    fleet.updatePod('a', (p) => (p.metadata!.annotations = { note: 'changed' }));
    fleet.addPool('std', { replicas: 2, selector: { matchLabels: { team: 'std' } } }); // a new resourceVersion: retried at once
    await run();
    expect(fleet.pods.get('a')!.metadata!.labels![POOL_LABEL]).toBe('std');
    expect(fleet.statusWrites.map((w) => w.pool)).toContain('std');
    expect(await failures()).toEqual(first);
  });
});

describe('call annotations', () => {
  const annotations = (pod: string) => fleet.pods.get(pod)!.metadata!.annotations ?? {};

  test('a pod with calls carries a deletion cost and safe-to-evict=false, written on idle <-> busy only', async () => {
    fleet.addPool('std', { replicas: 1, capacity: 3 });
    fleet.addPod('a', { annotations: { owner: 'team-a' } });
    const { run } = fakeFleetReconciler(fleet, store);
    await run();
    expect(annotations('a')).toEqual({ owner: 'team-a' });
    const patchesOfA = () => fleet.podPatches.filter((p) => p.pod === 'a' && p.annotations).length;

    await allocate('x', ['std']);
    await run();
    expect(annotations('a')).toEqual({ owner: 'team-a', 'controller.kubernetes.io/pod-deletion-cost': '1000', 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' });
    await allocate('y', ['std']);
    await run();
    await store.release('x');
    await run();
    expect(patchesOfA()).toBe(1);

    await store.release('y');
    await run();
    expect(annotations('a')).toEqual({ owner: 'team-a' });
    expect(patchesOfA()).toBe(2);
  });

  test('pods outside every pool and without calls are left alone', async () => {
    fleet.addPool('std', { replicas: 1 });
    fleet.addPod('a');
    fleet.addPod('spare', { annotations: { 'controller.kubernetes.io/pod-deletion-cost': '-5' } });
    const { run } = fakeFleetReconciler(fleet, store);
    await run();
    expect(annotations('spare')).toEqual({ 'controller.kubernetes.io/pod-deletion-cost': '-5' });
    expect(fleet.podPatches.filter((p) => p.pod === 'spare')).toEqual([]);
  });
});

describe('ending calls rests on evidence, not on the cache', () => {
  /** The agent container restarted `n` times, as a kubelet would report it. */
  const restarts = (n: number) => (p: import('@kubernetes/client-node').V1Pod) => {
    p.spec = { containers: [{ name: 'agent' }, { name: 'proxy' }] };
    p.status!.containerStatuses = [
      { name: 'agent', restartCount: n, ready: true, image: 'a', imageID: 'a' },
      { name: 'proxy', restartCount: 0, ready: true, image: 'p', imageID: 'p' },
    ];
  };

  async function oneBusyPod(): Promise<ReturnType<typeof fakeFleetReconciler>> {
    fleet.addPool('std', { replicas: 1 });
    fleet.addPod('a');
    fleet.updatePod('a', restarts(0));
    const harness = fakeFleetReconciler(fleet, store, { fullResyncMs: 0 });
    await harness.reconciler.reconcile();
    expect(await allocate('x', ['std'])).toMatchObject({ kind: 'allocated', pod: 'a' });
    return harness;
  }

  test('a pod missing from a cache that lags the API server keeps its calls', async () => {
    const { reconciler } = await oneBusyPod();
    fleet.apiServerAhead.set('a', structuredClone(fleet.pods.get('a')!));
    fleet.deletePod('a');
    await reconciler.reconcile();
    expect(await store.podState('a')).toMatchObject({ calls: ['x'] });
    // Once the API server agrees, the calls end.
    fleet.apiServerAhead.delete('a');
    await reconciler.reconcile();
    expect(await store.call('x')).toBeNull();
  });

  test('while a watch is down, a pod that looks gone keeps its calls; they end once it is back', async () => {
    const { reconciler } = await oneBusyPod();
    fleet.watchesUp = false;
    fleet.deletePod('a');
    await reconciler.reconcile();
    expect(await store.podState('a')).toMatchObject({ calls: ['x'] });
    fleet.watchesUp = true;
    await reconciler.reconcile();
    expect(await store.call('x')).toBeNull();
  });

  test('a restart the cache shows but the API server does not is not believed; a confirmed one ends the calls', async () => {
    const { reconciler } = await oneBusyPod();
    fleet.apiServerAhead.set('a', structuredClone(fleet.pods.get('a')!));
    fleet.updatePod('a', restarts(1));
    await reconciler.reconcile();
    expect(await store.podState('a')).toMatchObject({ incarnation: 'a-uid:0', calls: ['x'] });
    fleet.apiServerAhead.delete('a');
    await reconciler.reconcile();
    expect(await store.call('x')).toBeNull();
    expect(await store.endedCall('x')).toMatchObject({ reason: 'pod_restarted' });
  });

  test('a new leader whose cache lags routing never moves the incarnation back nor ends the calls', async () => {
    const { reconciler } = await oneBusyPod();
    fleet.updatePod('a', restarts(2));
    await reconciler.reconcile(); // the restart, confirmed: nothing to end yet besides x
    expect(await allocate('y', ['std'])).toMatchObject({ kind: 'allocated', pod: 'a' });
    // The next leader's cache still shows one restart fewer, and so does (for a moment) the API server it reads.
    fleet.updatePod('a', restarts(1));
    const next = fakeFleetReconciler(fleet, store, { fullResyncMs: 0 });
    await next.reconciler.reconcile();
    expect(await store.podState('a')).toMatchObject({ incarnation: 'a-uid:2', calls: ['y'] });
  });

  test('a sidecar restart keeps the calls', async () => {
    const { reconciler } = await oneBusyPod();
    fleet.updatePod('a', (p) => (p.status!.containerStatuses![1]!.restartCount = 3));
    await reconciler.reconcile();
    expect(await store.podState('a')).toMatchObject({ incarnation: 'a-uid:0', calls: ['x'] });
  });
});

describe('after Redis lost the routing state', () => {
  test('the pods that held calls before the loss are rebuilt as draining for the grace period; the others serve at once', async () => {
    fleet.addPool('std', { replicas: 3 });
    for (const name of ['a', 'b', 'c']) fleet.addPod(name);
    const grace = new LostStateGrace(600_000);
    const { reconciler } = fakeFleetReconciler(fleet, store, { grace });
    await reconciler.reconcile();
    const first = await allocate('x', ['std']);
    const busy = first.kind === 'allocated' ? first.pod : '';
    await reconciler.reconcile(); // reads the call
    // What FLUSHALL does to this installation.
    await redis.del(...(await redis.keys(`${store.keys.base}*`)));
    await reconciler.reconcile();
    expect(await store.podState(busy)).toMatchObject({ draining: true, calls: [] });
    const taken = new Set<string>();
    for (const sid of ['y', 'z']) {
      const r = await allocate(sid, ['std']);
      if (r.kind === 'allocated') taken.add(r.pod);
    }
    expect(taken.size).toBe(2);
    expect(taken.has(busy)).toBe(false);
    expect((await allocate('w', ['std'])).kind).toBe('none');
  });
});
