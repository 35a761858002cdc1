import type { PoolAutoscaling } from './pool-types.js';

/** One wanted size the autoscaler computed, and when. */
export interface Recommendation {
  atMs: number;
  replicas: number;
}

export interface ScaleInput {
  policy: PoolAutoscaling;
  /** Calls the pool's pods hold now. */
  busySlots: number;
  /** Calls one pod takes (the pool's capacity). */
  capacity: number;
  /** The workload's replicas now (its scale subresource's spec.replicas). */
  currentReplicas: number;
  nowMs: number;
  /** What earlier decisions wanted, newest last; empty on the first decision of a term. */
  history: readonly Recommendation[];
  /** Calls expected to arrive while new pods start (core/scale-lead.ts): kept free on top of the buffer. */
  leadSlots?: number;
}

export type ScaleReason =
  | 'BufferBreached' // grows: fewer free slots than the buffer
  | 'BufferExceeded' // shrinks: more free slots than the buffer, for the whole delay
  | 'ScaleDownDelayed' // more free slots than the buffer, not yet for the whole delay
  | 'BelowMinReplicas'
  | 'AboveMaxReplicas'
  | 'AtMaxReplicas' // the buffer needs more pods than maxReplicas allows
  | 'AsWanted';

export interface ScaleDecision {
  /** Pods that keep the buffer now, within min and max, before stabilisation. */
  wanted: number;
  /** Replicas the workload should have now: `wanted` when growing, the window's highest when shrinking. */
  target: number;
  reason: ScaleReason;
  message: string;
  /** History to pass to the next decision: the window's recommendations and this one. */
  history: Recommendation[];
}

/**
 * Call slots to have in all, busy and free: Agones' buffer policy over call
 * slots. bufferSlots keeps that many free; bufferPercent keeps that share of
 * all slots free (rounded up), and at least one, so the next call always has
 * a place while the workload grows.
 */
export function wantedSlots(policy: PoolAutoscaling, busySlots: number): number {
  if (policy.bufferSlots !== undefined) return busySlots + policy.bufferSlots;
  const percent = policy.bufferPercent ?? 0;
  return Math.max(busySlots + 1, Math.ceil((busySlots * 100) / (100 - percent)));
}

/** Pods for the slots the buffer asks for, before min and max. */
export function podsForSlots(slots: number, capacity: number): number {
  return Math.ceil(slots / Math.max(1, capacity));
}

/**
 * The size the workload should have now. Growing is immediate: a caller
 * waiting for a free slot cannot wait out a window. Shrinking waits until the
 * wanted size stayed lower for scaleDownDelaySeconds, and then goes only to
 * the highest size wanted within that window, as the HPA's scale-down
 * stabilisation does, so a short lull between bursts does not flap the
 * fleet. On the first decision of a term (history empty) the current size
 * counts as wanted now: a new leader waits a full window before shrinking.
 */
export function decideScale(input: ScaleInput): ScaleDecision {
  const { policy, busySlots, capacity, currentReplicas, nowMs } = input;
  const lead = Math.max(0, input.leadSlots ?? 0);
  // The lead counts as calls already there: with bufferPercent its share of free slots grows with it.
  const unbounded = podsForSlots(wantedSlots(policy, busySlots + lead), capacity);
  const wanted = Math.min(policy.maxReplicas, Math.max(policy.minReplicas, unbounded));
  const windowMs = policy.scaleDownDelaySeconds * 1000;
  // A first decision has no past: the current size counts as wanted now, so a new leader waits a full window before shrinking.
  const seed = input.history.length === 0 && windowMs > 0 ? [{ atMs: nowMs, replicas: currentReplicas }] : [];
  // A recommendation holds until the next one: the window also keeps the one in force when it opened.
  const all = [...input.history, ...seed, { atMs: nowMs, replicas: wanted }];
  const start = nowMs - windowMs;
  const inForce = all.reduce((last, r, i) => (r.atMs <= start ? i : last), -1);
  const history = all.filter((r, i) => r.atMs > start || i === inForce);
  const windowHighest = Math.max(...history.map((r) => r.replicas));
  const slots = `${busySlots} busy slot(s), ${currentReplicas * capacity - busySlots} free of ${currentReplicas * capacity}`;
  const buffer = `${policy.bufferSlots !== undefined ? `${policy.bufferSlots} free slot(s)` : `${policy.bufferPercent}% free slots`}${lead ? ` (and ${lead} for the calls arriving while pods start)` : ''}`;

  if (wanted > currentReplicas) {
    const reason = currentReplicas < policy.minReplicas && unbounded <= currentReplicas ? 'BelowMinReplicas' : 'BufferBreached';
    return { wanted, target: wanted, reason, message: `${slots}; keeping ${buffer} needs ${wanted} pod(s): growing from ${currentReplicas}${unbounded > wanted ? ` (capped at maxReplicas ${policy.maxReplicas})` : ''}`, history };
  }
  if (wanted < currentReplicas) {
    const target = Math.min(currentReplicas, policy.maxReplicas, windowHighest);
    if (currentReplicas > policy.maxReplicas) {
      return { wanted, target, reason: 'AboveMaxReplicas', message: `${currentReplicas} pod(s) exceed maxReplicas ${policy.maxReplicas}: shrinking to ${target}`, history };
    }
    if (target < currentReplicas) {
      return { wanted, target, reason: 'BufferExceeded', message: `${slots}; keeping ${buffer} needs ${wanted} pod(s), and no more than ${target} for ${policy.scaleDownDelaySeconds}s: shrinking from ${currentReplicas}`, history };
    }
    return { wanted, target: currentReplicas, reason: 'ScaleDownDelayed', message: `${slots}; keeping ${buffer} needs ${wanted} pod(s); shrinking once that holds for ${policy.scaleDownDelaySeconds}s`, history };
  }
  if (unbounded > policy.maxReplicas) {
    return { wanted, target: currentReplicas, reason: 'AtMaxReplicas', message: `${slots}; keeping ${buffer} needs ${unbounded} pod(s), but maxReplicas is ${policy.maxReplicas}`, history };
  }
  return { wanted, target: currentReplicas, reason: 'AsWanted', message: `${slots}; ${currentReplicas} pod(s) keep ${buffer}`, history };
}

/**
 * The fewest busy slots at which the buffer (with the same lead) asks for
 * more than `replicas` pods: the allocation that reaches it should wake the
 * autoscaler. Undefined when no number of calls can grow the workload (it is
 * at maxReplicas).
 */
export function growAtBusySlots(policy: PoolAutoscaling, capacity: number, replicas: number, leadSlots = 0): number | undefined {
  if (replicas >= policy.maxReplicas) return undefined;
  if (replicas < policy.minReplicas) return 0;
  const slots = replicas * Math.max(1, capacity);
  // Wanted pods only grow with busy slots, and replicas x capacity + 1 busy slots always want more than replicas pods.
  for (let busy = 0; busy <= slots; busy++) if (podsForSlots(wantedSlots(policy, busy + Math.max(0, leadSlots)), capacity) > replicas) return busy;
  return slots + 1;
}
