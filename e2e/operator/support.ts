import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { packageRoot } from '../../core/paths.js';
import { RoutingStore } from '../../lua/routing-store.js';
import { startRouterProcess, type RouterProcess } from '../../test/support/router-process.js';
import { testRedisClient, testRedisUrl } from '../../test/support/routing.js';
import { apply, createNamespace, deleteNamespace, KUBECONFIG, kubectl, kubectlJson, listPods, requireCluster, voiceAgentStatefulSet, waitFor } from '../support/cluster.js';

/** The VoiceAgentPool documents of examples/pools.yaml (its Pod documents are for standalone mode). */
export function examplePools(): string {
  return readFileSync(join(packageRoot, 'examples', 'pools.yaml'), 'utf8')
    .split(/^---$/m)
    .filter((doc) => /kind: VoiceAgentPool/.test(doc))
    .join('\n---\n');
}

export interface OperatorEnv {
  namespace: string;
  prefix: string;
  redis: Redis;
  store: RoutingStore;
  operators: RouterProcess[];
  startOperator(extraEnv?: Record<string, string>): Promise<RouterProcess>;
  teardown(): Promise<void>;
}

/** A namespace, CRDs, a Redis key prefix and a way to start operator processes against them. */
export async function operatorEnv(name: string): Promise<OperatorEnv> {
  requireCluster();
  await kubectl(['apply', '-f', join(packageRoot, 'crds')]);
  await kubectl(['wait', '--for=condition=Established', 'crd/voiceagentpools.smartrouter.io', '--timeout=60s']);
  const namespace = await createNamespace(name);
  const prefix = `e2e-${randomUUID().slice(0, 8)}`;
  const redis = testRedisClient();
  const env: OperatorEnv = {
    namespace,
    prefix,
    redis,
    store: new RoutingStore(redis, prefix),
    operators: [],
    async startOperator(extraEnv = {}) {
      const op = await startRouterProcess(['operator', '--kubeconfig', KUBECONFIG, '--namespace', namespace], {
        REDIS_URL: testRedisUrl(),
        KEY_PREFIX: prefix,
        LEASE_DURATION_SECONDS: '4',
        RENEW_DEADLINE_SECONDS: '3',
        RETRY_PERIOD_SECONDS: '1',
        RESYNC_SECONDS: '2',
        REAP_INTERVAL_SECONDS: '1',
        LOG_LEVEL: 'info',
        ...extraEnv,
      });
      env.operators.push(op);
      return op;
    },
    async teardown() {
      await Promise.all(env.operators.map((op) => op.stop('SIGKILL')));
      await deleteNamespace(namespace);
      await redis.quit();
    },
  };
  return env;
}

export async function deployAgents(namespace: string, replicas: number, name = 'voice-agent', labels?: Record<string, string>): Promise<void> {
  await apply(voiceAgentStatefulSet(name, replicas, labels), namespace);
}

/** Pod name -> its smartrouter.io/pool label ('' when none), once the condition holds. */
export async function waitForLabels(namespace: string, what: string, ok: (labels: Record<string, string>) => boolean, timeoutMs = 60_000): Promise<Record<string, string>> {
  return waitFor(
    what,
    async () => {
      const pods = await listPods(namespace);
      const labels = Object.fromEntries(pods.filter((p) => !p.deleting).map((p) => [p.name, p.labels['smartrouter.io/pool'] ?? '']));
      return ok(labels) ? labels : undefined;
    },
    timeoutMs,
  );
}

export const countBy = (labels: Record<string, string>) =>
  Object.values(labels).reduce<Record<string, number>>((acc, pool) => ({ ...acc, [pool]: (acc[pool] ?? 0) + 1 }), {});

export async function poolStatus(namespace: string, pool: string): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return (await kubectlJson<{ status?: Record<string, unknown> }>(['get', 'vap', pool], namespace)).status ?? {};
}

export async function eventsFor(namespace: string, object: string): Promise<{ reason: string; message: string }[]> {
  const list = await kubectlJson<{ items: { involvedObject: { name: string }; reason: string; message: string }[] }>(['get', 'events'], namespace);
  return list.items.filter((e) => e.involvedObject.name === object).map((e) => ({ reason: e.reason, message: e.message }));
}

export async function api(op: RouterProcess, path: string, body?: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(op.url + path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

export { apply, kubectl, kubectlJson, listPods, waitFor };
