// The VoiceAgentPool API types, as the CRD in crds/voiceagentpool.yaml
// publishes them. Both the allocator and the operator speak these.

export const POOL_API_GROUP = 'smartrouter.io';
export const POOL_API_VERSION = 'v1alpha1';
export const POOL_KIND = 'VoiceAgentPool';
export const POOL_PLURAL = 'voiceagentpools';

/** Label the operator puts on each pod it assigns: `smartrouter.io/pool=<pool>`. */
export const POOL_LABEL = 'smartrouter.io/pool';
/** Annotation that drains a pod while it is `"true"`. */
export const DRAIN_ANNOTATION = 'smartrouter.io/drain';

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
  pods?: number;
  readyPods?: number;
  drainingPods?: number;
  activeCalls?: number;
  freeSlots?: number;
  conditions?: PoolCondition[];
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
  /** Changes when the pod's containers restart or the pod is recreated, so its calls died. */
  incarnation: string;
}
