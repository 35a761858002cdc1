import { planPoolAssignments } from '../../../core/planner.js';
import type { PodFacts } from '../../../core/pool-types.js';
import type { PodPlacement } from '../../../lua/routing-store.js';
import type { FleetView } from '../../../operator/fleet-view.js';
import { planStands, readinessWrites, type PodNow } from '../../../operator/readiness-flips.js';
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

describe('readinessWrites', () => {
  test('a pod Redis holds under the same incarnation gets its readiness as the cache has it', () => {
    const { written } = settled();
    expect(readinessWrites([now('a', { ready: false }), now('b')], written)).toMatchObject([{ pod: 'a', ready: false }]);
  });

  test('a pod Redis holds under another incarnation, or not at all, is left to a plan (a restart ends calls: that takes evidence)', () => {
    const { written } = settled();
    expect(readinessWrites([now('a', { ready: false, incarnation: 'a-uid:1' }), now('d', { ready: false }, null), { name: 'b', facts: undefined, label: null }], written)).toEqual([]);
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
