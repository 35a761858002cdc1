import { planPoolAssignments } from '../../../core/planner.js';
import type { PodFacts } from '../../../core/pool-types.js';
import type { PodPlacement } from '../../../lua/routing-store.js';
import type { FleetView } from '../../../operator/fleet-view.js';
import { laneWrites, planStands, type PodNow } from '../../../operator/pod-lane-writes.js';
import { pod, pool } from '../../support/routing.js';

/** A settled fleet: pods a, b, c serving in std (3 replicas), d free; everything written to Redis. */
function settled(replicas = 3) {
  const pods = ['a', 'b', 'c', 'd'].map((n) => pod(n, { app: 'voice-agent', 'smartrouter.io/pool': n === 'd' ? '' : 'std' }, { incarnation: `${n}-uid:0` }));
  const current = new Map(pods.filter((p) => p.name !== 'd').map((p) => [p.name, 'std']));
  const plan = planPoolAssignments({ pools: [pool('std', { replicas })], pods, current, calls: new Map() });
  const view = { facts: new Map(pods.map((p) => [p.name, p])), plan } as unknown as FleetView;
  const written = new Map<string, PodPlacement>([...plan.placements].map(([n]) => [n, { pod: n, pool: 'std', ready: true, draining: false, incarnation: `${n}-uid:0` }]));
  return { view, written: (n: string) => written.get(n) };
}
const now = (name: string, change: Partial<PodFacts> = {}, label: string | null = 'std'): PodNow => ({
  name,
  facts: { ...pod(name, { app: 'voice-agent', 'smartrouter.io/pool': label ?? '' }, { incarnation: `${name}-uid:0` }), ...change },
  label,
});

describe('laneWrites', () => {
  test('a pod Redis holds under the same incarnation gets its readiness as the cache has it', () => {
    const { written } = settled();
    expect(laneWrites([now('a', { ready: false }), now('b')], written)).toMatchObject([{ kind: 'ready', pod: 'a', ready: false }]);
  });

  test('a pod Redis holds under another incarnation, or not at all, is left to a plan (a restart ends calls: that takes evidence)', () => {
    const { written } = settled();
    expect(laneWrites([now('a', { ready: false, incarnation: 'a-uid:1' }), now('d', { ready: false }, null), { name: 'b', facts: undefined, label: null }], written)).toEqual([]);
  });

  test.each([
    ['a drain was asked', { drainRequested: true }, 'drain requested (smartrouter.io/drain=true)'],
    ['its deletion began', { deleting: true, ready: false }, 'the pod is being deleted'],
    ['a scale-down picked it', { retiring: true }, 'picked for a scale-down'],
  ])('a pod Redis holds drains at once when %s', (_why, change, cause) => {
    const { written } = settled();
    expect(laneWrites([now('a', change)], written)).toEqual([{ kind: 'drain', pod: 'a', pool: 'std', uid: 'a-uid', cause }]);
  });

  test('a drain of a pod Redis already holds draining, or of another incarnation, writes nothing', () => {
    const { written } = settled();
    const draining = (n: string) => (n === 'a' ? { ...written(n)!, draining: true } : written(n));
    expect(laneWrites([now('a', { drainRequested: true })], draining)).toEqual([]);
    expect(laneWrites([now('b', { drainRequested: true, incarnation: 'b-uid:1' })], written)).toEqual([]);
  });

  test('the deletion of the very pod Redis holds takes it out of its pool, whether or not a pod of the name is back', () => {
    const { written } = settled();
    expect(laneWrites([{ name: 'a', facts: undefined, label: null, deletedUid: 'a-uid' }], written)).toEqual([{ kind: 'leave', pod: 'a', pool: 'std', uid: 'a-uid' }]);
    // A StatefulSet made the pod again under the name before the lane looked.
    expect(laneWrites([{ ...now('b', { incarnation: 'b-uid2:0', ready: false }), deletedUid: 'b-uid' }], written)).toEqual([{ kind: 'leave', pod: 'b', pool: 'std', uid: 'b-uid' }]);
  });

  test('a stale deletion (another UID than Redis holds) takes nothing out', () => {
    const { written } = settled();
    // Redis holds a later pod of the name than the one whose deletion the watch tells (a live read placed it first).
    const later = (n: string) => (n === 'a' ? { ...written(n)!, incarnation: 'a-uid2:0' } : written(n));
    expect(laneWrites([{ name: 'a', facts: undefined, label: null, deletedUid: 'a-uid' }], later)).toEqual([]);
    // The cache still shows the very UID told deleted: the event is not what the cache holds, so the plan decides.
    expect(laneWrites([{ ...now('b'), deletedUid: 'b-uid' }], written)).toEqual([]);
    // A pod Redis does not hold.
    expect(laneWrites([{ name: 'd', facts: undefined, label: null, deletedUid: 'd-uid' }], written)).toEqual([]);
  });
});

describe('planStands', () => {
  test("after a member's readiness flip alone", () => {
    const { view } = settled();
    expect(planStands(view, [now('a', { ready: false }), now('b', { ready: false })])).toBe(true);
  });

  test.each([
    ['its incarnation changed', now('a', { ready: false, incarnation: 'a-uid:1' })],
    ['it is being deleted', now('a', { ready: false, deleting: true })],
    ['a drain was asked', now('a', { ready: false, drainRequested: true })],
    ['its labels changed (selectors)', { ...now('a', { ready: false }), facts: { ...now('a').facts!, ready: false, labels: { app: 'other', 'smartrouter.io/pool': 'std' } } }],
    ['its pool label is not the pool it was planned into', now('a', { ready: false }, null)],
    ['it is gone from the cache', { name: 'a', facts: undefined, label: null }],
    ['the watch told a deletion under its name', { ...now('a', { ready: false }), deletedUid: 'a-uid' }],
    ['it is a free pod (readiness ranks free pods)', now('d', { ready: false }, null)],
  ])('not when %s', (_why, pod) => {
    const { view } = settled();
    expect(planStands(view, [now('b', { ready: false }), pod])).toBe(false);
  });

  test('not when the pool had more candidates than it wanted, nor without a plan', () => {
    const { view } = settled(2);
    expect(view.plan.pools.get('std')).toMatchObject({ desired: 2, candidates: 3 });
    expect(planStands(view, [now('a', { ready: false })])).toBe(false);
    expect(planStands(undefined, [now('a', { ready: false })])).toBe(false);
  });
});
