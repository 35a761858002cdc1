import { KubeConfig, ListWatch, Watch, type KubernetesListObject, type KubernetesObject, type ObjectCache, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../core/logger.js';
import { POOL_API_GROUP, POOL_API_VERSION, POOL_PLURAL, type PoolStatus } from '../core/pool-types.js';
import type { KubeClients } from './kube-client.js';
import type { PodNews } from './pod-change-filter.js';
import { backoffDelay } from './reconcile-loop.js';

export interface VoiceAgentPoolObject extends KubernetesObject {
  spec?: unknown;
  status?: PoolStatus;
}

export type FleetKind = 'Pod' | 'VoiceAgentPool';

export interface FleetInformers {
  pods: ObjectCache<V1Pod>;
  pools: ObjectCache<VoiceAgentPoolObject>;
  /** True once both caches hold a complete list: before that, a missing pod is not a gone pod. */
  synced(): boolean;
  /** True while both watches run: while one is down, its cache may miss deletions and restarts. */
  watchesUp(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A pod's watch event that may change a plan. */
export interface PodEvent {
  name: string;
  news: Exclude<PodNews, 'none'>;
  /** For a deletion: the UID of the pod the API server deleted. */
  deletedUid?: string;
}

/**
 * List+watch of the namespace's pods and VoiceAgentPools. The client's
 * ListWatch resumes a watch that ended from its last resourceVersion and
 * relists only on 410 Gone; a watch that failed otherwise is restarted here
 * with backoff. Nothing polls. `onChange` hears every add, update and delete
 * that may change a plan: a pool update that left its generation and
 * deletion alone (a status write) is dropped, since only the spec matters to
 * a reconcile, and so is a pod event `classifyPod` says is none.
 */
export function fleetInformers(
  kc: KubeConfig,
  clients: KubeClients,
  namespace: string,
  logger: Logger,
  onChange: (kind: FleetKind, pod?: PodEvent) => void,
  onWatchState: (kind: FleetKind, up: boolean) => void = () => undefined,
  /** What a pod's watch event means to a reconcile (see pod-change-filter.ts); a change by default. */
  classifyPod: (verb: 'add' | 'update' | 'delete', pod: V1Pod) => PodNews = () => 'change',
): FleetInformers {
  const watch = new Watch(kc);
  const pods = new ListWatch<V1Pod>(`/api/v1/namespaces/${namespace}/pods`, watch, () => clients.core.listNamespacedPod({ namespace }), false);
  const pools = new ListWatch<VoiceAgentPoolObject>(
    `/apis/${POOL_API_GROUP}/${POOL_API_VERSION}/namespaces/${namespace}/${POOL_PLURAL}`,
    watch,
    () => clients.custom.listNamespacedCustomObject({ group: POOL_API_GROUP, version: POOL_API_VERSION, namespace, plural: POOL_PLURAL }) as Promise<KubernetesListObject<VoiceAgentPoolObject>>,
    false,
  );
  let stopped = false;
  const everSynced = new Set<FleetKind>();
  // What of a pool a reconcile reads: its spec (the generation moves with it) and whether it is being deleted.
  const specVersions = new Map<string, string>();
  const specVersion = (obj: VoiceAgentPoolObject) => `${obj.metadata?.generation ?? obj.metadata?.resourceVersion}|${Boolean(obj.metadata?.deletionTimestamp)}`;

  pools.on('update', (obj) => {
    const name = obj.metadata?.name ?? '';
    const before = specVersions.get(name);
    specVersions.set(name, specVersion(obj));
    if (before !== specVersions.get(name)) onChange('VoiceAgentPool');
  });
  pools.on('add', (obj) => {
    specVersions.set(obj.metadata?.name ?? '', specVersion(obj));
    onChange('VoiceAgentPool');
  });
  pools.on('delete', (obj) => {
    specVersions.delete(obj.metadata?.name ?? '');
    onChange('VoiceAgentPool');
  });
  for (const verb of ['add', 'update', 'delete'] as const) {
    pods.on(verb, (pod) => {
      // The cache holds this very object: what no reconcile reads is dropped from it, as
      // client-go's TransformStripManagedFields does (at 10,000 pods, a good part of the heap).
      if (pod.metadata) delete pod.metadata.managedFields;
      const news = classifyPod(verb, pod);
      if (news !== 'none') onChange('Pod', { name: pod.metadata?.name ?? '', news, deletedUid: verb === 'delete' ? (pod.metadata?.uid ?? '') : undefined });
    });
  }

  const watchUp = new Map<FleetKind, boolean>();
  const restarters = new Map<FleetKind, () => Promise<void>>();
  for (const [kind, informer] of [
    ['Pod', pods],
    ['VoiceAgentPool', pools],
  ] as const) {
    let failures = 0;
    let lastFailureMs = 0;
    const setUp = (up: boolean) => {
      if (watchUp.get(kind) === up) return;
      watchUp.set(kind, up);
      onWatchState(kind, up);
    };
    // Up once a (re)start ran through without an error; down from an error until then.
    let errors = 0;
    restarters.set(kind, async () => {
      const before = errors;
      await informer.start();
      if (errors === before && !stopped) setUp(true);
    });
    informer.on('error', (err: unknown) => {
      errors++;
      if (stopped) return;
      setUp(false);
      // A watch that ran a minute since its last failure starts its backoff over.
      if (Date.now() - lastFailureMs > 60_000) failures = 0;
      lastFailureMs = Date.now();
      failures++;
      const delay = backoffDelay(failures, 500, 30_000);
      logger.warn('watch ended; restarting', { kind, error: (err as Error)?.message ?? String(err), retry_in_ms: delay });
      setTimeout(() => {
        if (!stopped) restarters.get(kind)!().catch((e: Error) => logger.warn('watch restart failed', { kind, error: e.message }));
      }, delay);
    });
  }

  const hasListed = (kind: FleetKind, informer: ListWatch<V1Pod> | ListWatch<VoiceAgentPoolObject>) => {
    if (!everSynced.has(kind) && informer.latestResourceVersion() !== '') everSynced.add(kind);
    return everSynced.has(kind);
  };

  return {
    pods,
    pools,
    synced: () => hasListed('Pod', pods) && hasListed('VoiceAgentPool', pools),
    watchesUp: () => watchUp.get('Pod') === true && watchUp.get('VoiceAgentPool') === true,
    async start() {
      stopped = false;
      await Promise.all([restarters.get('Pod')!(), restarters.get('VoiceAgentPool')!()]);
    },
    async stop() {
      stopped = true;
      await Promise.all([pods.stop(), pools.stop()]);
    },
  };
}
