import { selectorMatches } from '../core/label-selector.js';
import type { Plan } from '../core/planner.js';
import type { Pool } from '../core/pool-types.js';
import type { PodRouting } from '../lua/routing-store.js';

/** A pod as it was before this reconcile: its label in Kubernetes, its state in Redis. */
export interface PodBefore {
  name: string;
  uid?: string;
  labels: Record<string, string>;
  /** Its smartrouter.io/pool label ('' or absent: none). */
  label: string | null;
  routing: PodRouting | undefined;
  deleting: boolean;
  drainRequested: boolean;
}

export type TransitionReason = 'PodAssigned' | 'PodDraining' | 'PodReleased';

export interface PodTransition {
  pod: string;
  uid?: string;
  pool: string;
  reason: TransitionReason;
  message: string;
  /** True when the transition is the label change itself: reported only once the patch succeeded. */
  viaLabel: boolean;
}

/** Why a pod drains, in its PodDraining Event: a deletion begun, a drain asked. */
export const DRAIN_CAUSE_DELETING = 'the pod is being deleted';
export const DRAIN_CAUSE_REQUESTED = 'drain requested (smartrouter.io/drain=true)';

/** A pod that began draining from `pool`, as its PodDraining Event tells it. */
export function drainingTransition(pod: string, uid: string | undefined, pool: string, cause: string, calls: number): PodTransition {
  return { pod, uid, pool, reason: 'PodDraining', message: `draining from pool ${pool}: ${cause}; keeps its ${calls} call(s), takes no new ones`, viaLabel: false };
}

function drainCause(pod: PodBefore, pool: Pool | undefined, role: 'drained' | 'leaving'): string {
  if (pod.deleting) return DRAIN_CAUSE_DELETING;
  if (role === 'drained') return DRAIN_CAUSE_REQUESTED;
  if (!pool) return 'its pool was deleted';
  if (!selectorMatches(pool.spec.selector, pod.labels)) return "it no longer matches the pool's selector";
  return 'the pool needs fewer pods';
}

/**
 * What changed for each pod, judged against the world as it was (label and
 * Redis), not against this replica's memory: a restart or a failover reports
 * nothing twice, and a pod already draining is not reported again.
 */
export function podTransitions(pods: readonly PodBefore[], plan: Plan, pools: ReadonlyMap<string, Pool>): PodTransition[] {
  const out: PodTransition[] = [];
  for (const pod of pods) {
    const placement = plan.placements.get(pod.name);
    const add = (pool: string, reason: TransitionReason, message: string, viaLabel: boolean) => out.push({ pod: pod.name, uid: pod.uid, pool, reason, message, viaLabel });
    // Draining in Redis, or out of every pool while its calls finish: already told.
    const wasDraining = pod.routing?.draining === true || pod.routing?.pool === '';
    if (placement?.role === 'serving') {
      if (pod.label !== placement.pool) add(placement.pool, 'PodAssigned', `serving pool ${placement.pool}`, true);
      else if (pod.routing?.pool === placement.pool && pod.routing.draining) add(placement.pool, 'PodAssigned', `undrained: serving pool ${placement.pool} again`, false);
    } else if (placement) {
      if (!wasDraining) {
        out.push(drainingTransition(pod.name, pod.uid, placement.pool, drainCause(pod, pools.get(placement.pool), placement.role), pod.routing?.calls ?? 0));
      }
    } else if (pod.label && !pod.deleting) {
      add(pod.label, 'PodReleased', `left pool ${pod.label}: idle, unlabelled, free for other pools`, true);
    } else if (pod.deleting && pod.routing?.pool) {
      add(pod.routing.pool, 'PodReleased', `left pool ${pod.routing.pool}: the pod is being deleted and has no calls`, false);
    }
  }
  return out;
}

export interface TransitionReport {
  target: { kind: 'Pod' | 'VoiceAgentPool'; name: string; uid?: string };
  reason: TransitionReason;
  message: string;
}

/**
 * One Event per pod when a few change; when more than `perPodLimit` pods
 * change the same way in one pool at once (a new pool, a large scale), one
 * Event on the pool names the count and the first few.
 */
export function reportTransitions(transitions: readonly PodTransition[], perPodLimit: number): TransitionReport[] {
  const groups = new Map<string, PodTransition[]>();
  for (const t of transitions) {
    const key = `${t.pool}\u0000${t.reason}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  const out: TransitionReport[] = [];
  for (const group of groups.values()) {
    const first = group[0] as PodTransition;
    if (group.length <= perPodLimit) {
      for (const t of group) out.push({ target: { kind: 'Pod', name: t.pod, uid: t.uid }, reason: t.reason, message: t.message });
    } else {
      const shown = group.slice(0, perPodLimit).map((t) => t.pod).join(', ');
      const what = first.reason === 'PodAssigned' ? `serving pool ${first.pool}` : first.reason === 'PodDraining' ? `draining from pool ${first.pool}` : `left pool ${first.pool}`;
      out.push({ target: { kind: 'VoiceAgentPool', name: first.pool }, reason: first.reason, message: `${group.length} pods: ${what} (${shown} and ${group.length - perPodLimit} more)` });
    }
  }
  return out;
}
