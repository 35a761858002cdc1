import type { PoolPlan } from '../core/planner.js';
import { poolPodSelector, type PoolCondition, type PoolStatus } from '../core/pool-types.js';
import type { PoolCounts } from '../lua/routing-store.js';

export interface PoolObservation {
  pool: string;
  generation: number;
  plan: PoolPlan | undefined;
  counts: PoolCounts | undefined;
  /** Pods of the plan's serving set that are Ready. */
  servingReady: number;
  /** The built-in autoscaler's last decision, for pools with spec.autoscaling. */
  scaling?: { workload: string; wantedReplicas: number; currentReplicas: number; lastScaleTime?: string; reason: string; message: string };
}

function condition(type: string, ok: boolean, reason: string, message: string, generation: number, previous: PoolCondition[] | undefined, now: string): PoolCondition {
  const status = ok ? 'True' : 'False';
  const before = previous?.find((c) => c.type === type);
  // The transition time moves only when the status does, as API conventions ask.
  const lastTransitionTime = before && before.status === status && before.lastTransitionTime ? before.lastTransitionTime : now;
  return { type, status, reason, message, lastTransitionTime, observedGeneration: generation };
}

/**
 * The status a pool should have, keeping transition times of conditions that did not change.
 *
 * Conditions follow the kstatus conventions, so `kubectl wait
 * --for=condition=Ready`, Flux and Argo CD read them without a plugin: `Ready`
 * is the normal-true summary; `Reconciling` is abnormal-true and set while the
 * pool has not yet reached what its spec asks (kstatus: InProgress); every
 * condition carries the generation it describes, and `kubectl wait` ignores a
 * condition older than the spec. `Degraded` says why: not enough eligible pods.
 */
export function desiredPoolStatus(obs: PoolObservation, previous: PoolStatus | undefined, now: string): PoolStatus {
  const desired = obs.plan?.desired ?? 0;
  const shortfall = obs.plan?.shortfall ?? desired;
  const ready = obs.servingReady >= desired;
  const degraded = shortfall > 0;
  const scaling = obs.scaling;
  const autoscaling = scaling && {
    autoscaling: { workload: scaling.workload, wantedReplicas: scaling.wantedReplicas, currentReplicas: scaling.currentReplicas, ...(scaling.lastScaleTime ? { lastScaleTime: scaling.lastScaleTime } : {}) },
  };
  const serving = `${obs.servingReady}/${desired} pods serving and Ready`;
  const short = `${shortfall} of ${desired} pods missing: not enough pods match the selector and are free`;
  return {
    observedGeneration: obs.generation,
    replicas: obs.plan?.serving.length ?? 0,
    selector: poolPodSelector(obs.pool),
    pods: obs.counts?.pods ?? 0,
    readyPods: obs.counts?.ready ?? 0,
    drainingPods: obs.counts?.draining ?? 0,
    activeCalls: obs.counts?.active_calls ?? 0,
    freeSlots: obs.counts?.free_slots ?? 0,
    ...autoscaling,
    conditions: [
      condition('Ready', ready, ready ? 'AllPodsReady' : 'PodsNotReady', serving, obs.generation, previous?.conditions, now),
      condition(
        'Degraded',
        degraded,
        degraded ? 'NotEnoughEligiblePods' : 'AsDesired',
        degraded ? short : 'the pool holds every pod it asks for',
        obs.generation,
        previous?.conditions,
        now,
      ),
      condition(
        'Reconciling',
        !ready,
        ready ? 'AsDesired' : degraded ? 'NotEnoughEligiblePods' : 'PodsNotReady',
        ready ? serving : degraded ? short : `waiting for pods: ${serving}`,
        obs.generation,
        previous?.conditions,
        now,
      ),
      // True while the workload has the size the buffer asks for; otherwise why not (growing, delayed, blocked).
      ...(scaling ? [condition('Autoscaled', scaling.reason === 'AsWanted', scaling.reason, scaling.message, obs.generation, previous?.conditions, now)] : []),
    ],
  };
}

/** JSON with object keys sorted and undefined members dropped: the API server returns keys in its own order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** Whether writing `next` would change anything a reader sees. */
export function statusChanged(previous: PoolStatus | undefined, next: PoolStatus): boolean {
  return canonical(previous ?? {}) !== canonical(next);
}

/** Fields that move with every call; written on a timer, not per call. */
const CALL_COUNTS = ['activeCalls', 'freeSlots'] as const;

/**
 * none: nothing to write; now: something besides the call counts changed,
 * written at once; counts: only the call counts changed and the pool's
 * interval has passed, written if the budget of all pools allows; later: only
 * the call counts changed, within the pool's interval.
 */
export type StatusWrite = 'none' | 'now' | 'counts' | 'later';

/**
 * Whether to write a pool's status now. Anything but the call counts
 * (conditions, generation, pod counts) is written at once; a change of call
 * counts alone waits until `countsIntervalMs` have passed since this replica
 * last wrote the pool's status, so status is never written per call.
 */
export function statusWrite(previous: PoolStatus | undefined, next: PoolStatus, lastWriteMs: number | undefined, nowMs: number, countsIntervalMs: number): StatusWrite {
  if (!statusChanged(previous, next)) return 'none';
  // The wanted size and the autoscaler's message move with calls too: only the reason and the workload's size are news.
  const withoutCounts = (s: PoolStatus | undefined): unknown => ({
    ...s,
    ...Object.fromEntries(CALL_COUNTS.map((k) => [k, undefined])),
    autoscaling: s?.autoscaling && { ...s.autoscaling, wantedReplicas: undefined },
    conditions: s?.conditions?.map((c) => (c.type === 'Autoscaled' ? { ...c, message: undefined } : c)),
  });
  if (canonical(withoutCounts(previous)) !== canonical(withoutCounts(next))) return 'now';
  return lastWriteMs === undefined || nowMs - lastWriteMs >= countsIntervalMs ? 'counts' : 'later';
}

export type DegradedTransition = 'Degraded' | 'Recovered' | undefined;

/** The Event a status change calls for: a pool that became Degraded, or stopped being. */
export function degradedTransition(previous: PoolStatus | undefined, next: PoolStatus): DegradedTransition {
  const degraded = (s: PoolStatus | undefined) => s?.conditions?.find((c) => c.type === 'Degraded')?.status;
  const before = degraded(previous);
  const after = degraded(next);
  if (after === 'True' && before !== 'True') return 'Degraded';
  if (after === 'False' && before === 'True') return 'Recovered';
  return undefined;
}
