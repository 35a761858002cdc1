import type { V1Pod } from '@kubernetes/client-node';
import { DRAIN_ANNOTATION, RETIRING_ANNOTATION, type PodFacts } from '../core/pool-types.js';

/**
 * What routing needs of a pod. The incarnation changes when the pod is
 * recreated (new UID) or a container restarts (restart count), both of which
 * end the calls it was streaming; readiness does not change it, because a
 * readiness flap does not.
 */
export function podFacts(pod: V1Pod): PodFacts {
  const restarts = (pod.status?.containerStatuses ?? []).reduce((sum, c) => sum + (c.restartCount ?? 0), 0);
  const ready = (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  return {
    name: pod.metadata?.name ?? '',
    labels: pod.metadata?.labels ?? {},
    ready: ready && pod.status?.phase === 'Running',
    drainRequested: pod.metadata?.annotations?.[DRAIN_ANNOTATION] === 'true',
    deleting: Boolean(pod.metadata?.deletionTimestamp),
    retiring: Boolean(pod.metadata?.annotations?.[RETIRING_ANNOTATION]),
    incarnation: `${pod.metadata?.uid ?? ''}:${restarts}`,
  };
}

/** Pods that can never serve again (finished) are treated as gone. */
export function isTerminated(pod: V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}
