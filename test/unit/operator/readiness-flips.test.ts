import { planPoolAssignments } from '../../../core/planner.js';
import type { PodFacts } from '../../../core/pool-types.js';
import type { PodPlacement } from '../../../lua/routing-store.js';
import type { FleetView } from '../../../operator/fleet-view.js';
import { readinessOnlyWrites, type PodNow } from '../../../operator/readiness-flips.js';
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

describe('readinessOnlyWrites', () => {
  test('a member whose readiness alone flipped is written alone', () => {
    const { view, written } = settled();
    expect(readinessOnlyWrites(view, [now('a', { ready: false })], written)).toMatchObject([{ pod: 'a', ready: false }]);
    // Back to what Redis holds: nothing to write.
    expect(readinessOnlyWrites(view, [now('a')], written)).toEqual([]);
  });

  test.each([
    ['its incarnation changed (a restart ends calls: that takes evidence)', now('a', { ready: false, incarnation: 'a-uid:1' })],
    ['it is being deleted', now('a', { ready: false, deleting: true })],
    ['a drain was asked', now('a', { ready: false, drainRequested: true })],
    ['its labels changed (selectors)', { ...now('a', { ready: false }), facts: { ...now('a').facts!, ready: false, labels: { app: 'other', 'smartrouter.io/pool': 'std' } } }],
    ['its pool label is not the pool it was planned into', now('a', { ready: false }, null)],
    ['it is gone from the cache', { name: 'a', facts: undefined, label: null }],
    ['it is a free pod (readiness ranks free pods)', now('d', { ready: false }, null)],
  ])('plans the fleet when %s', (_why, pod) => {
    const { view, written } = settled();
    expect(readinessOnlyWrites(view, [now('b', { ready: false }), pod], written)).toBeUndefined();
  });

  test('plans the fleet when the pool had more candidates than it wanted', () => {
    const { view, written } = settled(2);
    expect(view.plan.pools.get('std')).toMatchObject({ desired: 2, candidates: 3 });
    expect(readinessOnlyWrites(view, [now('a', { ready: false })], written)).toBeUndefined();
  });

  test('plans the fleet when Redis was last written with another incarnation or not at all', () => {
    const { view } = settled();
    const stale = (n: string): PodPlacement | undefined => (n === 'a' ? { pod: 'a', pool: 'std', ready: true, draining: false, incarnation: 'a-old:0' } : undefined);
    expect(readinessOnlyWrites(view, [now('a', { ready: false })], stale)).toBeUndefined();
    expect(readinessOnlyWrites(view, [now('a', { ready: false })], () => undefined)).toBeUndefined();
  });
});
