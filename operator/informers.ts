import { CoreV1Api, CustomObjectsApi, KubeConfig, makeInformer, type Informer, type KubernetesListObject, type KubernetesObject, type ObjectCache, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../core/logger.js';
import { POOL_API_GROUP, POOL_API_VERSION, POOL_PLURAL } from '../core/pool-types.js';
import type { VoiceAgentPoolObject } from './fleet-reconciler.js';
import type { KubeRequestCounter } from './kube-metrics.js';

export interface FleetInformers {
  pods: Informer<V1Pod> & ObjectCache<V1Pod>;
  pools: Informer<VoiceAgentPoolObject> & ObjectCache<VoiceAgentPoolObject>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * List+watch of the namespace's pods and VoiceAgentPools. A watch that ends
 * or expires is restarted from a fresh list after a short pause; nothing polls.
 */
export function fleetInformers(kc: KubeConfig, namespace: string, logger: Logger, onChange: (kind: string, verb: string, obj: KubernetesObject) => void, count: KubeRequestCounter): FleetInformers {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const pods = makeInformer<V1Pod>(kc, `/api/v1/namespaces/${namespace}/pods`, () => {
    count('list', 'pods');
    return core.listNamespacedPod({ namespace });
  });
  const pools = makeInformer<VoiceAgentPoolObject>(
    kc,
    `/apis/${POOL_API_GROUP}/${POOL_API_VERSION}/namespaces/${namespace}/${POOL_PLURAL}`,
    () => {
      count('list', POOL_PLURAL);
      return custom.listNamespacedCustomObject({ group: POOL_API_GROUP, version: POOL_API_VERSION, namespace, plural: POOL_PLURAL }) as Promise<KubernetesListObject<VoiceAgentPoolObject>>;
    },
  );
  let stopped = false;
  for (const [kind, informer] of [
    ['Pod', pods],
    ['VoiceAgentPool', pools],
  ] as const) {
    for (const verb of ['add', 'update', 'delete'] as const) {
      (informer as Informer<KubernetesObject>).on(verb, (obj) => onChange(kind, verb, obj));
    }
    informer.on('error', (err: unknown) => {
      if (stopped) return;
      logger.warn('watch ended; restarting', { kind, error: (err as Error)?.message ?? String(err) });
      setTimeout(() => {
        if (!stopped) informer.start().catch((e: Error) => logger.warn('watch restart failed', { kind, error: e.message }));
      }, 1000);
    });
  }
  return {
    pods,
    pools,
    async start() {
      await Promise.all([pods.start(), pools.start()]);
    },
    async stop() {
      stopped = true;
      await Promise.all([pods.stop(), pools.stop()]);
    },
  };
}
