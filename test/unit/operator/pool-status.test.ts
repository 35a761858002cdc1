import { degradedTransition, desiredPoolStatus, statusChanged, statusWrite } from '../../../operator/pool-status.js';

const plan = (desired: number, serving: string[], shortfall: number) => ({ desired, serving, drained: [], leaving: [], shortfall, candidates: serving.length });
const counts = { pods: 3, ready: 3, draining: 0, busy: 2, active_calls: 2, draining_calls: 0, free_slots: 1, serving_slots: 3, capacity: 1 };

describe('desiredPoolStatus', () => {
  test('a full pool is Ready and not Degraded, with its counts', () => {
    const status = desiredPoolStatus({ pool: 'standard', generation: 4, plan: plan(3, ['a', 'b', 'c'], 0), counts, servingReady: 3 }, undefined, 'T1');
    expect(status).toMatchObject({ observedGeneration: 4, replicas: 3, selector: 'smartrouter.io/pool=standard', pods: 3, readyPods: 3, drainingPods: 0, activeCalls: 2, freeSlots: 1 });
    expect(status.conditions).toEqual([
      { type: 'Ready', status: 'True', reason: 'AllPodsReady', message: '3/3 pods serving and Ready', lastTransitionTime: 'T1', observedGeneration: 4 },
      { type: 'Degraded', status: 'False', reason: 'AsDesired', message: 'the pool holds every pod it asks for', lastTransitionTime: 'T1', observedGeneration: 4 },
      { type: 'Reconciling', status: 'False', reason: 'AsDesired', message: '3/3 pods serving and Ready', lastTransitionTime: 'T1', observedGeneration: 4 },
    ]);
  });

  test('a pool short of pods is Degraded with a reason, and not Ready', () => {
    const status = desiredPoolStatus({ pool: 'standard', generation: 1, plan: plan(3, ['a'], 2), counts, servingReady: 1 }, undefined, 'T1');
    expect(status.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'NotEnoughEligiblePods' });
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'PodsNotReady' });
    expect(status.conditions?.find((c) => c.type === 'Reconciling')).toMatchObject({ status: 'True', reason: 'NotEnoughEligiblePods', message: '2 of 3 pods missing: not enough pods match the selector and are free' });
  });

  test('a pool with every pod but some not Ready yet is Reconciling, not Degraded', () => {
    const status = desiredPoolStatus({ pool: 'standard', generation: 2, plan: plan(3, ['a', 'b', 'c'], 0), counts, servingReady: 2 }, undefined, 'T1');
    expect(status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'False', 'PodsNotReady'],
      ['Degraded', 'False', 'AsDesired'],
      ['Reconciling', 'True', 'PodsNotReady'],
    ]);
    expect(status.conditions?.every((c) => c.observedGeneration === 2)).toBe(true);
  });

  test('transition times move only when a condition changes status', () => {
    const first = desiredPoolStatus({ pool: 'standard', generation: 1, plan: plan(1, ['a'], 0), counts, servingReady: 1 }, undefined, 'T1');
    const same = desiredPoolStatus({ pool: 'standard', generation: 1, plan: plan(1, ['a'], 0), counts, servingReady: 1 }, first, 'T2');
    expect(same).toEqual(first);
    expect(statusChanged(first, same)).toBe(false);
    const flipped = desiredPoolStatus({ pool: 'standard', generation: 1, plan: plan(1, ['a'], 0), counts, servingReady: 0 }, first, 'T3');
    expect(flipped.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe('T3');
    expect(flipped.conditions?.find((c) => c.type === 'Degraded')?.lastTransitionTime).toBe('T1');
    expect(statusChanged(first, flipped)).toBe(true);
  });
});

describe('statusChanged', () => {
  test('the order the API server returns keys in does not count as a change', () => {
    const ours = desiredPoolStatus({ pool: 'standard', generation: 2, plan: plan(1, ['a'], 0), counts, servingReady: 1 }, undefined, 'T1');
    // What a GET returns: keys sorted, as the API server serializes custom resources.
    const served = JSON.parse(JSON.stringify(ours, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v)));
    expect(JSON.stringify(served)).not.toBe(JSON.stringify(ours));
    expect(statusChanged(served, ours)).toBe(false);
    expect(statusChanged(undefined, ours)).toBe(true);
  });
});

describe('statusWrite', () => {
  const at = (calls: number, freeSlots: number, servingReady = 3) =>
    desiredPoolStatus({ pool: 'standard', generation: 1, plan: plan(3, ['a', 'b', 'c'], 0), counts: { ...counts, active_calls: calls, free_slots: freeSlots }, servingReady }, undefined, 'T1');

  test('nothing changed: nothing to write', () => {
    expect(statusWrite(at(1, 2), at(1, 2), 0, 0, 5_000)).toBe('none');
  });

  test('a change of call counts alone waits for the interval since the last write', () => {
    expect(statusWrite(at(1, 2), at(2, 1), 10_000, 12_000, 5_000)).toBe('later');
    expect(statusWrite(at(1, 2), at(2, 1), 10_000, 15_000, 5_000)).toBe('counts');
    // A replica that never wrote this pool's status (it just became leader) need not wait for the pool's interval.
    expect(statusWrite(at(1, 2), at(2, 1), undefined, 0, 5_000)).toBe('counts');
  });

  test('a change of conditions or pod counts is written at once, whatever the interval', () => {
    expect(statusWrite(at(1, 2), at(1, 2, 2), 10_000, 10_001, 5_000)).toBe('now');
    const fewerPods = { ...at(1, 2), pods: 2 };
    expect(statusWrite(at(1, 2), fewerPods, 10_000, 10_001, 5_000)).toBe('now');
    expect(statusWrite(undefined, at(0, 3), 10_000, 10_001, 5_000)).toBe('now');
  });
});

describe('degradedTransition', () => {
  const status = (shortfall: number) => desiredPoolStatus({ pool: 'standard', generation: 1, plan: plan(3, ['a', 'b', 'c'].slice(0, 3 - shortfall), shortfall), counts, servingReady: 3 - shortfall }, undefined, 'T1');

  test('becoming Degraded and recovering are each one transition; staying is none', () => {
    expect(degradedTransition(status(0), status(2))).toBe('Degraded');
    expect(degradedTransition(status(2), status(1))).toBeUndefined();
    expect(degradedTransition(status(1), status(0))).toBe('Recovered');
    expect(degradedTransition(status(0), status(0))).toBeUndefined();
  });

  test('a pool seen for the first time is reported only if it starts Degraded', () => {
    expect(degradedTransition(undefined, status(3))).toBe('Degraded');
    expect(degradedTransition(undefined, status(0))).toBeUndefined();
  });
});
