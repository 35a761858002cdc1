import { planPoolAssignments, type Plan } from '../../../core/planner.js';
import type { PodFacts, Pool } from '../../../core/pool-types.js';
import { pod, pool } from '../../support/routing.js';

const plan = (pools: Pool[], pods: PodFacts[], current: Record<string, string> = {}, calls: Record<string, number> = {}) =>
  planPoolAssignments({ pools, pods, current: new Map(Object.entries(current)), calls: new Map(Object.entries(calls)) });

const assignment = (p: Plan) => Object.fromEntries([...p.placements].map(([name, pl]) => [name, `${pl.pool}/${pl.role}`]));
const pods = (n: number, labels?: Record<string, string>) => Array.from({ length: n }, (_, i) => pod(`va-${i}`, labels));

describe('planPoolAssignments', () => {
  test('pools take pods in priority order, ties broken by name, up to their replicas', () => {
    const result = plan([pool('basic', { replicas: 1 }), pool('standard', { replicas: 3, priority: 50 }), pool('gold', { replicas: 1, priority: 100 })], pods(5));
    expect(assignment(result)).toEqual({
      'va-0': 'gold/serving',
      'va-1': 'standard/serving',
      'va-2': 'standard/serving',
      'va-3': 'standard/serving',
      'va-4': 'basic/serving',
    });
    expect(result.unassigned).toEqual([]);
  });

  test('equal priorities are ordered by pool name', () => {
    const result = plan([pool('zeta', { replicas: 1 }), pool('alpha', { replicas: 1 })], pods(2));
    expect(assignment(result)).toEqual({ 'va-0': 'alpha/serving', 'va-1': 'zeta/serving' });
  });

  test('existing assignments stay put even when a higher-priority pool is short', () => {
    const result = plan([pool('gold', { replicas: 2, priority: 100 }), pool('basic', { replicas: 2 })], pods(3), { 'va-0': 'basic', 'va-1': 'basic' });
    expect(assignment(result)).toEqual({ 'va-0': 'basic/serving', 'va-1': 'basic/serving', 'va-2': 'gold/serving' });
    expect(result.pools.get('gold')?.shortfall).toBe(1);
  });

  test('planning the result again changes nothing', () => {
    const pools = [pool('gold', { replicas: 1, priority: 9 }), pool('standard', { replicas: 2 })];
    const first = plan(pools, pods(4));
    const current = Object.fromEntries([...first.placements].map(([n, p]) => [n, p.pool]));
    expect(assignment(plan(pools, pods(4), current))).toEqual(assignment(first));
  });

  test('a pod never belongs to two pools, and pools only take pods their selector matches', () => {
    const fleet = [pod('a', { app: 'voice', lang: 'en' }), pod('b', { app: 'voice', lang: 'hi' }), pod('c', { app: 'other' })];
    const result = plan(
      [
        pool('english', { replicas: 5, priority: 10, selector: { matchLabels: { lang: 'en' } } }),
        pool('any', { replicas: 5, selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['voice'] }] } }),
      ],
      fleet,
    );
    expect(assignment(result)).toEqual({ a: 'english/serving', b: 'any/serving' });
    expect(result.unassigned).toEqual(['c']);
    expect(result.pools.get('english')?.shortfall).toBe(4);
  });

  test('Ready pods are taken before pods that are not Ready', () => {
    const result = plan([pool('p', { replicas: 1 })], [pod('a', undefined, { ready: false }), pod('b')]);
    expect(assignment(result)).toEqual({ b: 'p/serving' });
  });

  test('a shrinking pool gives up its least-loaded pods; idle ones leave at once, busy ones drain', () => {
    const result = plan([pool('p', { replicas: 1 })], pods(3), { 'va-0': 'p', 'va-1': 'p', 'va-2': 'p' }, { 'va-0': 1, 'va-1': 3, 'va-2': 0 });
    expect(assignment(result)).toEqual({ 'va-1': 'p/serving', 'va-0': 'p/leaving' });
    expect(result.unassigned).toEqual(['va-2']);
  });

  test('a pod drained on request keeps its place and the pool backfills it', () => {
    const fleet = [pod('a', undefined, { drainRequested: true }), pod('b'), pod('c')];
    const result = plan([pool('p', { replicas: 1 })], fleet, { a: 'p' }, { a: 1 });
    expect(assignment(result)).toEqual({ a: 'p/drained', b: 'p/serving' });
    expect(result.pools.get('p')?.drained).toEqual(['a']);
  });

  test('a drained pod is never handed to a new pool', () => {
    const result = plan([pool('p', { replicas: 2 })], [pod('a', undefined, { drainRequested: true }), pod('b')]);
    expect(assignment(result)).toEqual({ b: 'p/serving' });
    expect(result.unassigned).toEqual(['a']);
  });

  test('a pod being deleted leaves while it has calls, and is replaced', () => {
    const fleet = [pod('a', undefined, { deleting: true }), pod('b'), pod('c', undefined, { deleting: true })];
    const result = plan([pool('p', { replicas: 2 })], fleet, { a: 'p', c: 'p' }, { a: 2 });
    expect(assignment(result)).toEqual({ a: 'p/leaving', b: 'p/serving' });
    expect(result.unassigned).toEqual(['c']);
    expect(result.pools.get('p')?.shortfall).toBe(1);
  });

  test('a pod retiring for a scale-down leaves its pool and no pool takes it, not even one short of pods', () => {
    const fleet = [pod('a', undefined, { retiring: true }), pod('b'), pod('c', undefined, { retiring: true })];
    const result = plan([pool('p', { replicas: 2 }), pool('q', { replicas: 1 })], fleet, { a: 'p', b: 'p' });
    expect(assignment(result)).toEqual({ b: 'p/serving' });
    expect(result.unassigned).toEqual(['a', 'c']);
    expect(result.pools.get('q')?.shortfall).toBe(1);
  });

  test('pods of a deleted pool keep their calls and leave; idle ones are free for other pools', () => {
    const result = plan([pool('other', { replicas: 5 })], pods(2), { 'va-0': 'gone', 'va-1': 'gone' }, { 'va-0': 1 });
    expect(assignment(result)).toEqual({ 'va-0': 'gone/leaving', 'va-1': 'other/serving' });
  });

  test('a selector change moves idle members out and drains busy ones', () => {
    const fleet = [pod('a', { lang: 'en' }), pod('b', { lang: 'en' }), pod('c', { lang: 'hi' })];
    const result = plan([pool('p', { replicas: 3, selector: { matchLabels: { lang: 'hi' } } })], fleet, { a: 'p', b: 'p' }, { a: 1 });
    expect(assignment(result)).toEqual({ a: 'p/leaving', c: 'p/serving' });
    expect(result.unassigned).toEqual(['b']);
  });

  test('replicas 0 holds no pods', () => {
    const result = plan([pool('p', { replicas: 0 })], pods(2));
    expect(result.placements.size).toBe(0);
    expect(result.pools.get('p')).toMatchObject({ desired: 0, shortfall: 0 });
  });

  test('candidates counts the members that could keep serving, before any is given up', () => {
    const fleet = [pod('a'), pod('b'), pod('c'), { ...pod('d'), drainRequested: true }];
    const result = plan([pool('p', { replicas: 2 })], fleet, { a: 'p', b: 'p', c: 'p', d: 'p' });
    expect(result.pools.get('p')).toMatchObject({ desired: 2, candidates: 3 });
    expect(plan([pool('p', { replicas: 3 })], fleet, { a: 'p', b: 'p' }).pools.get('p')).toMatchObject({ candidates: 2 });
  });

  // What lets the reconciler write a member's readiness flip without planning the fleet again. A pod
  // the plan just took as a free pod is not a member yet: its readiness did rank it among free pods.
  test("a member's readiness flip changes no placement when its pool had no more candidates than it desired", () => {
    const pools = [pool('gold', { replicas: 3, priority: 9 }), pool('basic', { replicas: 4 })];
    let checked = 0;
    for (let seed = 0; seed < 200; seed++) {
      const rnd = (n: number) => Math.floor((Math.sin(seed * 97 + n * 13) + 1) * 1e4) % 7;
      const fleet = Array.from({ length: 9 }, (_, i) => ({ ...pod(`va-${i}`), ready: rnd(i) > 2, drainRequested: rnd(i + 20) === 0 }));
      const current = Object.fromEntries(fleet.filter((_, i) => rnd(i + 40) < 5).map((p, i) => [p.name, i % 2 ? 'gold' : 'basic']));
      const calls = Object.fromEntries(fleet.map((p, i) => [p.name, rnd(i + 60)]));
      const before = plan(pools, fleet, current, calls);
      // Once the plan's labels are written, its pods are members.
      const settled = { ...current, ...Object.fromEntries([...before.placements].map(([n, pl]) => [n, pl.pool])) };
      for (const [name, placement] of before.placements) {
        const poolPlan = before.pools.get(placement.pool)!;
        if (poolPlan.candidates > poolPlan.desired) continue;
        const flipped = fleet.map((p) => (p.name === name ? { ...p, ready: !p.ready } : p));
        if (current[name] === placement.pool) {
          checked++;
          expect(assignment(plan(pools, flipped, current, calls))).toEqual(assignment(before));
        }
        expect(assignment(plan(pools, flipped, settled, calls))).toEqual(assignment(plan(pools, fleet, settled, calls)));
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  test('10,000 pods in 5 pools plan with every pod placed exactly once', () => {
    const fleet = pods(10_000);
    const pools = ['a', 'b', 'c', 'd', 'e'].map((n, i) => pool(n, { replicas: 2_000, priority: i }));
    const result = plan(pools, fleet);
    expect(result.placements.size).toBe(10_000);
    for (const p of result.pools.values()) expect(p.serving).toHaveLength(2_000);
  });
});
