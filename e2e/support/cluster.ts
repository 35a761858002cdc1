import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../core/paths.js';

const run = promisify(execFile);

export const CLUSTER_DIR = join(packageRoot, '.cluster');
export const KUBECONFIG = process.env.SMART_ROUTER_KUBECONFIG ?? join(CLUSTER_DIR, 'kubeconfig');
export const KUBECTL = join(CLUSTER_DIR, 'bin', 'kubectl');

/** Fails loudly when no cluster is up: an e2e test never passes without one. */
export function requireCluster(): void {
  if (!existsSync(KUBECONFIG) || !existsSync(KUBECTL)) {
    throw new Error(`no cluster: ${KUBECONFIG} or ${KUBECTL} is missing. Start one with "make cluster-up" (make test does).`);
  }
}

export class KubectlError extends Error {
  constructor(
    readonly args: string[],
    readonly stderr: string,
    readonly code: number | null,
  ) {
    super(`kubectl ${args.join(' ')} failed (${code}): ${stderr.trim()}`);
  }
}

/** Runs the real kubectl against the test cluster, as a person would. */
export async function kubectl(args: string[], options: { input?: string; namespace?: string } = {}): Promise<string> {
  requireCluster();
  const full = [...(options.namespace ? ['-n', options.namespace] : []), ...args];
  const child = run(KUBECTL, full, { env: { ...process.env, KUBECONFIG }, maxBuffer: 64 * 1024 * 1024 });
  if (options.input !== undefined) {
    child.child.stdin?.end(options.input);
  }
  try {
    return (await child).stdout;
  } catch (err) {
    const e = err as { stderr?: string; code?: number | null };
    throw new KubectlError(full, e.stderr ?? String(err), e.code ?? null);
  }
}

export async function kubectlJson<T = any>(args: string[], namespace?: string): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return JSON.parse(await kubectl([...args, '-o', 'json'], { namespace })) as T;
}

export async function apply(manifest: string, namespace?: string): Promise<string> {
  return kubectl(['apply', '-f', '-'], { input: manifest, namespace });
}

/** Polls until `probe` returns a truthy value, or fails with what it saw last. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err instanceof Error ? err.message : err;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A namespace of the test's own, deleted afterwards. */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  await kubectl(['create', 'namespace', name]);
  return name;
}

export async function deleteNamespace(name: string): Promise<void> {
  await kubectl(['delete', 'namespace', name, '--wait=false', '--ignore-not-found']);
}

export function simulatePod(action: 'notready' | 'ready' | 'restart', pod: string, namespace: string): Promise<string> {
  return run(join(packageRoot, 'hack', 'pod-sim.sh'), [action, pod, namespace], { env: { ...process.env, KUBECONFIG } }).then((r) => r.stdout);
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

/** A StatefulSet of voice-agent pods with its headless Service. kwok runs no image. */
export function voiceAgentStatefulSet(name: string, replicas: number, labels: Record<string, string> = { app: 'voice-agent' }): string {
  const labelYaml = Object.entries(labels).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ');
  return `apiVersion: v1
kind: Service
metadata: { name: ${name} }
spec:
  clusterIP: None
  selector: { ${labelYaml} }
  ports: [{ name: ws, port: 8080 }]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: ${name} }
spec:
  serviceName: ${name}
  replicas: ${replicas}
  podManagementPolicy: Parallel
  selector: { matchLabels: { ${labelYaml} } }
  template:
    metadata: { labels: { ${labelYaml} } }
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - name: agent
          image: voice-agent:test
          ports: [{ containerPort: 8080, name: ws }]
`;
}
