import { spawn } from 'node:child_process';
import { KUBECONFIG, KUBECTL, apply, kubectl } from '../support/cluster.js';

/**
 * A kwok node of the test's own, tainted so nothing else lands on it: a
 * `kubectl drain` of it touches this test's pods only.
 */
export async function createOwnNode(name: string): Promise<void> {
  await apply(`apiVersion: v1
kind: Node
metadata:
  name: ${name}
  annotations: { kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0" }
  labels: { kubernetes.io/hostname: ${name}, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok }
spec:
  taints: [{ key: smartrouter.io/e2e-node, value: ${name}, effect: NoSchedule }]
status:
  allocatable: { cpu: "64", memory: 256Gi, pods: "1000" }
  capacity: { cpu: "64", memory: 256Gi, pods: "1000" }
`);
  await kubectl(['wait', '--for=condition=Ready', `node/${name}`, '--timeout=60s']);
}

export async function deleteNode(name: string): Promise<void> {
  await kubectl(['delete', 'node', name, '--wait=false', '--ignore-not-found']).catch(() => undefined);
}

/** A workload of `replicas` pods pinned to `node` (StatefulSet: stable names, as voice agents often are). */
export function pinnedWorkload(kind: 'StatefulSet' | 'Deployment', name: string, replicas: number, node: string, labels: Record<string, string>): string {
  const labelYaml = Object.entries(labels).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ');
  return `apiVersion: apps/v1
kind: ${kind}
metadata: { name: ${name} }
spec:
  ${kind === 'StatefulSet' ? `serviceName: ${name}\n  podManagementPolicy: Parallel\n  ` : ''}replicas: ${replicas}
  selector: { matchLabels: { ${labelYaml} } }
  template:
    metadata: { labels: { ${labelYaml} } }
    spec:
      terminationGracePeriodSeconds: 0
      nodeSelector: { kubernetes.io/hostname: ${node} }
      tolerations: [{ key: smartrouter.io/e2e-node, operator: Exists, effect: NoSchedule }]
      containers:
        - name: agent
          image: voice-agent:test
`;
}

export interface DrainRun {
  output(): string;
  /** Resolves with kubectl's exit code. */
  done: Promise<number | null>;
  exitedAt(): number | undefined;
  kill(): void;
}

/** `kubectl drain NODE ...` running in the background, as an operator would type it. */
export function drainNode(node: string, extra: string[] = []): DrainRun {
  const child = spawn(KUBECTL, ['drain', node, '--ignore-daemonsets', ...extra], { env: { ...process.env, KUBECONFIG }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let exitedAt: number | undefined;
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const done = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exitedAt = Date.now();
      resolve(code);
    }),
  );
  return { output: () => output, done, exitedAt: () => exitedAt, kill: () => child.kill('SIGKILL') };
}

/** An eviction as the API server answers it, through the real kubectl: '' when allowed, else kubectl's error. */
export async function evict(namespace: string, pod: string, options: { dryRun?: boolean } = {}): Promise<string> {
  const body = JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace } });
  const path = `/api/v1/namespaces/${namespace}/pods/${pod}/eviction${options.dryRun ? '?dryRun=All' : ''}`;
  try {
    await kubectl(['create', '--raw', path, '-f', '-'], { input: body });
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}
