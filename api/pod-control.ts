import type { RoutingStore } from '../lua/routing-store.js';

export interface DrainResult {
  pool: string | null;
  calls: number;
}

/**
 * Drains and undrains pods. Standalone mode changes Redis directly; operator
 * mode sets the pod's smartrouter.io/drain annotation, so kubectl shows the
 * truth and the reconciler carries it into Redis.
 */
export interface PodDrainControl {
  /** Returns the pod's pool and calls, or null when the pod is unknown. */
  setDrain(pod: string, drain: boolean): Promise<DrainResult | null>;
}

export function redisDrainControl(store: RoutingStore): PodDrainControl {
  return {
    async setDrain(pod, drain) {
      const result = await store.setDraining(pod, drain);
      return result && { pool: result.pool || null, calls: result.calls };
    },
  };
}
