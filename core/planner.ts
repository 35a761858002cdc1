import { selectorMatches } from './label-selector.js';
import type { PodFacts, Pool } from './pool-types.js';

/**
 * How a pod relates to the pool it belongs to:
 * - serving: counts toward the pool's replicas; allocatable while Ready.
 * - drained: drained on request (annotation or API); keeps its calls and its
 *   place, gets no new calls, and does not count toward replicas, so the pool
 *   backfills it.
 * - leaving: the pool no longer wants it (shrunk, selector changed, pool
 *   deleted, pod being deleted or retiring for a scale-down); keeps its calls
 *   until they end, then leaves.
 */
export type PodRole = 'serving' | 'drained' | 'leaving';

export interface Placement {
  pool: string;
  role: PodRole;
}

export interface PoolPlan {
  desired: number;
  serving: string[];
  drained: string[];
  leaving: string[];
  /** Pods the pool wants but could not get: no eligible free pod. */
  shortfall: number;
  /**
   * Members that could have kept serving (not drained, leaving or deleted).
   * At most `desired` of them: readiness decided nothing in this pool, so a
   * member's readiness flip leaves the plan as it is.
   */
  candidates: number;
}

export interface PlanInput {
  pools: readonly Pool[];
  pods: readonly PodFacts[];
  /** Pod name -> pool it belongs to now (its label, or the last plan). */
  current: ReadonlyMap<string, string>;
  /** Pod name -> active calls. Missing means none. */
  calls: ReadonlyMap<string, number>;
}

export interface Plan {
  placements: Map<string, Placement>;
  /** Pods that belong to no pool after this plan. */
  unassigned: string[];
  pools: Map<string, PoolPlan>;
}

export function byPriority(a: Pool, b: Pool): number {
  return b.spec.priority - a.spec.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * Decides which pod belongs to which pool. Pools claim pods in priority order
 * (ties by name), up to their replicas; a pod never belongs to two pools.
 * Existing assignments stay put, so a re-plan with nothing changed changes
 * nothing. When a pool must give pods up, the least-loaded go first, and a
 * pod with calls leaves only once it is idle.
 */
export function planPoolAssignments(input: PlanInput): Plan {
  const pools = [...input.pools].sort(byPriority);
  const poolNames = new Set(pools.map((p) => p.name));
  const pods = [...input.pods].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const callsOf = (pod: string) => input.calls.get(pod) ?? 0;
  const placements = new Map<string, Placement>();
  const plans = new Map<string, PoolPlan>();

  const leaveOrUnassign = (pod: PodFacts, pool: string) => {
    if (callsOf(pod.name) > 0) placements.set(pod.name, { pool, role: 'leaving' });
  };

  // Pods whose pool is gone keep their calls and leave.
  for (const pod of pods) {
    const pool = input.current.get(pod.name);
    if (pool !== undefined && !poolNames.has(pool)) leaveOrUnassign(pod, pool);
  }

  // Each pool's members, in one pass over the fleet (in name order, as `pods`).
  const membersByPool = new Map<string, PodFacts[]>();
  for (const pod of pods) {
    const pool = input.current.get(pod.name);
    if (pool === undefined) continue;
    const list = membersByPool.get(pool);
    if (list) list.push(pod);
    else membersByPool.set(pool, [pod]);
  }

  // Phase 1: every pool keeps the members it still wants.
  for (const pool of pools) {
    const plan: PoolPlan = { desired: pool.spec.replicas, serving: [], drained: [], leaving: [], shortfall: 0, candidates: 0 };
    plans.set(pool.name, plan);
    const members = membersByPool.get(pool.name) ?? [];
    const candidates: PodFacts[] = [];
    for (const pod of members) {
      if (pod.deleting || pod.retiring || !selectorMatches(pool.spec.selector, pod.labels)) {
        leaveOrUnassign(pod, pool.name);
      } else if (pod.drainRequested) {
        placements.set(pod.name, { pool: pool.name, role: 'drained' });
      } else {
        candidates.push(pod);
      }
    }
    plan.candidates = candidates.length;
    // Keep the busiest: the least-loaded pods are the cheapest to give up.
    candidates.sort(
      (a, b) =>
        Number(b.ready) - Number(a.ready) || callsOf(b.name) - callsOf(a.name) || (a.name < b.name ? -1 : 1),
    );
    candidates.forEach((pod, i) => {
      if (i < pool.spec.replicas) placements.set(pod.name, { pool: pool.name, role: 'serving' });
      else leaveOrUnassign(pod, pool.name);
    });
  }

  // Phase 2: pools short of pods take free eligible ones, Ready pods first.
  const free = pods.filter((p) => !placements.has(p.name) && !p.deleting && !p.retiring && !p.drainRequested);
  free.sort((a, b) => Number(b.ready) - Number(a.ready) || (a.name < b.name ? -1 : 1));
  for (const pool of pools) {
    // Phase 1 kept every candidate up to the pool's replicas.
    let serving = Math.min((plans.get(pool.name) as PoolPlan).candidates, pool.spec.replicas);
    for (let i = 0; i < free.length && serving < pool.spec.replicas; i++) {
      const pod = free[i] as PodFacts;
      if (placements.has(pod.name) || !selectorMatches(pool.spec.selector, pod.labels)) continue;
      placements.set(pod.name, { pool: pool.name, role: 'serving' });
      serving++;
    }
  }

  for (const [pod, placement] of placements) {
    const plan = plans.get(placement.pool);
    if (plan) plan[placement.role].push(pod);
  }
  for (const plan of plans.values()) plan.shortfall = Math.max(0, plan.desired - plan.serving.length);

  const unassigned = pods.filter((p) => !placements.has(p.name)).map((p) => p.name);
  return { placements, unassigned, pools: plans };
}
