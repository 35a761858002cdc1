import type { PodPlacement } from '../lua/routing-store.js';

/** What Redis must change so the pods hold what the plan says, given what was last written there. */
export interface RoutingDelta {
  /** Pods to put in their pool with their state: new, moved, or with another readiness, drain or incarnation. */
  place: PodPlacement[];
  /** Pods that left every pool, by the pool they were written in. */
  leave: Map<string, string[]>;
}

const samePlacement = (a: PodPlacement, b: PodPlacement) =>
  a.pool === b.pool && a.ready === b.ready && a.draining === b.draining && a.incarnation === b.incarnation;

/**
 * The pods whose routing changed since it was last written, and nothing
 * else: a readiness flip in a 10,000-pod pool is one pod to write. Pure.
 */
export function routingDelta(desired: ReadonlyMap<string, PodPlacement>, written: ReadonlyMap<string, PodPlacement>): RoutingDelta {
  const place: PodPlacement[] = [];
  for (const [pod, want] of desired) {
    const was = written.get(pod);
    if (!was || !samePlacement(was, want)) place.push(want);
  }
  const leave = new Map<string, string[]>();
  for (const [pod, was] of written) {
    if (desired.has(pod)) continue;
    const list = leave.get(was.pool) ?? [];
    list.push(pod);
    leave.set(was.pool, list);
  }
  return { place, leave };
}
