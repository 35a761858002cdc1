// A pod's news written without a plan of the fleet (operator/pod-lane.ts,
// operator/pod-lane-writes.ts), against a real Redis: readiness flips,
// drains, deletions begun and deletions reach Redis at once; what Redis holds
// afterwards is what a plan of the whole fleet would have written; when the
// plan could move, or anything else changed, the fleet is planned too.
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

const setReady = (name: string, ready: boolean) =>
  fleet.updatePod(name, (p) => (p.status!.conditions = [{ type: 'Ready', status: ready ? 'True' : 'False' }]));

/** Every pod's routing and every pool's members and counters, as allocations see them. */
async function routingState(s: RoutingStore, pods: string[], pools: string[]) {
  const podStates = await Promise.all(pods.map((p) => s.podState(p)));
  const status = await s.status();
  return { pods: podStates, members: await Promise.all(pools.map((p) => s.poolMembers(p))), status };
}

/** Redis holds for these pods and pools what a fresh reconciler on a fresh Redis writes from scratch for the same fleet. */
async function expectAsPlannedFromScratch(pods: string[], pools: string[]): Promise<void> {
  const incremental = await routingState(store, pods, pools);
  const fresh = isolatedStore(redis);
  await fakeFleetReconciler(fleet, fresh).run();
  const planned = await routingState(fresh, pods, pools);
  expect(incremental.pods.map((p) => ({ ...p, incarnation: undefined }))).toEqual(planned.pods.map((p) => ({ ...p, incarnation: undefined })));
  expect(incremental.members).toEqual(planned.members);
  expect(incremental.status).toEqual(planned.status);
}

describe('a readiness flip', () => {
  test("in a pool at its size is written for that pod alone, and no allocation picks it until it is Ready again", async () => {
    fleet.addPool('std', { replicas: 3, capacity: 1 });
    for (const name of ['a', 'b', 'c', 'spare']) fleet.addPod(name);
    const h = fakeFleetReconciler(fleet, store);
    await h.run();
    const members = await store.poolMembers('std');
    expect(members).toEqual(['a', 'b', 'c']);
    const patches = fleet.podPatches.length;
    const statusWrites = fleet.statusWrites.length;
    const events = fleet.events.length;

    setReady('b', false);
    expect(h.tell('update', 'b')).toBe('readiness');
    await h.settle();

    expect(h.scopes).toEqual(['fleet', 'pod']);
    expect((await store.podState('b'))?.ready).toBe(false);
    // Nothing else was planned or written: no patch, no status, no Event.
    expect([fleet.podPatches.length, fleet.statusWrites.length, fleet.events.length]).toEqual([patches, statusWrites, events]);
    const picked = [];
    for (const sid of ['x', 'y', 'z']) {
      const outcome = await store.allocate(sid, ['std'], await store.poolsVersion());
      picked.push(outcome.kind === 'allocated' ? outcome.pod : outcome.kind);
    }
    expect(picked.sort()).toEqual(['a', 'c', 'none']);

    setReady('b', true);
    expect(h.tell('update', 'b')).toBe('readiness');
    await h.settle();
    expect(h.scopes.at(-1)).toBe('pod');
    const late = await store.allocate('w', ['std'], await store.poolsVersion());
    expect(late).toMatchObject({ kind: 'allocated', pod: 'b' });
  });

  test('leaves Redis as a plan of the whole fleet would have written it', async () => {
    for (const [name, priority] of [['gold', 9], ['std', 1]] as const) fleet.addPool(name, { replicas: 5, capacity: 2, priority });
    const names = Array.from({ length: 10 }, (_, i) => `pod-${i}`);
    for (const name of names) fleet.addPod(name);
    const h = fakeFleetReconciler(fleet, store);
    await h.run();
    for (let step = 0; step < 30; step++) {
      const name = names[(step * 7) % names.length]!;
      setReady(name, step % 3 === 0);
      h.tell('update', name);
      await h.settle();
    }
    // Steps that set a pod to what it already was are no news at all.
    expect(h.scopes.filter((s) => s === 'pod').length).toBeGreaterThan(15);
    await expectAsPlannedFromScratch(names, ['gold', 'std']);
  });

  test('in a pool with more candidates than it wants is written and plans the fleet: readiness decides who stays', async () => {
    fleet.addPool('std', { replicas: 2 });
    for (const name of ['a', 'b', 'c']) fleet.addPod(name, { labels: { 'smartrouter.io/pool': 'std' } });
    // c keeps its label (a policy refuses its patch), so the pool has three members for two places.
    fleet.rejectPodPatches.add('c');
    const h = fakeFleetReconciler(fleet, store);
    await h.run();
    expect(await store.poolMembers('std')).toEqual(['a', 'b']);

    setReady('a', false);
    h.tell('update', 'a');
    await h.settle();

    // Written at once, then planned.
    expect(h.scopes).toEqual(['fleet', 'pod', 'fleet']);
    // The Ready pod that was given up takes the place of the one that is not Ready.
    expect(await store.poolMembers('std')).toEqual(['b', 'c']);
  });

  test('together with any other change, or once planEveryMs passed, is written and plans the fleet', async () => {
    let now = 1_000_000;
    fleet.addPool('std', { replicas: 2 });
    for (const name of ['a', 'b', 'c']) fleet.addPod(name);
    const h = fakeFleetReconciler(fleet, store, { planEveryMs: 5_000, now: () => now });
    await h.run();

    setReady('a', false);
    h.tell('update', 'a');
    fleet.updatePod('b', (p) => (p.metadata!.annotations = { 'smartrouter.io/drain': 'true' }));
    expect(h.tell('update', 'b')).toBe('change');
    await h.run();
    expect(h.scopes).toEqual(['fleet', 'pod', 'pod', 'fleet']);
    expect(await store.poolMembers('std')).toEqual(['a', 'b', 'c']); // b drained, c backfills
    expect((await store.podState('a'))?.ready).toBe(false);

    now += 5_000;
    setReady('a', true);
    h.tell('update', 'a');
    await h.settle();
    expect(h.scopes.slice(4)).toEqual(['pod', 'fleet']);
    expect((await store.podState('a'))?.ready).toBe(true);
  });

  test('while another change waits for its plan is written at once, not after that plan', async () => {
    fleet.addPool('std', { replicas: 3 });
    for (const name of ['a', 'b', 'c', 'd']) fleet.addPod(name);
    const h = fakeFleetReconciler(fleet, store);
    await h.run();
    fleet.updatePod('d', (p) => (p.metadata!.labels = { app: 'other' }));
    expect(h.tell('update', 'd')).toBe('change');

    setReady('a', false);
    h.tell('update', 'a');
    await h.reconciler.apiWritesSettled();

    // Before any plan ran: a is not Ready in Redis.
    expect(h.scopes).toEqual(['fleet', 'pod']);
    expect((await store.podState('a'))?.ready).toBe(false);
    await h.run();
    expect((await store.podState('a'))?.ready).toBe(false);
  });
  test('of a pod Redis no longer holds plans the fleet, which puts it back', async () => {
    fleet.addPool('std', { replicas: 2 });
    for (const name of ['a', 'b']) fleet.addPod(name);
    const h = fakeFleetReconciler(fleet, store);
    await h.run();
    await redis.del(store.keys.pod('a'));

    setReady('a', false);
    h.tell('update', 'a');
    await h.settle();

    expect(h.scopes).toEqual(['fleet', 'fleet']);
    expect(await store.podState('a')).toMatchObject({ pool: 'std', ready: false });
  });

  test('written while a plan that read the caches before it runs: the plan\'s old readiness does not stay', async () => {
    fleet.addPool('std', { replicas: 2 });
    for (const name of ['a', 'b']) fleet.addPod(name);
    const h = fakeFleetReconciler(fleet, store, { fullResyncMs: 0 });
    await h.run();

    // The plan reads the caches as it starts (b Ready) and rewrites every pod (a full resync each run).
    const plan = h.reconciler.reconcile();
    setReady('b', false);
    h.tell('update', 'b');
    await plan;
    await h.settle();

    expect(h.scopes).toContain('pod');
    expect((await store.podState('b'))?.ready).toBe(false);
  });

  test('the echo of the reconciler\'s own label patch starts nothing', async () => {
    fleet.addPool('std', { replicas: 1 });
    fleet.addPod('a');
    const h = fakeFleetReconciler(fleet, store);
    await h.run();
    expect(fleet.podPatches).toHaveLength(1);
    expect(h.tell('update', 'a')).toBe('none');
  });
});

/** Calls on a pod: each allocated into the pool until one lands on it. */
async function callOn(s: RoutingStore, pod: string, pool = 'std'): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const sid = `call-${pod}-${i}`;
    const outcome = await s.allocate(sid, [pool], await s.poolsVersion());
    if (outcome.kind === 'allocated' && outcome.pod === pod) return sid;
  }
  throw new Error(`no call landed on ${pod}`);
}

describe('a pod leaving service', () => {
  test('deleted: leaves its pool at once, before any plan; its calls end only once the plan confirms it gone', async () => {
    fleet.addPool('std', { replicas: 3, capacity: 2 });
    for (const name of ['a', 'b', 'c', 'd']) fleet.addPod(name);
    const h = fakeFleetReconciler(fleet, store);
    await h.run();
    const sid = await callOn(store, 'c');
    fleet.deletePod('c');
    expect(h.tell('delete', 'c')).toBe('change');
    await h.reconciler.apiWritesSettled();

    // No plan yet: c takes no new call, and its call is still known.
    expect(h.scopes).toEqual(['fleet', 'pod']);
    expect(await store.poolMembers('std')).toEqual(['a', 'b']);
    expect(await store.call(sid)).toMatchObject({ pod: 'c' });
    expect(h.requeues).toContain(0);

    // The plan it asked for backfills with d and, the API server having no c, ends its call.
    await h.settle();
    expect(h.scopes).toEqual(['fleet', 'pod', 'fleet']);
    expect(await store.poolMembers('std')).toEqual(['a', 'b', 'd']);
    expect(await store.call(sid)).toBeNull();
    expect(await store.endedCall(sid)).toMatchObject({ reason: 'pod_gone', pod: 'c' });
  });

  test('deleted and made again under its name (a StatefulSet) before the lane looked: the old pod leaves at once', async () => {
    fleet.addPool('std', { replicas: 2 });
    for (const name of ['a', 'b']) fleet.addPod(name);
    const h = fakeFleetReconciler(fleet, store);
    await h.run();
    const before = (await store.podState('b'))!.incarnation;
    fleet.deletePod('b');
    h.tell('delete', 'b');
    fleet.addPod('b', { uid: 'b-second' });
    setReady('b', false);
    h.tell('add', 'b');
    await h.reconciler.apiWritesSettled();
    expect(await store.poolMembers('std')).toEqual(['a']);

    await h.settle();
    expect(await store.poolMembers('std')).toEqual(['a', 'b']);
    const after = await store.podState('b');
    expect(after?.incarnation).not.toBe(before);
    expect(after?.incarnation.startsWith('b-second:')).toBe(true);
  });

  test('deleted while a plan that read the caches before it runs: that plan does not put the pod back', async () => {
    fleet.addPool('std', { replicas: 2 });
    for (const name of ['a', 'b']) fleet.addPod(name);
    // Every plan a full resync: the pool is written whole, from the members the plan read.
    const h = fakeFleetReconciler(fleet, store, { fullResyncMs: 0 });
    await h.run();
    const order: string[] = [];
    const leavePool = store.leavePool.bind(store);
    // (A pool written whole sheds the members it no longer lists with leave-pool too: those are its own.)
    let writing = 0;
    store.leavePool = (pool, pods, batch) => (writing || order.push(`leave ${pods.join(' ')}`), leavePool(pool, pods, batch));
    const syncPool = store.syncPool.bind(store);
    store.syncPool = (pool, members, batch) => {
      order.push(`write ${members.map((m) => m.pod).join(' ')}`);
      writing++;
      return syncPool(pool, members, batch).finally(() => writing--);
    };

    const plan = h.reconciler.reconcile(); // reads the caches now, with b
    fleet.deletePod('b');
    h.tell('delete', 'b');
    await plan;
    // The stale plan wrote the pool after the lane took b out, and without b.
    expect(order).toEqual(['leave b', 'write a']);
    expect(await store.poolMembers('std')).toEqual(['a']);
    await h.settle();
    expect(await store.poolMembers('std')).toEqual(['a']);
  });

  test('a stale deletion, of another pod under the name than Redis holds, takes nothing out', async () => {
    fleet.addPool('std', { replicas: 2 });
    for (const name of ['a', 'b']) fleet.addPod(name);
    const h = fakeFleetReconciler(fleet, store);
    await h.run();
    // The watch tells the deletion of an earlier b (another UID) long after Redis took the b it holds.
    fleet.deleted.set('b', { ...fleet.pods.get('b')!, metadata: { ...fleet.pods.get('b')!.metadata, uid: 'b-earlier' } });
    h.reconciler.podChanged('b', 'b-earlier');
    await h.reconciler.apiWritesSettled();
    expect(await store.poolMembers('std')).toEqual(['a', 'b']);
    expect(h.scopes).toEqual(['fleet']);
  });

  test('drain asked, or deletion begun: drained at once, before any plan, keeping its calls', async () => {
    fleet.addPool('std', { replicas: 2, capacity: 2 });
    for (const name of ['a', 'b']) fleet.addPod(name);
    const h = fakeFleetReconciler(fleet, store);
    await h.run();
    const sid = await callOn(store, 'a');
    fleet.updatePod('a', (p) => (p.metadata!.annotations = { 'smartrouter.io/drain': 'true' }));
    expect(h.tell('update', 'a')).toBe('change');
    fleet.updatePod('b', (p) => (p.metadata!.deletionTimestamp = new Date()));
    expect(h.tell('update', 'b')).toBe('change');
    await h.reconciler.apiWritesSettled();

    // Written by the lane alone: no plan since the first.
    expect(h.scopes.filter((s) => s === 'fleet')).toHaveLength(1);
    expect(await store.podState('a')).toMatchObject({ draining: true, pool: 'std' });
    expect(await store.podState('b')).toMatchObject({ draining: true, pool: 'std' });
    expect(await store.call(sid)).toMatchObject({ pod: 'a' });
    expect(await store.allocate('new-call', ['std'], await store.poolsVersion())).toMatchObject({ kind: 'none' });
    // Told once each, by the lane: the plan that follows finds them draining in Redis already.
    await h.settle();
    expect(fleet.eventsOn('a').filter((e) => e.reason === 'PodDraining')).toEqual([{ reason: 'PodDraining', message: 'draining from pool std: drain requested (smartrouter.io/drain=true); keeps its 1 call(s), takes no new ones' }]);
    expect(fleet.eventsOn('b').filter((e) => e.reason === 'PodDraining')).toEqual([expect.objectContaining({ message: expect.stringContaining('the pod is being deleted') })]);
  });

  test('a run of flips, drains, undrains and deletions leaves Redis as a plan of the whole fleet writes it', async () => {
    for (const [name, priority] of [['gold', 9], ['std', 1]] as const) fleet.addPool(name, { replicas: 4, capacity: 2, priority });
    let names = Array.from({ length: 12 }, (_, i) => `pod-${i}`);
    for (const name of names) fleet.addPod(name);
    const h = fakeFleetReconciler(fleet, store);
    await h.run();
    for (let step = 0; step < 40; step++) {
      const name = names[(step * 7) % names.length]!;
      if (step % 5 === 4) {
        fleet.deletePod(name);
        h.tell('delete', name);
        names = names.filter((n) => n !== name);
      } else if (step % 5 === 3) {
        fleet.updatePod(name, (p) => (p.metadata!.annotations = { 'smartrouter.io/drain': String(step % 2 === 0) }));
        h.tell('update', name);
      } else {
        setReady(name, step % 3 === 0);
        h.tell('update', name);
      }
      // Sometimes the plan the lane asked for runs, sometimes more news comes first.
      if (step % 3 === 0) await h.settle();
      else await h.reconciler.apiWritesSettled();
    }
    await h.settle();
    await expectAsPlannedFromScratch(Array.from({ length: 12 }, (_, i) => `pod-${i}`), ['gold', 'std']);
  });
});
