import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../core/logger.js';
import { POOL_LABEL } from '../core/pool-types.js';
import type { FleetView } from './fleet-view.js';
import { statusCode, type KubeClients } from './kube-client.js';
import { forEachLimited } from './limited-concurrency.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface PodLabelOptions {
  namespace: string;
  /** Label patches in flight at once. */
  patchConcurrency: number;
}

/**
 * Keeps each pod's smartrouter.io/pool label in step with the plan, so
 * kubectl shows which pod serves which pool and a restarted operator plans
 * from the same assignment. Remembers what it just wrote until the informer
 * cache catches up, so the next plan does not undo it.
 */
export class PodLabeler {
  private written = new Map<string, { label: string | null; basedOn: string | undefined }>();

  constructor(
    private readonly clients: KubeClients,
    private readonly logger: Logger,
    private readonly options: PodLabelOptions,
  ) {}

  reset(): void {
    this.written.clear();
  }

  /** A pod's pool label, or the one this replica just wrote if the cache has not seen it yet. */
  labelOf(pod: V1Pod): string | null {
    const name = pod.metadata!.name!;
    const written = this.written.get(name);
    if (written && written.basedOn === pod.metadata?.resourceVersion) return written.label;
    this.written.delete(name);
    return pod.metadata?.labels?.[POOL_LABEL] || null;
  }

  /** Forgets pods that no longer exist. */
  forgetGone(pods: ReadonlyMap<string, unknown>): void {
    for (const name of this.written.keys()) if (!pods.has(name)) this.written.delete(name);
  }

  /** Labels each planned pod with its pool and unlabels pods that left; returns the pods patched, throws the first failure after all settle. */
  async apply(view: FleetView, beforeWrite: () => void, patched: Set<string>): Promise<void> {
    const { plan, labels } = view;
    const changes = view.podObjects.filter((pod) => {
      const name = pod.metadata!.name!;
      // A pod being deleted keeps its label: patching it would race its deletion for nothing.
      return !pod.metadata?.deletionTimestamp && (plan.placements.get(name)?.pool ?? null) !== labels.get(name);
    });
    // Patches are independent: a few at a time keeps a 1,000-pod converge short without flooding the API server.
    await forEachLimited(changes, this.options.patchConcurrency, async (pod) => {
      beforeWrite();
      const name = pod.metadata!.name!;
      const want = plan.placements.get(name)?.pool ?? null;
      try {
        await this.clients.core.patchNamespacedPod({ name, namespace: this.options.namespace, body: { metadata: { labels: { [POOL_LABEL]: want } } } }, mergePatch);
      } catch (err) {
        if (statusCode(err) === 404) return; // deleted meanwhile
        throw err;
      }
      this.written.set(name, { label: want, basedOn: pod.metadata?.resourceVersion });
      patched.add(name);
      this.logger.info(want ? 'pod labelled' : 'pod unlabelled', { pod: name, pool: want ?? labels.get(name) });
    });
  }
}
