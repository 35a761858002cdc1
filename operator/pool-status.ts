import type { PoolPlan } from '../core/planner.js';
import type { PoolCondition, PoolStatus } from '../core/pool-types.js';
import type { PoolCounts } from '../lua/routing-store.js';

export interface PoolObservation {
  generation: number;
  plan: PoolPlan | undefined;
  counts: PoolCounts | undefined;
  /** Pods of the plan's serving set that are Ready. */
  servingReady: number;
}

function condition(type: string, ok: boolean, reason: string, message: string, generation: number, previous: PoolCondition[] | undefined, now: string): PoolCondition {
  const status = ok ? 'True' : 'False';
  const before = previous?.find((c) => c.type === type);
  // The transition time moves only when the status does, as API conventions ask.
  const lastTransitionTime = before && before.status === status && before.lastTransitionTime ? before.lastTransitionTime : now;
  return { type, status, reason, message, lastTransitionTime, observedGeneration: generation };
}

/** The status a pool should have, keeping transition times of conditions that did not change. */
export function desiredPoolStatus(obs: PoolObservation, previous: PoolStatus | undefined, now: string): PoolStatus {
  const desired = obs.plan?.desired ?? 0;
  const shortfall = obs.plan?.shortfall ?? desired;
  const ready = obs.servingReady >= desired;
  const degraded = shortfall > 0;
  return {
    observedGeneration: obs.generation,
    pods: obs.counts?.pods ?? 0,
    readyPods: obs.counts?.ready ?? 0,
    drainingPods: obs.counts?.draining ?? 0,
    activeCalls: obs.counts?.active_calls ?? 0,
    freeSlots: obs.counts?.free_slots ?? 0,
    conditions: [
      condition(
        'Ready',
        ready,
        ready ? 'AllPodsReady' : 'PodsNotReady',
        ready ? `${obs.servingReady}/${desired} pods serving and Ready` : `${obs.servingReady}/${desired} pods serving and Ready`,
        obs.generation,
        previous?.conditions,
        now,
      ),
      condition(
        'Degraded',
        degraded,
        degraded ? 'NotEnoughEligiblePods' : 'AsDesired',
        degraded ? `${shortfall} of ${desired} pods missing: not enough pods match the selector and are free` : 'the pool holds every pod it asks for',
        obs.generation,
        previous?.conditions,
        now,
      ),
    ],
  };
}

/** Whether writing `next` would change anything a reader sees. */
export function statusChanged(previous: PoolStatus | undefined, next: PoolStatus): boolean {
  return JSON.stringify(previous ?? {}) !== JSON.stringify(next);
}
