import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { PodDrainControl } from '../api/pod-control.js';
import { DRAIN_ANNOTATION } from '../core/pool-types.js';
import type { RoutingStore } from '../lua/routing-store.js';

/**
 * POST /api/v1/drain in operator mode: the same as `kubectl annotate pod
 * <p> smartrouter.io/drain=true`, so kubectl shows the truth and the
 * reconciler keeps it. Redis is told at once too, so no new call lands on
 * the pod while the reconcile is on its way.
 */
export function kubernetesDrainControl(kc: KubeConfig, namespace: string, store: RoutingStore): PodDrainControl {
  const core = kc.makeApiClient(CoreV1Api);
  return {
    async setDrain(pod, drain) {
      try {
        await core.patchNamespacedPod(
          { name: pod, namespace, body: { metadata: { annotations: { [DRAIN_ANNOTATION]: drain ? 'true' : null } } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      } catch (err) {
        if ((err as { code?: number }).code === 404) return null;
        throw err;
      }
      const state = await store.setDraining(pod, drain);
      return { pool: state?.pool || null, calls: state?.calls ?? 0 };
    },
  };
}
