import { PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';
import { DRAIN_ANNOTATION, DRAIN_STARTED_ANNOTATION } from '../../core/pool-types.js';
import { statusCode } from '../kube-client.js';
import type { DrainMarker } from './eviction-guard.js';
import { parseDrainStart } from './eviction-guard.js';

/**
 * Sets `smartrouter.io/drain=true` and the drain start on the pod. Reads the
 * pod live first: a start another replica wrote moments ago (not yet in this
 * replica's cache) is kept, and the patch carries the resourceVersion it read,
 * so two replicas answering the same eviction at once cannot both set one.
 */
export function kubernetesDrainMarker(core: CoreV1Api, namespace: string): DrainMarker {
  return {
    async markDraining(pod, startedAt) {
      for (let attempt = 0; attempt < 3; attempt++) {
        let live;
        try {
          live = await core.readNamespacedPod({ name: pod, namespace });
        } catch (err) {
          if (statusCode(err) === 404) return null;
          throw err;
        }
        const annotations = live.metadata?.annotations ?? {};
        // A start left from an earlier drain that was undrained since does not count.
        const existing = annotations[DRAIN_ANNOTATION] === 'true' ? parseDrainStart(annotations[DRAIN_STARTED_ANNOTATION]) : null;
        if (existing !== null) return new Date(existing);
        const start = startedAt;
        try {
          await core.patchNamespacedPod(
            {
              name: pod,
              namespace,
              body: {
                metadata: {
                  resourceVersion: live.metadata?.resourceVersion,
                  annotations: { [DRAIN_ANNOTATION]: 'true', [DRAIN_STARTED_ANNOTATION]: start.toISOString() },
                },
              },
            },
            setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
          );
          return start;
        } catch (err) {
          if (statusCode(err) === 404) return null;
          if (statusCode(err) !== 409) throw err;
        }
      }
      throw new Error(`pod ${pod}: drain annotation kept conflicting with other writers`);
    },
  };
}
