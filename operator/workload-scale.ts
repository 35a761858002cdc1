import { PatchStrategy, setHeaderOptions, type V1Deployment, type V1StatefulSet } from '@kubernetes/client-node';
import { POOL_API_GROUP, POOL_API_VERSION, POOL_PLURAL, type LabelSelector, type WorkloadRef } from '../core/pool-types.js';
import { statusCode, type KubeClients } from './kube-client.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface Workload {
  ref: WorkloadRef;
  replicas: number;
  selector: LabelSelector;
  /** The controller has caught up with the spec and no rollout is under way: a scale-down now removes what it ranks. */
  settled: boolean;
}

export const describeWorkload = (ref: WorkloadRef) => `${ref.kind}/${ref.name}`;

/**
 * A rollout keeps old and new pods side by side (two ReplicaSets, or a
 * StatefulSet's revisions): which pod a scale-down removes is then the
 * rollout's choice, not the ranking the pick follows. Scale-downs wait it out.
 */
function settled(obj: V1Deployment | V1StatefulSet): boolean {
  const spec = obj.spec?.replicas ?? 1;
  const status = obj.status;
  if ((status?.observedGeneration ?? 0) < (obj.metadata?.generation ?? 0)) return false;
  return (status?.replicas ?? 0) === spec && (status?.updatedReplicas ?? 0) === spec;
}

/** Reads the workload live (a scale-down must never act on a stale size); undefined when it does not exist. */
export async function readWorkload(clients: KubeClients, namespace: string, ref: WorkloadRef): Promise<Workload | undefined> {
  try {
    const obj = ref.kind === 'Deployment' ? await clients.apps.readNamespacedDeployment({ name: ref.name, namespace }) : await clients.apps.readNamespacedStatefulSet({ name: ref.name, namespace });
    return { ref, replicas: obj.spec?.replicas ?? 1, selector: (obj.spec?.selector ?? {}) as LabelSelector, settled: settled(obj) };
  } catch (err) {
    if (statusCode(err) === 404) return undefined;
    throw err;
  }
}

/** Sets the workload's replicas through its scale subresource, as an HPA would. */
export async function scaleWorkload(clients: KubeClients, namespace: string, ref: WorkloadRef, replicas: number): Promise<void> {
  const param = { name: ref.name, namespace, body: { spec: { replicas } } };
  if (ref.kind === 'Deployment') await clients.apps.patchNamespacedDeploymentScale(param, mergePatch);
  else await clients.apps.patchNamespacedStatefulSetScale(param, mergePatch);
}

/** Sets the pool's spec.replicas through its own scale subresource. */
export async function scalePool(clients: KubeClients, namespace: string, pool: string, replicas: number): Promise<void> {
  await clients.custom.patchNamespacedCustomObjectScale({ group: POOL_API_GROUP, version: POOL_API_VERSION, namespace, plural: POOL_PLURAL, name: pool, body: { spec: { replicas } } }, mergePatch);
}
