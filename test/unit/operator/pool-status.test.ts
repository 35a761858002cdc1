import { desiredPoolStatus, statusChanged } from '../../../operator/pool-status.js';

const plan = (desired: number, serving: string[], shortfall: number) => ({ desired, serving, drained: [], leaving: [], shortfall });
const counts = { pods: 3, ready: 3, draining: 0, active_calls: 2, free_slots: 1, capacity: 1 };

describe('desiredPoolStatus', () => {
  test('a full pool is Ready and not Degraded, with its counts', () => {
    const status = desiredPoolStatus({ generation: 4, plan: plan(3, ['a', 'b', 'c'], 0), counts, servingReady: 3 }, undefined, 'T1');
    expect(status).toMatchObject({ observedGeneration: 4, pods: 3, readyPods: 3, drainingPods: 0, activeCalls: 2, freeSlots: 1 });
    expect(status.conditions).toEqual([
      { type: 'Ready', status: 'True', reason: 'AllPodsReady', message: '3/3 pods serving and Ready', lastTransitionTime: 'T1', observedGeneration: 4 },
      { type: 'Degraded', status: 'False', reason: 'AsDesired', message: 'the pool holds every pod it asks for', lastTransitionTime: 'T1', observedGeneration: 4 },
    ]);
  });

  test('a pool short of pods is Degraded with a reason, and not Ready', () => {
    const status = desiredPoolStatus({ generation: 1, plan: plan(3, ['a'], 2), counts, servingReady: 1 }, undefined, 'T1');
    expect(status.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'NotEnoughEligiblePods' });
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'PodsNotReady' });
  });

  test('transition times move only when a condition changes status', () => {
    const first = desiredPoolStatus({ generation: 1, plan: plan(1, ['a'], 0), counts, servingReady: 1 }, undefined, 'T1');
    const same = desiredPoolStatus({ generation: 1, plan: plan(1, ['a'], 0), counts, servingReady: 1 }, first, 'T2');
    expect(same).toEqual(first);
    expect(statusChanged(first, same)).toBe(false);
    const flipped = desiredPoolStatus({ generation: 1, plan: plan(1, ['a'], 0), counts, servingReady: 0 }, first, 'T3');
    expect(flipped.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe('T3');
    expect(flipped.conditions?.find((c) => c.type === 'Degraded')?.lastTransitionTime).toBe('T1');
    expect(statusChanged(first, flipped)).toBe(true);
  });
});
