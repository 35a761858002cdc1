import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../core/logger.js';
import { RETIRING_ANNOTATION } from '../core/pool-types.js';
import type { EventRecorder } from './events.js';
import type { FleetView } from './fleet-view.js';
import { statusCode, type KubeClients } from './kube-client.js';
import { forEachLimited } from './limited-concurrency.js';
import { ObjectBackoff } from './object-backoff.js';
import type { WriteFailureSink } from './operator-metrics.js';
import { WrittenMemory } from './written-memory.js';
import type { PodWriteObserver } from './pod-change-filter.js';
import { applyPodMetadataPatch, currentPodMetadata, desiredPodMetadata, podMetadataPatch, type PodMetadata, type PodMetadataPatch } from './pod-metadata.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Label patches the operator keeps in flight at once during a large converge (more measured no faster). */
export const POD_PATCHES_IN_FLIGHT = 16;

export interface PodMetadataOptions {
  namespace: string;
  /** Pod patches in flight at once. */
  patchConcurrency: number;
  /** First retry of a pod whose patch failed; doubles per failure up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
}

export interface PodWritesResult {
  /** Pods whose pool label this pass changed. */
  relabelled: Set<string>;
  /** When the earliest pod waiting out a failure is due again. */
  retryAfterMs?: number;
}

/**
 * Keeps each pod's pool label and call annotations (see pod-metadata.ts) in
 * step with the plan and its calls, one merge patch per pod and only where
 * something differs. Each pod stands alone: a pod whose patch is refused
 * waits out its own backoff and never holds back another pod's patch.
 * Remembers what it just wrote until the informer cache has seen it, so the
 * next plan (which may run while a patch is in flight) does not undo it or
 * tell it twice.
 */
export class PodMetadataWriter {
  private memory = new WrittenMemory<PodMetadata>();
  private readonly backoff: ObjectBackoff;
  /**
   * Pod objects found to need no patch, and for which plan (pool, busy): an
   * informer replaces a pod's object on every change, so the same object
   * with the same plan needs none again. At 10,000 pods a pass otherwise
   * copies and compares every pod's annotations after every plan.
   */
  private asPlanned = new WeakMap<V1Pod, string>();

  constructor(
    private readonly clients: KubeClients,
    private readonly events: EventRecorder,
    private readonly logger: Logger,
    private readonly options: PodMetadataOptions,
    private readonly failures?: WriteFailureSink,
    private readonly observer?: PodWriteObserver,
  ) {
    this.backoff = new ObjectBackoff(options.retryBaseMs, options.retryMaxMs);
  }

  reset(): void {
    this.memory.clear();
    this.backoff.clear();
    this.asPlanned = new WeakMap();
  }

  /** A pod's metadata, or what this replica just wrote if the cache has not seen it yet. */
  private metadataOf(pod: V1Pod): PodMetadata {
    return this.memory.recall(pod.metadata!.name!, pod.metadata?.resourceVersion) ?? currentPodMetadata(pod);
  }

  /** A pod's pool label, as the planner should believe it. */
  labelOf(pod: V1Pod): string | null {
    return this.metadataOf(pod).label;
  }

  /** Forgets pods that no longer exist. */
  forgetGone(pods: ReadonlyMap<string, unknown>): void {
    this.memory.forget((name) => pods.has(name));
    this.backoff.forget((name) => pods.has(name));
  }

  /** Patches every pod whose label or annotations differ from the plan; failures stay per pod. */
  async apply(view: FleetView, beforeWrite: () => void): Promise<PodWritesResult> {
    const relabelled = new Set<string>();
    const now = Date.now();
    const changes: { pod: V1Pod; current: PodMetadata; patch: PodMetadataPatch; version: string }[] = [];
    for (const pod of view.podObjects) {
      // A pod being deleted is left alone: patching it would race its deletion for nothing.
      if (pod.metadata?.deletionTimestamp) continue;
      const name = pod.metadata!.name!;
      const pool = view.plan.placements.get(name)?.pool ?? null;
      const calls = view.routing.get(name)?.calls ?? 0;
      const planned = `${pool}|${calls > 0}`;
      if (this.asPlanned.get(pod) === planned) continue;
      const remembered = this.memory.recall(name, pod.metadata?.resourceVersion);
      const current = remembered ?? currentPodMetadata(pod);
      const managed = pool !== null || current.label !== null || calls > 0;
      const patch = podMetadataPatch(current, desiredPodMetadata(pool, calls > 0, managed, Boolean(current.annotations[RETIRING_ANNOTATION])));
      if (!patch) {
        this.backoff.succeeded(name);
        // Only what the object itself says counts: a write not yet in the cache may still fail.
        if (!remembered) this.asPlanned.set(pod, planned);
        continue;
      }
      const version = `${pod.metadata?.resourceVersion}|${JSON.stringify(patch)}`;
      if (this.backoff.due(name, version, now)) changes.push({ pod, current, patch, version });
    }
    // Patches are independent: a few at a time keeps a 1,000-pod converge short without flooding the API server.
    await forEachLimited(changes, this.options.patchConcurrency, async ({ pod, current, patch, version }) => {
      beforeWrite();
      const name = pod.metadata!.name!;
      let writtenAs: string | undefined;
      try {
        this.observer?.patching(pod, patch);
        const answer = await this.clients.core.patchNamespacedPod({ name, namespace: this.options.namespace, body: { metadata: patch } }, mergePatch);
        writtenAs = answer?.metadata?.resourceVersion;
        this.observer?.wrote(answer);
      } catch (err) {
        if (statusCode(err) === 404) return; // deleted meanwhile
        this.failures?.writeFailed('pod', err);
        const { delayMs, failures } = this.backoff.failed(name, version, Date.now());
        this.logger.warn('pod patch failed; retrying this pod alone', { pod: name, error: (err as Error).message, status: statusCode(err), retry_in_ms: delayMs, failures });
        if (failures === 1) void this.events.record({ kind: 'Pod', name, uid: pod.metadata?.uid }, 'Warning', 'PodPatchFailed', `could not write ${describePatch(patch)}: ${(err as Error).message}`);
        return;
      }
      this.backoff.succeeded(name);
      const next = applyPodMetadataPatch(current, patch);
      this.memory.remember(name, next, pod.metadata?.resourceVersion, writtenAs);
      if (patch.labels) {
        relabelled.add(name);
        this.logger.info(next.label ? 'pod labelled' : 'pod unlabelled', { pod: name, pool: next.label ?? current.label });
      }
      if (patch.annotations) this.logger.info('pod call annotations updated', { pod: name, pool: next.label ?? current.label, annotations: patch.annotations });
    });
    const retryAfterMs = this.backoff.nextDueInMs(Date.now());
    return retryAfterMs === undefined ? { relabelled } : { relabelled, retryAfterMs };
  }
}

function describePatch(patch: PodMetadataPatch): string {
  return [...Object.keys(patch.labels ?? {}).map((k) => `label ${k}`), ...Object.keys(patch.annotations ?? {}).map((k) => `annotation ${k}`)].join(', ');
}
