// The real kubectl against the cluster hack/cluster-up.sh started, for e2e
// tests and benchmarks alike.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../core/paths.js';

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

