import type { V1Pod } from '@kubernetes/client-node';
import { podFacts } from './pod-facts.js';
import { mergeStringMap, type PodMetadataPatch } from './pod-metadata.js';

/** Hears this replica's own pod patches: before one is sent, and the API server's answer. */
export interface PodWriteObserver {
  patching(pod: V1Pod, patch: PodMetadataPatch): void;
  wrote(pod: V1Pod | undefined): void;
}

/** What a pod's watch event means to a reconcile. */
export type PodNews = 'none' | 'readiness' | 'change';

interface Seen {
  /** Everything a reconcile reads of the pod but its readiness. */
  rest: string;
  ready: boolean;
}

/** A map's entries in key order: the API server sorts them, a merge patch applied here appends. */
const sorted = (map: Record<string, string> | undefined) => Object.entries(map ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** What a reconcile reads of a pod: its facts, its phase and all its annotations (the operator's own among them). Pure. */
function reconcileInputsOf(pod: V1Pod): Seen {
  const f = podFacts(pod);
  return { rest: JSON.stringify([sorted(f.labels), f.drainRequested, f.deleting, f.retiring, f.incarnation, pod.status?.phase ?? '', sorted(pod.metadata?.annotations)]), ready: f.ready };
}

/**
 * Tells what each pod watch event means to a reconcile:
 * - none: it left everything a reconcile reads alone (a status heartbeat,
 *   managedFields, a condition's timestamps), or it is the echo of the
 *   operator's own patch: what the patch makes is recorded before it is
 *   sent, and its answer (the object that event carries) when it arrives,
 *   whichever the watch beats. At 10,000 pods a converge is 10,000 such
 *   echoes, each of which would otherwise plan the whole fleet.
 * - readiness: only the pod's readiness changed; the reconciler may write
 *   just that pod (see FleetReconciler).
 * - change: anything else, and every add and deletion.
 *
 * Skipping an event only ever delays a reconcile, never ends a call or
 * removes a pod, and the periodic resync reads the caches whole whatever
 * was skipped.
 */
export class PodChangeFilter implements PodWriteObserver {
  private readonly seen = new Map<string, Seen>();
  /** What a pod will look like once a patch of this replica in flight lands (everything but readiness). */
  private readonly expected = new Map<string, string>();

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
    if (verb === 'add' || !before) return 'change';
    // The watch may tell a patch before its answer arrives: what the patch was to make is no news either.
    const echo = this.expected.get(name) === now.rest;
    if (echo) this.expected.delete(name);
    if (before.rest !== now.rest && !echo) return 'change';
    return before.ready === now.ready ? 'none' : 'readiness';
  }

  patching(pod: V1Pod, patch: PodMetadataPatch): void {
    const name = pod.metadata?.name;
    if (!name) return;
    const metadata = { ...pod.metadata, labels: mergeStringMap(pod.metadata?.labels, patch.labels), annotations: mergeStringMap(pod.metadata?.annotations, patch.annotations) };
    this.expected.set(name, reconcileInputsOf({ ...pod, metadata }).rest);
  }

  wrote(pod: V1Pod | undefined): void {
    const name = pod?.metadata?.name;
    if (!name) return;
    this.expected.delete(name);
    if (this.seen.has(name)) this.seen.set(name, reconcileInputsOf(pod!));
  }
}
