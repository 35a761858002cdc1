import type { V1Pod } from '@kubernetes/client-node';
import { AGENT_CONTAINER_ANNOTATION, DRAIN_ANNOTATION, RETIRING_ANNOTATION, type PodFacts } from '../core/pool-types.js';

const KUBECTL_DEFAULT_CONTAINER = 'kubectl.kubernetes.io/default-container';

/**
 * The container that streams the calls: the one the pod's
 * smartrouter.io/agent-container annotation names, else kubectl's default
 * container annotation, else the first container of the pod spec.
 */
export function agentContainer(pod: V1Pod): string | undefined {
  const annotations = pod.metadata?.annotations ?? {};
  return annotations[AGENT_CONTAINER_ANNOTATION] || annotations[KUBECTL_DEFAULT_CONTAINER] || pod.spec?.containers?.[0]?.name;
}

/**
 * What routing needs of a pod. The incarnation, `<uid>:<restarts>`, changes
 * when the pod is recreated (new UID) or its agent container restarts, both
 * of which end the calls it was streaming. A sidecar's restart (a proxy, a
 * log shipper) does not change it: the agent's process and its calls live
 * on. Readiness does not change it either, because a readiness flap does not.
 */
export function podFacts(pod: V1Pod): PodFacts {
  // An informer replaces a pod's object on every change, so an object's facts never change:
  // at 10,000 pods, every plan would otherwise derive them all again.
  let facts = factsOf.get(pod);
  if (!facts) factsOf.set(pod, (facts = derivePodFacts(pod)));
  return facts;
}

const factsOf = new WeakMap<V1Pod, PodFacts>();

function derivePodFacts(pod: V1Pod): PodFacts {
  const agent = agentContainer(pod);
  const statuses = pod.status?.containerStatuses ?? [];
  // Before the spec is known (a partial object) the first reported container stands in.
  const status = agent === undefined ? statuses[0] : statuses.find((c) => c.name === agent);
  const restarts = status?.restartCount ?? 0;
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
