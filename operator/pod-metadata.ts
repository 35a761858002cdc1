import type { V1Pod } from '@kubernetes/client-node';
import { POOL_LABEL, RETIRING_ANNOTATION } from '../core/pool-types.js';

/**
 * What the operator writes on a pod, decided from the plan and the pod's
 * calls. Pure.
 *
 * - `smartrouter.io/pool=<pool>`: the pool it belongs to (absent: none).
 * - `controller.kubernetes.io/pod-deletion-cost`: the ReplicaSet controller
 *   removes pods with a lower cost first on a scale-down; a pod with calls
 *   gets {@link BUSY_POD_DELETION_COST}, an idle one none (0), so idle pods go
 *   first; a pod the autoscaler picked for a scale-down (retiring) gets
 *   {@link RETIRING_POD_DELETION_COST}, so it goes before every other.
 * - `cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`: the cluster
 *   autoscaler does not pick the node of a pod with calls for scale-down.
 *
 * Both annotations follow idle <-> busy only, not the number of calls, so a
 * pod is patched twice per busy period at most, not once per call.
 */
export const DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';
export const SAFE_TO_EVICT_ANNOTATION = 'cluster-autoscaler.kubernetes.io/safe-to-evict';
export const BUSY_POD_DELETION_COST = '1000';
export const RETIRING_POD_DELETION_COST = '-1000';

export interface PodMetadata {
  label: string | null;
  annotations: Record<string, string>;
}

export interface PodMetadataPatch {
  labels?: Record<string, string | null>;
  annotations?: Record<string, string | null>;
}

/** The metadata the operator wants on a pod: `pool` from the plan, `busy` from Redis. `managed`: a pool pod (planned, labelled or holding calls). */
export function desiredPodMetadata(pool: string | null, busy: boolean, managed: boolean, retiring = false): { label: string | null; annotations: Record<string, string | null> } {
  if (!managed) return { label: pool, annotations: {} };
  // Picked idle and fenced in Redis: it must rank first for the ReplicaSet, and it takes no call any more.
  if (retiring && !busy) return { label: pool, annotations: { [DELETION_COST_ANNOTATION]: RETIRING_POD_DELETION_COST, [SAFE_TO_EVICT_ANNOTATION]: null } };
  return busy
    ? { label: pool, annotations: { [DELETION_COST_ANNOTATION]: BUSY_POD_DELETION_COST, [SAFE_TO_EVICT_ANNOTATION]: 'false' } }
    : { label: pool, annotations: { [DELETION_COST_ANNOTATION]: null, [SAFE_TO_EVICT_ANNOTATION]: null } };
}

/** The metadata a pod carries now, as the operator reads it. */
export function currentPodMetadata(pod: V1Pod): PodMetadata {
  return { label: pod.metadata?.labels?.[POOL_LABEL] || null, annotations: { ...(pod.metadata?.annotations ?? {}) } };
}

/** The merge patch that takes `current` to `desired`, or null when nothing differs. */
export function podMetadataPatch(current: PodMetadata, desired: ReturnType<typeof desiredPodMetadata>): PodMetadataPatch | null {
  const patch: PodMetadataPatch = {};
  if (desired.label !== current.label) patch.labels = { [POOL_LABEL]: desired.label };
  for (const [key, value] of Object.entries(desired.annotations)) {
    if ((current.annotations[key] ?? null) !== value) (patch.annotations ??= {})[key] = value;
  }
  return patch.labels || patch.annotations ? patch : null;
}

/** A string map with a JSON merge patch applied, as the API server applies it: null removes a key. */
export function mergeStringMap(target: Record<string, string> | undefined, patch: Record<string, string | null> | undefined): Record<string, string> | undefined {
  if (!patch) return target;
  const out = { ...(target ?? {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = value;
  }
  return out;
}

/** `current` with `patch` applied, as the API server would. */
export function applyPodMetadataPatch(current: PodMetadata, patch: PodMetadataPatch): PodMetadata {
  const annotations = mergeStringMap(current.annotations, patch.annotations) ?? {};
  const label = patch.labels ? (patch.labels[POOL_LABEL] ?? null) : current.label;
  return { label, annotations };
}
