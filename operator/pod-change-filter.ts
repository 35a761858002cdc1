import type { V1Pod } from '@kubernetes/client-node';
import { podFacts } from './pod-facts.js';

/** What a pod's watch event means to a reconcile. */
export type PodNews = 'none' | 'readiness' | 'change';

interface Seen {
  /** Everything a reconcile reads of the pod but its readiness. */
  rest: string;
  ready: boolean;
}

/** What a reconcile reads of a pod: its facts, its phase and all its annotations (the operator's own among them). Pure. */
function reconcileInputsOf(pod: V1Pod): Seen {
  const f = podFacts(pod);
  return { rest: JSON.stringify([f.labels, f.drainRequested, f.deleting, f.retiring, f.incarnation, pod.status?.phase ?? '', pod.metadata?.annotations ?? {}]), ready: f.ready };
}

/**
 * Tells what each pod watch event means to a reconcile:
 * - none: it left everything a reconcile reads alone (a status heartbeat,
 *   managedFields, a condition's timestamps), or it is the echo of the
 *   operator's own patch, whose answer is the object that event carries and
 *   was recorded as seen when it arrived. At 10,000 pods a converge is
 *   10,000 such echoes, each of which would otherwise plan the whole fleet.
 * - readiness: only the pod's readiness changed; the reconciler may write
 *   just that pod (see FleetReconciler).
 * - change: anything else, and every add and deletion.
 *
 * Skipping an event only ever delays a reconcile, never ends a call or
 * removes a pod, and the periodic resync reads the caches whole whatever
 * was skipped.
 */
export class PodChangeFilter {
  private readonly seen = new Map<string, Seen>();

  /** What this watch event means; remembers the pod as seen. */
  classify(verb: 'add' | 'update' | 'delete', pod: V1Pod): PodNews {
    const name = pod.metadata?.name ?? '';
    if (verb === 'delete') {
      this.seen.delete(name);
      return 'change';
    }
    const now = reconcileInputsOf(pod);
    const before = this.seen.get(name);
    this.seen.set(name, now);
    if (verb === 'add' || !before || before.rest !== now.rest) return 'change';
    return before.ready === now.ready ? 'none' : 'readiness';
  }

  /** The pod as this replica's own write left it (the API server's answer to a patch). */
  wrote(pod: V1Pod | undefined): void {
    const name = pod?.metadata?.name;
    if (name && this.seen.has(name)) this.seen.set(name, reconcileInputsOf(pod!));
  }
}
