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

export interface ReadinessWrite {
  pod: string;
  ready: boolean;
  facts: PodFacts;
}

/**
 * The flips Redis can take at once, whatever else is pending: the pod is in
 * Redis as this replica last wrote it, under the incarnation the cache shows
 * now, so its readiness written there is the truth and ends no call. Every
 * plan writes each pod's readiness as the cache has it, so no plan, pending
 * or running, wants anything else. Pure.
 */
export function readinessWrites(pods: readonly PodNow[], written: (pod: string) => PodPlacement | undefined): ReadinessWrite[] {
  const writes: ReadinessWrite[] = [];
  for (const { name, facts } of pods) {
    const inRedis = written(name);
    if (facts && inRedis && inRedis.incarnation === facts.incarnation && inRedis.ready !== facts.ready) writes.push({ pod: name, ready: facts.ready, facts });
  }
  return writes;
}

/**
 * Whether the last plan still stands after these pods' readiness flipped,
 * or the fleet must be planned again. Pure.
 *
 * It stands where the plan cannot move because of a flip: the pod is a
 * member of the pool it was planned into (labelled so), that pool had no
 * more candidates than it desired, so readiness ranked nobody in or out of
 * it (the planner ranks by readiness only when trimming a pool and among
 * free pods), and nothing else about the pod changed since the plan.
 */
export function planStands(last: FleetView | undefined, pods: readonly PodNow[]): boolean {
  if (!last) return false;
  for (const { name, facts, label } of pods) {
    const before = last.facts.get(name);
    const placement = last.plan.placements.get(name);
    if (!facts || !before || !placement || label !== placement.pool) return false;
    if (facts.drainRequested !== before.drainRequested || facts.deleting !== before.deleting || facts.retiring !== before.retiring || facts.incarnation !== before.incarnation) return false;
    if (!sameLabels(facts.labels, before.labels)) return false;
    const pool = last.plan.pools.get(placement.pool);
    if (!pool || pool.candidates > pool.desired) return false;
  }
  return true;
}
