import { planPoolAssignments } from '../../../core/planner.js';
import type { Pool } from '../../../core/pool-types.js';
import { podTransitions, reportTransitions, type PodBefore, type PodTransition } from '../../../operator/pod-transitions.js';
import { pod as podFacts, pool } from '../../support/routing.js';

const agents = { matchLabels: { app: 'voice-agent' } };
const before = (name: string, over: Partial<PodBefore> = {}): PodBefore => ({
  name,
  labels: { app: 'voice-agent' },
  label: null,
  routing: undefined,
  deleting: false,
  drainRequested: false,
  ...over,
});
const routed = (pool: string, calls = 0, draining = false) => ({ pool, calls, draining, incarnation: 'uid:0' });

function transitions(pools: Pool[], pods: PodBefore[]) {
  const plan = planPoolAssignments({
    pools,
    pods: pods.map((p) => podFacts(p.name, p.labels, { deleting: p.deleting, drainRequested: p.drainRequested })),
    current: new Map(pods.filter((p) => p.label).map((p) => [p.name, p.label!])),
    calls: new Map(pods.map((p) => [p.name, p.routing?.calls ?? 0])),
  });
  return podTransitions(pods, plan, new Map(pools.map((p) => [p.name, p]))).map(({ pod, pool: p, reason, viaLabel, message }) => ({ pod, pool: p, reason, viaLabel, message }));
}

describe('podTransitions', () => {
  test('a pod newly given to a pool is assigned through its label', () => {
    expect(transitions([pool('std', { replicas: 1, selector: agents })], [before('a')])).toEqual([
      { pod: 'a', pool: 'std', reason: 'PodAssigned', viaLabel: true, message: 'serving pool std' },
    ]);
  });

  test('nothing to tell when the world already matches: a restart or a failover reports nothing again', () => {
    expect(transitions([pool('std', { replicas: 1, selector: agents })], [before('a', { label: 'std', routing: routed('std') })])).toEqual([]);
  });

  test('a drain is told once: not again while Redis already has the pod draining', () => {
    const pools = [pool('std', { replicas: 1, selector: agents })];
    const first = transitions(pools, [before('a', { label: 'std', routing: routed('std', 1), drainRequested: true })]);
    expect(first).toEqual([{ pod: 'a', pool: 'std', reason: 'PodDraining', viaLabel: false, message: 'draining from pool std: drain requested (smartrouter.io/drain=true); keeps its 1 call(s), takes no new ones' }]);
    expect(transitions(pools, [before('a', { label: 'std', routing: routed('std', 1, true), drainRequested: true })])).toEqual([]);
  });

  test('undraining a pod is told as serving again', () => {
    const got = transitions([pool('std', { replicas: 1, selector: agents })], [before('a', { label: 'std', routing: routed('std', 0, true) })]);
    expect(got).toEqual([{ pod: 'a', pool: 'std', reason: 'PodAssigned', viaLabel: false, message: 'undrained: serving pool std again' }]);
  });

  test('each cause of draining is named', () => {
    const busy = (over: Partial<PodBefore> = {}) => before('a', { label: 'std', routing: routed('std', 2), ...over });
    const why = (pools: Pool[], p: PodBefore) => transitions(pools, [p])[0]?.message;
    expect(why([pool('std', { replicas: 1, selector: agents })], busy({ deleting: true }))).toMatch(/the pod is being deleted/);
    expect(why([pool('std', { replicas: 0, selector: agents })], busy())).toMatch(/the pool needs fewer pods/);
    expect(why([pool('std', { replicas: 1, selector: { matchLabels: { lang: 'hi' } } })], busy())).toMatch(/no longer matches the pool's selector/);
    expect(why([], busy())).toMatch(/its pool was deleted/);
  });

  test('a pod out of every pool still finishing its calls is not told again', () => {
    // Its pool was deleted: Redis holds it in no pool ('') with its calls.
    expect(transitions([], [before('a', { label: 'std', routing: routed('', 2) })])).toEqual([]);
  });

  test('an idle pod leaving its pool is released through its label; a deleted one without calls leaves routing quietly once', () => {
    expect(transitions([pool('std', { replicas: 0, selector: agents })], [before('a', { label: 'std', routing: routed('std') })])).toEqual([
      { pod: 'a', pool: 'std', reason: 'PodReleased', viaLabel: true, message: 'left pool std: idle, unlabelled, free for other pools' },
    ]);
    expect(transitions([pool('std', { replicas: 1, selector: agents })], [before('a', { label: 'std', routing: routed('std'), deleting: true })])).toEqual([
      { pod: 'a', pool: 'std', reason: 'PodReleased', viaLabel: false, message: 'left pool std: the pod is being deleted and has no calls' },
    ]);
    expect(transitions([pool('std', { replicas: 1, selector: agents })], [before('a', { label: 'std', routing: undefined, deleting: true })])).toEqual([]);
  });
});

describe('reportTransitions', () => {
  const t = (pod: string, reason: PodTransition['reason'] = 'PodAssigned', pool = 'std'): PodTransition => ({ pod, pool, reason, message: `m-${pod}`, viaLabel: true });

  test('a few pods: one Event each, on the pod', () => {
    expect(reportTransitions([t('a'), t('b', 'PodDraining')], 10)).toEqual([
      { target: { kind: 'Pod', name: 'a', uid: undefined }, reason: 'PodAssigned', message: 'm-a' },
      { target: { kind: 'Pod', name: 'b', uid: undefined }, reason: 'PodDraining', message: 'm-b' },
    ]);
  });

  test('many pods changing the same way in one pool: one Event on the pool naming the first few', () => {
    const many = Array.from({ length: 5 }, (_, i) => t(`p${i}`));
    expect(reportTransitions([...many, t('x', 'PodAssigned', 'other')], 3)).toEqual([
      { target: { kind: 'VoiceAgentPool', name: 'std' }, reason: 'PodAssigned', message: '5 pods: serving pool std (p0, p1, p2 and 2 more)' },
      { target: { kind: 'Pod', name: 'x', uid: undefined }, reason: 'PodAssigned', message: 'm-x' },
    ]);
  });
});
