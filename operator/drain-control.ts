import { PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';
import type { PodDrainControl } from '../api/pod-control.js';
import { DRAIN_ANNOTATION } from '../core/pool-types.js';
import type { RoutingStore } from '../lua/routing-store.js';
import { statusCode } from './kube-client.js';

/**
 * POST /api/v1/drain and /undrain in operator mode: the same as `kubectl
 * annotate pod <p> smartrouter.io/drain=true` (or its removal), so kubectl
 * shows the truth and the reconciler keeps it. A drain is also written to
 * Redis at once, so no new call lands on the pod while the reconcile is on
 * its way; an undrain is left to the reconciler, which knows whether the pod
 * may take calls again (it may still be leaving its pool or being deleted).
 */
export function kubernetesDrainControl(core: CoreV1Api, namespace: string, store: RoutingStore): PodDrainControl {
  return {
    async setDrain(pod, drain) {
      try {
        await core.patchNamespacedPod(
          { name: pod, namespace, body: { metadata: { annotations: { [DRAIN_ANNOTATION]: drain ? 'true' : null } } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      } catch (err) {
        if (statusCode(err) === 404) return null;
        throw err;
      }
      if (drain) {
        const state = await store.setDraining(pod, true);
        return { pool: state?.pool || null, calls: state?.calls ?? 0 };
      }
      const state = await store.podState(pod);
      return { pool: state?.pool ?? null, calls: state?.calls.length ?? 0 };
    },
  };
}
