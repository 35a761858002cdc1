import { replicaSetRemovalOrder, replicaSetTier, statefulSetOrdinal, statefulSetRemovalOrder, statefulSetReplicasAfter, type WorkloadPod } from '../../../core/scale-down-order.js';

const pod = (name: string, over: Partial<WorkloadPod> = {}): WorkloadPod => ({ name, assigned: true, phase: 'Running', ready: true, inPool: true, ...over });

describe('the ReplicaSet removal order', () => {
  test('unscheduled, then Pending, Unknown, Running; not-Ready before Ready', () => {
    const tiers = [
      pod('a', { assigned: false, phase: 'Pending', ready: false }),
      pod('b', { phase: 'Pending', ready: false }),
      pod('c', { phase: 'Unknown', ready: false }),
      pod('d', { ready: false }),
      pod('e'),
    ].map(replicaSetTier);
    expect([...tiers].sort((x, y) => x - y)).toEqual(tiers);
    expect(new Set(tiers).size).toBe(5);
  });

  test('candidates come worst tier first; pods outside every pool lead their tier', () => {
    const order = replicaSetRemovalOrder([pod('r2'), pod('r1', { inPool: false }), pod('nr', { ready: false }), pod('pending', { phase: 'Pending', ready: false, assigned: false }), pod('r0')]);
    expect(order.map((c) => c.pod)).toEqual(['pending', 'nr', 'r1', 'r0', 'r2']);
    expect(order[2]!.tier).toBe(order[4]!.tier);
  });
});

describe('the StatefulSet removal order', () => {
  test('ordinals are read from names of the set only', () => {
    expect(statefulSetOrdinal('agent', 'agent-12')).toBe(12);
    expect(statefulSetOrdinal('agent', 'agent-0')).toBe(0);
    expect(statefulSetOrdinal('agent', 'agent-01')).toBeUndefined();
    expect(statefulSetOrdinal('agent', 'agent-x-1')).toBeUndefined();
    expect(statefulSetOrdinal('agent', 'other-1')).toBeUndefined();
  });

  test('highest ordinal first, one tier each, only those a shrink to target removes', () => {
    expect(statefulSetRemovalOrder('agent', ['agent-0', 'agent-3', 'agent-1', 'agent-2', 'agent-4'], 5, 2)).toEqual([
      { pod: 'agent-4', tier: 0 },
      { pod: 'agent-3', tier: 1 },
      { pod: 'agent-2', tier: 2 },
    ]);
  });

  test('shrinks past picked and missing ordinals, and stops at the first that stays', () => {
    const pods = ['agent-0', 'agent-1', 'agent-2', 'agent-4'];
    expect(statefulSetReplicasAfter('agent', pods, 5, 1, ['agent-4', 'agent-2'])).toBe(2);
    expect(statefulSetReplicasAfter('agent', pods, 5, 3, ['agent-4'])).toBe(3);
    expect(statefulSetReplicasAfter('agent', ['agent-0', 'agent-1', 'agent-2'], 5, 1, [])).toBe(3);
    expect(statefulSetReplicasAfter('agent', pods, 5, 1, ['agent-2'])).toBe(5);
  });
});
