import type { PodFacts } from '../core/pool-types.js';
import type { EndedCall, PodRouting, RoutingStore } from '../lua/routing-store.js';

/**
 * The one place the reconciler decides that calls are over because their pod
 * is gone or restarted, and ends them. Every other step of a reconcile only
 * moves pods between pools or drains them; this one destroys state, so what
 * it rests on is spelled out here:
 * - a pod routing knows that the pod cache no longer lists is gone (the
 *   caller guarantees the caches completed a list first);
 * - a pod outside every pool whose incarnation (UID, restart count) differs
 *   from the one routing recorded lost its calls with its old process.
 * Pool members whose incarnation changed have their calls ended inside the
 * place-pods script itself (see lua/includes/place-pod.lua), reported with
 * {@link endReason}.
 */

export type EndReason = 'pod_gone' | 'pod_restarted';

export interface CallEnding {
  call: EndedCall;
  reason: EndReason;
}

export interface PodEnding {
  pod: string;
  reason: EndReason;
}

const uidOf = (incarnation: string) => incarnation.split(':')[0] ?? '';

/** A pod whose UID changed under the same name was replaced: its calls went with the old pod. */
export function endReason(pod: string, routing: ReadonlyMap<string, PodRouting>, facts: ReadonlyMap<string, PodFacts>): EndReason {
  return uidOf(routing.get(pod)?.incarnation ?? '') !== uidOf(facts.get(pod)?.incarnation ?? '') ? 'pod_gone' : 'pod_restarted';
}

export interface PodEndingInput {
  /** Every pod routing knows (members, and pods that left a pool holding calls). */
  knownPods: readonly string[];
  facts: ReadonlyMap<string, PodFacts>;
  routing: ReadonlyMap<string, PodRouting>;
  /** Pods this reconcile just wrote as members of a pool. */
  members: ReadonlySet<string>;
}

/** Pods whose calls must end: gone from Kubernetes, or restarted while outside every pool. Pure. */
export function podsToEnd(input: PodEndingInput): PodEnding[] {
  const out: PodEnding[] = [];
  for (const pod of input.knownPods) if (!input.facts.has(pod)) out.push({ pod, reason: 'pod_gone' });
  for (const [pod, r] of input.routing) {
    const incarnation = input.facts.get(pod)?.incarnation ?? '';
    if (input.members.has(pod) || r.calls === 0 || !r.incarnation || !incarnation || r.incarnation === incarnation) continue;
    out.push({ pod, reason: endReason(pod, input.routing, input.facts) });
  }
  return out;
}

/** Ends the calls of the pods {@link podsToEnd} names; `beforeEach` may abandon the run (lost lease). */
export async function endCallsOfPods(store: RoutingStore, endings: readonly PodEnding[], beforeEach: () => void): Promise<CallEnding[]> {
  const ended: CallEnding[] = [];
  for (const { pod, reason } of endings) {
    beforeEach();
    for (const call of await store.removePod(pod, reason)) ended.push({ call, reason });
  }
  return ended;
}
