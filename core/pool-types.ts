// The VoiceAgentPool API types, as the CRD in crds/voiceagentpool.yaml
// publishes them. Both the allocator and the operator speak these.

export const POOL_API_GROUP = 'smartrouter.io';
export const POOL_API_VERSION = 'v1alpha1';
export const POOL_KIND = 'VoiceAgentPool';
export const POOL_PLURAL = 'voiceagentpools';

/** Label the operator puts on each pod it assigns: `smartrouter.io/pool=<pool>`. */
export const POOL_LABEL = 'smartrouter.io/pool';
/** The serialised label selector of the pods a pool holds, as its scale subresource publishes it. */
export const poolPodSelector = (pool: string): string => `${POOL_LABEL}=${pool}`;
/** Annotation that drains a pod while it is `"true"`. */
export const DRAIN_ANNOTATION = 'smartrouter.io/drain';
/**
 * Names the container whose restarts end a pod's calls (the voice agent).
 * Without it, kubectl's `kubectl.kubernetes.io/default-container`, else the
 * pod's first container. Other containers (sidecars) restart without ending calls.
 */
export const AGENT_CONTAINER_ANNOTATION = 'smartrouter.io/agent-container';
/**
 * When the first eviction of the pod was answered (RFC 3339): the drain
 * deadline counts from here. Written by the eviction guard with the drain
 * annotation, so it survives a restart of every replica and a flush of Redis.
 */
export const DRAIN_STARTED_ANNOTATION = 'smartrouter.io/drain-started-at';
/** Per-pod override of the pool's spec.drain.maxDrainSeconds (whole seconds, 0 = no wait). */
export const MAX_DRAIN_ANNOTATION = 'smartrouter.io/max-drain-seconds';
/** `"true"`: evictions of the pod are allowed at once, calls or not (emergencies). */
export const FORCE_EVICTION_ANNOTATION = 'smartrouter.io/force-eviction';

/**
 * Annotation the autoscaler puts on a pod it picked for a scale-down (the
 * time it did): the pod takes no call and joins no pool until it is removed.
 */
export const RETIRING_ANNOTATION = 'smartrouter.io/retiring';

export type Scheduling = 'LeastLoaded' | 'Packed';

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface WorkloadRef {
  kind: 'Deployment' | 'StatefulSet';
  name: string;
}

/** Free-slot autoscaling of the workload the pool's pods come from. Exactly one of the buffers is set. */
export interface PoolAutoscaling {
  workloadRef: WorkloadRef;
  bufferSlots?: number;
  bufferPercent?: number;
  minReplicas: number;
  maxReplicas: number;
  scaleDownDelaySeconds: number;
}

/** A pool's spec with every default applied. */
export interface PoolSpec {
  tier: string;
  exclusive: boolean;
  capacity: number;
  replicas: number;
  selector?: LabelSelector;
  priority: number;
  merchants?: string[];
  fallback?: string[];
  scheduling: Scheduling;
  maxCallDurationSeconds: number;
  drain?: DrainSpec;
  autoscaling?: PoolAutoscaling;
}

/** How long an eviction of a pod with calls is held back. */
export interface DrainSpec {
  /** Longest an eviction waits for calls, from its first attempt; unset: until the calls' maxCallDurationSeconds. */
  maxDrainSeconds?: number;
}

export interface Pool {
  name: string;
  spec: PoolSpec;
}

export interface PoolCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

export interface PoolStatus {
  observedGeneration?: number;
  /** Pods serving in the pool: the scale subresource's current replicas. */
  replicas?: number;
  /** `smartrouter.io/pool=<name>`: the scale subresource's label selector, serialised. */
  selector?: string;
  pods?: number;
  readyPods?: number;
  drainingPods?: number;
  activeCalls?: number;
  freeSlots?: number;
  autoscaling?: PoolAutoscalingStatus;
  conditions?: PoolCondition[];
}

/** The built-in autoscaler's view of the pool (its reason is the Autoscaled condition's). */
export interface PoolAutoscalingStatus {
  /** `Deployment/<name>` or `StatefulSet/<name>`. */
  workload: string;
  /** Pods the buffer asks for now, within min and max, before the scale-down delay. */
  wantedReplicas: number;
  /** The workload's replicas. */
  currentReplicas: number;
  lastScaleTime?: string;
}

/** What routing needs to know about a pod, wherever it comes from. */
export interface PodFacts {
  name: string;
  labels: Record<string, string>;
  ready: boolean;
  /** Drained by annotation (or by the API, which sets the annotation). */
  drainRequested: boolean;
  /** Has a deletionTimestamp: evicted, drained by kubectl, replaced by a rollout. */
  deleting: boolean;
  /** Picked by a scale-down (RETIRING_ANNOTATION): leaves its pool and joins none. */
  retiring?: boolean;
  /** Changes when the pod's containers restart or the pod is recreated, so its calls died. */
  incarnation: string;
}
