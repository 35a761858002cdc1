import { POOL_LABEL, type PodFacts } from '../core/pool-types.js';
import type { PodPlacement } from '../lua/routing-store.js';
import type { FleetView } from './fleet-view.js';

/** A pod as the caches show it now. */
export interface PodNow {
  name: string;
  /** Undefined: gone from the cache, or finished. */
  facts: PodFacts | undefined;
  /** Its pool label as the reconciler believes it (its own writes included). */
  label: string | null;
}

/** Labels alike but for the pool label, which the operator writes itself (and which is checked on its own). */
const sameLabels = (a: Record<string, string>, b: Record<string, string>) => {
  const keys = Object.keys(a).filter((k) => k !== POOL_LABEL);
  return keys.length === Object.keys(b).filter((k) => k !== POOL_LABEL).length && keys.every((k) => a[k] === b[k]);
};

/**
 * The readiness writes that bring Redis up to date when nothing changed
 * since the last plan but these pods' readiness, or undefined when the fleet
 * must be planned again. Pure.
 *
 * A flip is written alone only where the plan cannot move because of it:
 * the pod is a member of the pool it was planned into (labelled so), and
 * that pool had no more candidates than it desired, so readiness ranked
 * nobody in or out of it (the planner ranks by readiness only when trimming
 * a pool and among free pods). Everything else about the pod must be as the
 * plan saw it and as Redis was last written (same incarnation): a write of
 * readiness alone never ends a call.
 */
export function readinessOnlyWrites(last: FleetView, pods: readonly PodNow[], written: (pod: string) => PodPlacement | undefined): { pod: string; ready: boolean; facts: PodFacts }[] | undefined {
  const writes: { pod: string; ready: boolean; facts: PodFacts }[] = [];
  for (const { name, facts, label } of pods) {
    const before = last.facts.get(name);
    const placement = last.plan.placements.get(name);
    if (!facts || !before || !placement || label !== placement.pool) return undefined;
    if (facts.drainRequested !== before.drainRequested || facts.deleting !== before.deleting || facts.retiring !== before.retiring || facts.incarnation !== before.incarnation) return undefined;
    if (!sameLabels(facts.labels, before.labels)) return undefined;
    const pool = last.plan.pools.get(placement.pool);
    if (!pool || pool.candidates > pool.desired) return undefined;
    const inRedis = written(name);
    if (!inRedis || inRedis.pool !== placement.pool || inRedis.incarnation !== facts.incarnation) return undefined;
    if (inRedis.ready !== facts.ready) writes.push({ pod: name, ready: facts.ready, facts });
  }
  return writes;
}
