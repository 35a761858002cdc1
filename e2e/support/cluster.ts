import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../core/paths.js';
import { KUBECONFIG, kubectl, kubectlJson } from '../../tools/kubectl.js';

export { apply, CLUSTER_DIR, KUBECONFIG, KUBECTL, KubectlError, kubectl, kubectlJson, requireCluster, waitFor } from '../../tools/kubectl.js';
export { voiceAgentStatefulSet } from '../../tools/manifests.js';

const run = promisify(execFile);

/** A namespace of the test's own, deleted afterwards. */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  await kubectl(['create', 'namespace', name]);
  return name;
}

export async function deleteNamespace(name: string): Promise<void> {
  await kubectl(['delete', 'namespace', name, '--wait=false', '--ignore-not-found']);
}

export function simulatePod(action: 'notready' | 'ready' | 'restart', pod: string, namespace: string, container?: string): Promise<string> {
  return run(join(packageRoot, 'hack', 'pod-sim.sh'), [action, pod, namespace, ...(container ? [container] : [])], { env: { ...process.env, KUBECONFIG } }).then((r) => r.stdout);
}

export interface PodSummary {
  name: string;
  node: string;
  ready: boolean;
  deleting: boolean;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  restarts: number;
  uid: string;
}

export async function listPods(namespace: string, selector?: string): Promise<PodSummary[]> {
  const list = await kubectlJson<{ items: any[] }>(['get', 'pods', ...(selector ? ['-l', selector] : [])], namespace); // eslint-disable-line @typescript-eslint/no-explicit-any
  return list.items.map((p) => ({
    name: p.metadata.name,
    node: p.spec.nodeName ?? '',
    ready: (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'),
    deleting: Boolean(p.metadata.deletionTimestamp),
    labels: p.metadata.labels ?? {},
    annotations: p.metadata.annotations ?? {},
    restarts: (p.status?.containerStatuses ?? []).reduce((n: number, c: { restartCount: number }) => n + c.restartCount, 0),
    uid: p.metadata.uid,
  }));
}

