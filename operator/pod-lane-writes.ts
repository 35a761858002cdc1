import { POOL_LABEL, type PodFacts } from '../core/pool-types.js';
import type { PodPlacement } from '../lua/routing-store.js';
import { uidOf } from './call-endings.js';
import type { FleetView } from './fleet-view.js';
import { DRAIN_CAUSE_DELETING, DRAIN_CAUSE_REQUESTED } from './pod-transitions.js';

/** A pod as the caches show it now. */
export interface PodNow {
  name: string;
  /** Undefined: gone from the cache, or finished. */
  facts: PodFacts | undefined;
  /** Its pool label as the reconciler believes it (its own writes included). */
  label: string | null;
  /** The UID of a pod under this name whose deletion the watch told since the lane last looked. */
  deletedUid?: string;
}

/** Labels alike but for the pool label, which the operator writes itself (and which is checked on its own). */
const sameLabels = (a: Record<string, string>, b: Record<string, string>) => {
  const keys = Object.keys(a).filter((k) => k !== POOL_LABEL);
  return keys.length === Object.keys(b).filter((k) => k !== POOL_LABEL).length && keys.every((k) => a[k] === b[k]);
};

/** One pod's write the lane makes at once, without a plan. */
export type LaneWrite =
  | { kind: 'ready'; pod: string; ready: boolean; facts: PodFacts }
  /** Asked to drain, being deleted or retiring: no new call, its calls go on. */
  | { kind: 'drain'; pod: string; pool: string; uid: string; cause: string }
  /** The pod Redis holds was deleted: it leaves its pool, its calls stay until the API server confirms it gone. */
  | { kind: 'leave'; pod: string; pool: string; uid: string };

/**
 * The writes Redis can take for these pods at once, whatever else is
 * pending, each for a pod Redis holds as this replica last wrote it. Every
 * one only takes service away or writes readiness, and none ends a call:
 * - leave: the watch told the deletion of the very pod Redis holds (its
 *   UID), and the cache shows no pod of that UID. Its calls stay known to
 *   routing; the plan that follows ends them once a live read confirms it.
 *   That life is tombstoned (see RoutingSync.leftDeleted): no plan places
 *   it again.
 * - drain: the pod is the incarnation Redis holds and the cache shows a
 *   drain asked, a deletion begun or a scale-down's pick. Every plan writes
 *   such a pod draining (see membersOf), so no plan wants anything else.
 * - ready: the pod is the incarnation Redis holds and its readiness
 *   differs; every plan writes readiness as the cache has it.
 * A pod restarted, new, or not in Redis is left to a plan: a restart ends
 * calls, and that takes a live read. Pure.
 */
export function laneWrites(pods: readonly PodNow[], written: (pod: string) => PodPlacement | undefined): LaneWrite[] {
  const writes: LaneWrite[] = [];
  for (const { name, facts, deletedUid } of pods) {
    const inRedis = written(name);
    if (!inRedis) continue;
    if (deletedUid !== undefined && uidOf(inRedis.incarnation) === deletedUid && (!facts || uidOf(facts.incarnation) !== deletedUid)) {
      writes.push({ kind: 'leave', pod: name, pool: inRedis.pool, uid: deletedUid });
      continue;
    }
    if (!facts || inRedis.incarnation !== facts.incarnation) continue;
    if (!inRedis.draining && (facts.drainRequested || facts.deleting || facts.retiring)) writes.push({ kind: 'drain', pod: name, pool: inRedis.pool, uid: uidOf(facts.incarnation), cause: drainCause(facts) });
    else if (inRedis.ready !== facts.ready) writes.push({ kind: 'ready', pod: name, ready: facts.ready, facts });
  }
  return writes;
}

/** Why a pod drains, in the words of the PodDraining Event a plan would write (see pod-transitions.ts). */
function drainCause(facts: PodFacts): string {
  if (facts.deleting) return DRAIN_CAUSE_DELETING;
  if (facts.drainRequested) return DRAIN_CAUSE_REQUESTED;
  return 'picked for a scale-down';
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
  for (const { name, facts, label, deletedUid } of pods) {
    const before = last.facts.get(name);
    const placement = last.plan.placements.get(name);
    if (deletedUid !== undefined || !facts || !before || !placement || label !== placement.pool) return false;
    if (facts.drainRequested !== before.drainRequested || facts.deleting !== before.deleting || facts.retiring !== before.retiring || facts.incarnation !== before.incarnation) return false;
    if (!sameLabels(facts.labels, before.labels)) return false;
    const pool = last.plan.pools.get(placement.pool);
    if (!pool || pool.candidates > pool.desired) return false;
  }
  return true;
}
