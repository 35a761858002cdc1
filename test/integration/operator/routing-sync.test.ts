// Routing writes in proportion to what changed: a pod's change is one small
// script over that pod, a pool's change rewrites that pool in batches, and a
// full resync still rewrites and heals everything. Real Redis; the scripts
// the reconciler runs are observed (not replaced) on the real store.
import type { RoutingStore } from '../../../lua/routing-store.js';
import { FakeFleet, fakeFleetReconciler } from '../../support/fake-fleet.js';
import { isolatedStore, sharedTestRedis } from '../../support/routing.js';

const redis = sharedTestRedis();
let store: RoutingStore;
let fleet: FakeFleet;
let writes: { script: string; pods: string[] }[];

beforeEach(() => {
  store = isolatedStore(redis);
  fleet = new FakeFleet();
  writes = [];
  // Only what the reconciler calls: a pool written whole places its members itself.
  let depth = 0;
  const observe = <K extends 'syncPool' | 'placePods' | 'leavePool' | 'setPool'>(name: K, podsOf: (...args: Parameters<RoutingStore[K]>) => string[]) => {
    const original = (store[name] as (...a: unknown[]) => Promise<unknown>).bind(store);
    (store as unknown as Record<string, unknown>)[name] = (...args: Parameters<RoutingStore[K]>) => {
      if (depth === 0) writes.push({ script: name, pods: podsOf(...args) });
      depth++;
      return original(...args).finally(() => depth--);
    };
  };
  observe('syncPool', (pool, members) => [pool.name, ...members.map((m) => m.pod)]);
  observe('placePods', (pods) => pods.map((p) => p.pod));
  observe('leavePool', (pool, pods) => [pool, ...pods]);
});

const POD_COUNT = 300;

async function converged() {
  fleet.addPool('big', { replicas: POD_COUNT, capacity: 2 });
  fleet.addPool('small', { replicas: 2, capacity: 1, priority: 10 });
  for (let i = 0; i < POD_COUNT + 2; i++) fleet.addPod(`agent-${i}`);
  const harness = fakeFleetReconciler(fleet, store);
  await harness.run();
  writes.length = 0;
  return harness;
}

const setReady = (pod: string, ready: boolean) => fleet.updatePod(pod, (p) => (p.status!.conditions = [{ type: 'Ready', status: ready ? 'True' : 'False' }]));

test('a readiness flip in a large pool writes that one pod, and the counters follow', async () => {
  const { run } = await converged();
  const [pod] = await store.poolMembers('big');
  setReady(pod!, false);
  await run();
  expect(writes).toEqual([{ script: 'placePods', pods: [pod] }]);
  expect(await store.podState(pod!)).toMatchObject({ pool: 'big', ready: false });
  expect((await store.status()).pools.big).toMatchObject({ pods: POD_COUNT, ready: POD_COUNT - 1, free_slots: 2 * (POD_COUNT - 1) });
});

test('a drain and a container restart write only their pods; the restart, once the API server confirms it, ends the pod\'s calls', async () => {
  const { run } = await converged();
  const [a, b] = await store.poolMembers('big');
  const version = await store.poolsVersion();
  await store.allocate('on-b', ['big'], version);
  const holder = (await store.call('on-b'))!.pod;
  const drained = holder === a ? b! : a!;
  fleet.updatePod(drained, (p) => (p.metadata!.annotations = { 'smartrouter.io/drain': 'true' }));
  fleet.updatePod(holder, (p) => (p.status!.containerStatuses = [{ name: 'agent', restartCount: 1, ready: true, image: 'x', imageID: 'x' }]));
  await run();
  // The drain does not wait for the live read that confirms the restart.
  expect(writes).toEqual([
    { script: 'placePods', pods: [drained] },
    { script: 'placePods', pods: [holder] },
  ]);
  expect(await store.podState(drained)).toMatchObject({ draining: true });
  expect(await store.call('on-b')).toBeNull();
  expect((await store.status()).pools.big).toMatchObject({ draining: 1, active_calls: 0 });
});

test('a drain does not wait for the live read that confirms another pod\'s new life', async () => {
  const { run, reconciler } = await converged();
  const [a, b] = await store.poolMembers('big');
  await store.allocate('on-a', ['big'], await store.poolsVersion());
  const holder = (await store.call('on-a'))!.pod;
  const drained = holder === a ? b! : a!;
  // The holder was recreated under its name (another UID); the API server is slow to say so.
  fleet.updatePod(holder, (p) => (p.metadata!.uid = `${holder}-reborn`));
  fleet.hangPodReads.add(holder);
  fleet.updatePod(drained, (p) => (p.metadata!.annotations = { 'smartrouter.io/drain': 'true' }));

  const running = reconciler.reconcile();
  for (let i = 0; i < 200 && !(await store.podState(drained))?.draining; i++) await new Promise((r) => setTimeout(r, 10));
  expect(await store.podState(drained)).toMatchObject({ draining: true });
  expect(fleet.hungPatches).toBe(1);
  // Nothing ended on the cache's word while the read hangs.
  expect(await store.call('on-a')).not.toBeNull();

  fleet.releaseHungPatches();
  await running;
  await run();
  expect(await store.call('on-a')).toBeNull();
  expect(await store.podState(holder)).toMatchObject({ incarnation: `${holder}-reborn:0` });
});

test('a pod deleted from Kubernetes leaves its pool alone; the pools are not rewritten', async () => {
  const { run } = await converged();
  const [gone, stays] = await store.poolMembers('small');
  fleet.deletePod(gone!);
  await run();
  expect(writes).toEqual([{ script: 'leavePool', pods: ['small', gone] }]);
  expect(await store.knownPods()).not.toContain(gone);
  expect(await store.poolMembers('small')).toEqual([stays]);
  expect(await store.poolMembers('big')).toHaveLength(POD_COUNT);
});

test('a new pod joins with one small write', async () => {
  const { run } = await converged();
  fleet.addPod('late-comer');
  fleet.deletePod((await store.poolMembers('small'))[0]!);
  await run();
  expect(writes.map((w) => w.script).sort()).toEqual(['leavePool', 'placePods']);
  expect(writes.find((w) => w.script === 'placePods')!.pods).toEqual(['late-comer']);
  expect(await store.poolMembers('small')).toContain('late-comer');
});

test('a pool spec change rewrites that pool alone, in batches', async () => {
  const { run } = await converged();
  const big = fleet.pools.get('big')!;
  big.spec = { ...(big.spec as object), capacity: 3 } as typeof big.spec;
  big.metadata!.generation = 2;
  await run();
  expect(writes.map((w) => `${w.script}:${w.pods[0]}`)).toEqual(['syncPool:big']);
  expect((await store.status()).pools.big).toMatchObject({ capacity: 3, free_slots: 3 * POD_COUNT });
});

test('a full resync rewrites every pool and heals pod state changed behind the operator', async () => {
  fleet.addPool('std', { replicas: 3 });
  for (const name of ['a', 'b', 'c']) fleet.addPod(name);
  const { run } = fakeFleetReconciler(fleet, store, { fullResyncMs: 0 });
  await run();
  await redis.hset(store.keys.pod('a'), 'ready', '0');
  await redis.zrem(store.keys.poolAvail('std'), 'a');
  writes.length = 0;
  await run();
  expect(writes.map((w) => w.script)).toEqual(['syncPool']);
  expect(await redis.zscore(store.keys.poolAvail('std'), 'a')).toBe('0');
  expect(await store.podState('a')).toMatchObject({ ready: true });
});
