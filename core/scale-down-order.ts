/** A pod a scale-down may remove, in the order the workload's controller removes pods. */
export interface RetireCandidate {
  pod: string;
  /** Candidates of one tier are removed in any order among themselves; a tier goes whole before the next. */
  tier: number;
}

/** What the workload controllers look at when they choose which pods to remove. */
export interface WorkloadPod {
  name: string;
  /** Scheduled to a node. */
  assigned: boolean;
  phase: string;
  ready: boolean;
  /** Belongs to a pool (labelled); pods outside every pool go first among equals. */
  inPool: boolean;
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/**
 * The ReplicaSet controller removes, on scale-down, unscheduled pods before
 * scheduled ones, Pending before Unknown before Running, not-Ready before
 * Ready, and only then the lowest pod-deletion-cost first. These are the
 * tiers of that order, worst first: within a tier, the pods given the lowest
 * deletion cost go first, but no pod of a later tier goes while one of an
 * earlier tier stays.
 */
export function replicaSetTier(pod: WorkloadPod): number {
  return (pod.assigned ? 6 : 0) + (PHASE_RANK[pod.phase] ?? 0) * 2 + (pod.ready ? 1 : 0);
}

/** Candidates for retire-idle-pods, in the ReplicaSet's order. */
export function replicaSetRemovalOrder(pods: readonly WorkloadPod[]): RetireCandidate[] {
  return [...pods]
    .sort((a, b) => replicaSetTier(a) - replicaSetTier(b) || Number(a.inPool) - Number(b.inPool) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((p) => ({ pod: p.name, tier: replicaSetTier(p) }));
}

/** The ordinal of a StatefulSet's pod (`<set>-<ordinal>`), or undefined for a pod not of that set. */
export function statefulSetOrdinal(set: string, pod: string): number | undefined {
  if (!pod.startsWith(`${set}-`)) return undefined;
  const rest = pod.slice(set.length + 1);
  return /^(0|[1-9]\d*)$/.test(rest) ? Number(rest) : undefined;
}

/**
 * A StatefulSet removes its highest ordinals, whatever their load or cost:
 * shrinking from `replicas` to `target` removes ordinals target..replicas-1.
 * Each is its own tier, highest first, so the pick stops at the first busy one.
 */
export function statefulSetRemovalOrder(set: string, pods: readonly string[], replicas: number, target: number): RetireCandidate[] {
  return pods
    .map((pod) => ({ pod, ordinal: statefulSetOrdinal(set, pod) }))
    .filter((p): p is { pod: string; ordinal: number } => p.ordinal !== undefined && p.ordinal >= target && p.ordinal < replicas)
    .sort((a, b) => b.ordinal - a.ordinal)
    .map((p) => ({ pod: p.pod, tier: replicas - 1 - p.ordinal }));
}

/**
 * The replicas a StatefulSet can shrink to once `picked` pods retire: down
 * past every ordinal that is picked or has no pod, stopping at the first that
 * must stay.
 */
export function statefulSetReplicasAfter(set: string, pods: readonly string[], replicas: number, target: number, picked: readonly string[]): number {
  const existing = new Set(pods.map((p) => statefulSetOrdinal(set, p)).filter((o): o is number => o !== undefined));
  const gone = new Set(picked.map((p) => statefulSetOrdinal(set, p)));
  let next = replicas;
  while (next > target && (gone.has(next - 1) || !existing.has(next - 1))) next--;
  return next;
}
