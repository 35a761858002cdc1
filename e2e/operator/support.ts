import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { packageRoot } from '../../core/paths.js';
import { RoutingStore } from '../../lua/routing-store.js';
import { launchRedis, type LocalRedis } from '../../tools/local-redis.js';
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
  /** The test's own redis-server, when asked for (tests that flush it). */
  redisServer?: LocalRedis;
  store: RoutingStore;
  operators: RouterProcess[];
  startOperator(extraEnv?: Record<string, string>): Promise<RouterProcess>;
  teardown(): Promise<void>;
}

/**
 * A namespace, CRDs, a Redis key prefix and a way to start operator processes
 * against them. Timings are short so that failover and resync happen within a
 * test; waits poll with bounded timeouts and never assert on durations.
 */
export async function operatorEnv(name: string, options: { ownRedis?: boolean } = {}): Promise<OperatorEnv> {
  requireCluster();
  await kubectl(['apply', '-f', join(packageRoot, 'crds')]);
  await kubectl(['wait', '--for=condition=Established', 'crd/voiceagentpools.smartrouter.io', '--timeout=60s']);
  const namespace = await createNamespace(name);
  const prefix = `e2e-${randomUUID().slice(0, 8)}`;
  const redisServer = options.ownRedis ? await launchRedis({ appendonly: false }) : undefined;
  const redisUrl = redisServer?.url ?? testRedisUrl();
  const redis = redisServer ? new Redis(redisUrl, { maxRetriesPerRequest: 1, commandTimeout: 2000 }) : testRedisClient();
  const env: OperatorEnv = {
    namespace,
    prefix,
    redis,
    redisServer,
    store: new RoutingStore(redis, prefix),
    operators: [],
    async startOperator(extraEnv = {}) {
      const op = await startRouterProcess(['operator', '--kubeconfig', KUBECONFIG, '--namespace', namespace], {
        REDIS_URL: redisUrl,
        KEY_PREFIX: prefix,
        LEASE_DURATION_SECONDS: '4',
        RENEW_DEADLINE_SECONDS: '3',
        RETRY_PERIOD_SECONDS: '1',
        RESYNC_SECONDS: '2',
        STATUS_COUNTS_INTERVAL_SECONDS: '2',
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
      await redisServer?.destroy();
    },
  };
  return env;
}

/**
 * A StatefulSet of voice agents. Its pods also carry `e2e-namespace=<ns>`, so
 * `kubectl drain --pod-selector` can evict this test's pods only: other test
 * files share the cluster's nodes.
 */
export async function deployAgents(namespace: string, replicas: number, name = 'voice-agent', labels: Record<string, string> = { app: 'voice-agent' }): Promise<void> {
  await apply(voiceAgentStatefulSet(name, replicas, { ...labels, 'e2e-namespace': namespace }), namespace);
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

export const labelled = (labels: Record<string, string>, pool: string) =>
  Object.keys(labels)
    .filter((k) => labels[k] === pool)
    .sort();

/** The example fleet: examples/pools.yaml's pools and five voice agents for them to share. */
export async function deployExampleFleet(namespace: string): Promise<void> {
  await apply(examplePools(), namespace);
  await deployAgents(namespace, 5);
}

/** The example fleet as its pools split it: one pod for gold, three for standard (exclusive), one for basic. */
export const exampleFleetAssigned = (labels: Record<string, string>): boolean => {
  const counts = countBy(labels);
  return counts.gold === 1 && counts.standard === 3 && counts.basic === 1;
};

/** The example fleet with an operator that has assigned all of it; the pods' pool labels at that moment. */
export async function startExampleFleet(env: OperatorEnv, extraEnv?: Record<string, string>): Promise<{ op: RouterProcess; labels: Record<string, string> }> {
  await deployExampleFleet(env.namespace);
  const op = await env.startOperator(extraEnv);
  const labels = await waitForLabels(env.namespace, 'pools assigned', exampleFleetAssigned);
  return { op, labels };
}

export async function poolStatus(namespace: string, pool: string): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return (await kubectlJson<{ status?: Record<string, unknown> }>(['get', 'vap', pool], namespace)).status ?? {};
}

export const condition = (status: Record<string, any>, type: string) => (status.conditions ?? []).find((c: { type: string }) => c.type === type); // eslint-disable-line @typescript-eslint/no-explicit-any

/** Waits until the pool's status satisfies `ok`, and returns it. */
export async function waitForStatus(namespace: string, pool: string, what: string, ok: (status: Record<string, any>) => boolean, timeoutMs = 60_000): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return waitFor(`${pool} status: ${what}`, async () => {
    const s = await poolStatus(namespace, pool);
    return ok(s) ? s : undefined;
  }, timeoutMs);
}

export interface KubeEvent {
  reason: string;
  message: string;
  type: string;
  reportingComponent?: string;
}

export async function eventsFor(namespace: string, object: string): Promise<KubeEvent[]> {
  const list = await kubectlJson<{ items: (KubeEvent & { involvedObject: { name: string } })[] }>(['get', 'events'], namespace);
  return list.items.filter((e) => e.involvedObject.name === object).map((e) => ({ reason: e.reason, message: e.message, type: e.type, reportingComponent: e.reportingComponent }));
}

/** Waits for an Event with this reason on the object, and returns the matching ones. */
export async function waitForEvent(namespace: string, object: string, reason: string, message?: RegExp, timeoutMs = 30_000): Promise<KubeEvent[]> {
  return waitFor(`${reason} Event on ${object}${message ? ` matching ${message}` : ''}`, async () => {
    const found = (await eventsFor(namespace, object)).filter((e) => e.reason === reason && (!message || message.test(e.message)));
    return found.length ? found : undefined;
  }, timeoutMs);
}

/** 503 answers that say the router shed the request or gave up on it in time: nothing was taken, and a provider tries again. */
const SHED_ERRORS = new Set(['overloaded', 'deadline exceeded']);

/**
 * Calls the router as a provider does: a request shed under load (503 with
 * Retry-After, nothing taken) is sent again after the wait it names, a few
 * times. On a loaded test machine the router rightly sheds now and then; a
 * test about routing should not fail on it. Every other answer is returned.
 */
export async function api(op: RouterProcess, path: string, body?: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(op.url + path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer: { status: number; body: any } = { status: res.status, body: await res.json() }; // eslint-disable-line @typescript-eslint/no-explicit-any
    const retryAfter = Number(res.headers.get('retry-after'));
    if (res.status !== 503 || !SHED_ERRORS.has(answer.body?.error) || !retryAfter || attempt === 5) return answer;
    await new Promise((r) => setTimeout(r, retryAfter * 1000));
  }
}

/** One sample of a Prometheus metric from the process's /metrics (0 when absent). */
export async function metric(op: RouterProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${op.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{([^}]*)\})? ([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[3]);
  }
  return total;
}

/** Keeps a pod Terminating after it is deleted (as a long terminationGracePeriod would), until released. */
export async function holdPod(namespace: string, pod: string): Promise<void> {
  await kubectl(['patch', 'pod', pod, '--type=merge', '-p', '{"metadata":{"finalizers":["smartrouter.io/e2e-hold"]}}'], { namespace });
}

export async function releasePod(namespace: string, pod: string): Promise<void> {
  await kubectl(['patch', 'pod', pod, '--type=merge', '-p', '{"metadata":{"finalizers":null}}'], { namespace }).catch(() => undefined);
}

export { apply, kubectl, kubectlJson, listPods, waitFor };
