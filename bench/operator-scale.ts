// make bench, operator at scale: SCALE_PODS pods (10,000 by default) in 5
// pools on the local control plane. Prints, each next to a baseline measured
// in the same run:
//   1. converge: pools applied -> every pod labelled and in Redis, every pool
//      Ready; baseline: the same pods becoming Ready, as a plain watch sees it;
//   2. the operator's memory at that size (RSS and V8 heap);
//   3. change latency with all pods settled, while SCALE_CHANGE_RATE pods a
//      second (100) flip readiness or are deleted: API server -> Redis, p50/p99;
//      baseline: the same changes reaching a bare informer (watch) in this process;
//   4. the converge's floor: the same label patch on every pod from a bare
//      client, as many in flight as the operator, the operator stopped.
// Asserts nothing. Each kwok node holds 1,000 pods: the nodes it lacks are
// added, and removed again at the end.
import { execFileSync, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig, makeInformer, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { packageRoot } from '../core/paths.js';
import { POOL_LABEL } from '../core/pool-types.js';
import { RoutingStore } from '../lua/routing-store.js';
import { kubeClients } from '../operator/kube-client.js';
import { forEachLimited } from '../operator/limited-concurrency.js';
import { OperatorMetrics } from '../operator/operator-metrics.js';
import { POD_PATCHES_IN_FLIGHT } from '../operator/pod-metadata-writer.js';
import { freePort, launchRedis } from '../tools/local-redis.js';
import { apply, KUBECONFIG, kubectl, kubectlJson, requireCluster, waitFor } from '../tools/kubectl.js';
import { voiceAgentStatefulSet } from '../tools/manifests.js';
import { runBench } from './bench-main.js';

const PODS = Number(process.env.SCALE_PODS ?? 10_000);
const POOLS = 5;
const RATE = Number(process.env.SCALE_CHANGE_RATE ?? 100);
const CHURN_SECONDS = Number(process.env.SCALE_CHURN_SECONDS ?? 20);
/** Of each second's changes, this share are deletions (the StatefulSet brings the pod back); the rest readiness flips. */
const DELETE_SHARE = 0.1;
const PODS_PER_NODE = 1000;
const strategicPatch = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const FLOOR_LABEL = 'bench.smartrouter.io/floor';
const per = Math.floor(PODS / POOLS);

const percentile = (xs: number[], p: number) => (xs.length ? ([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] as number) : NaN);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isReady = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

const statefulSet = (i: number) => voiceAgentStatefulSet(`agent-${i}`, per, { app: 'scale-agent', group: `g${i}` });

const poolYaml = (i: number) => `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: pool-${i} }
spec: { tier: tier-${i}, capacity: 4, replicas: ${per}, priority: ${POOLS - i}, selector: { matchLabels: { group: g${i} } } }
`;

/** One sample of the operator's metrics; `labels` picks a series ('effect="ignored"'), else the first one. */
async function metric(url: string, name: string, labels?: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const series = labels === undefined ? '(?:\\{[^}]*\\})?' : `\\{${labels}\\}`;
  return Number(new RegExp(`^${name}${series} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? 0);
}

/** Adds the kwok nodes `pods` need (and one spare); returns the names it added. */
async function ensureNodes(pods: number): Promise<string[]> {
  const wanted = Math.ceil(pods / PODS_PER_NODE) + 1;
  const have = new Set((await kubectl(['get', 'nodes', '-o', 'name'])).trim().split('\n').map((n) => n.replace('node/', '')));
  if (have.size >= wanted) return [];
  const list = execFileSync(join(packageRoot, 'hack/cluster/kwok-nodes.sh'), [String(wanted)], { encoding: 'utf8' });
  await apply(list);
  await kubectl(['wait', '--for=condition=Ready', 'node', '--all', '--timeout=120s']);
  return Array.from({ length: wanted }, (_, i) => `kwok-node-${i}`).filter((n) => !have.has(n));
}

async function main() {
  requireCluster();
  const ns = `scale-${Math.random().toString(36).slice(2, 7)}`;
  const added = await ensureNodes(PODS);
  const redisServer = await launchRedis({ appendonly: false });
  const redis = new Redis(redisServer.url);
  const store = new RoutingStore(redis, 'scale');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const kc = new KubeConfig();
  kc.loadFromFile(KUBECONFIG);
  const clients = kubeClients(kc, new OperatorMetrics(new Registry()), 30_000);
  let operator: ReturnType<typeof spawn> | undefined;
  // A bare informer: what the API server tells any watcher, and when.
  const informer = makeInformer<V1Pod>(kc, `/api/v1/namespaces/${ns}/pods`, () => clients.core.listNamespacedPod({ namespace: ns }));
  const seen = new Map<string, (pod: V1Pod | undefined) => boolean>();
  const seenAt = new Map<string, number>();
  const onPod = (pod: V1Pod | undefined, name: string) => {
    const test = seen.get(name);
    if (test?.(pod)) {
      seenAt.set(name, performance.now());
      seen.delete(name);
    }
  };
  informer.on('add', (p) => onPod(p, p.metadata!.name!));
  informer.on('update', (p) => onPod(p, p.metadata!.name!));
  informer.on('delete', (p) => onPod(undefined, p.metadata!.name!));
  try {
    await kubectl(['apply', '-f', join(packageRoot, 'crds')]);
    await kubectl(['wait', '--for=condition=Established', 'crd/voiceagentpools.smartrouter.io', '--timeout=60s']);
    await kubectl(['create', 'namespace', ns]);
    await informer.start();
    const nodes = (await kubectl(['get', 'nodes', '-o', 'name'])).trim().split('\n').length;
    console.log(`operator at scale: ${POOLS * per} pods in ${POOLS} pools, ${nodes} nodes (${added.length} added for this run), namespace ${ns}`);

    // Baseline 1: the pods Ready, as a plain watch sees them.
    let t = performance.now();
    await apply(Array.from({ length: POOLS }, (_, i) => statefulSet(i)).join('---\n'), ns);
    await waitFor(`${POOLS * per} Ready pods`, async () => informer.list(ns).filter(isReady).length === POOLS * per, 1_800_000, 500);
    const readyS = (performance.now() - t) / 1000;

    // SCALE_OPERATOR_LOG=<file>: the operator's warnings and errors there, to see why a run was slow.
    const logFile = process.env.SCALE_OPERATOR_LOG ? openSync(process.env.SCALE_OPERATOR_LOG, 'w') : undefined;
    // SCALE_OPERATOR_PROFILE=<dir>: a CPU profile of the operator there, written as it exits.
    const profile = process.env.SCALE_OPERATOR_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SCALE_OPERATOR_PROFILE}`] : [];
    operator = spawn(process.execPath, [...profile, join(packageRoot, 'dist/cli/main.js'), 'operator', '--kubeconfig', KUBECONFIG, '--namespace', ns, '--port', String(port)], {
      env: { ...process.env, HOST: '127.0.0.1', REDIS_URL: redisServer.url, KEY_PREFIX: 'scale', LOG_LEVEL: logFile === undefined ? 'error' : (process.env.SCALE_OPERATOR_LOG_LEVEL ?? 'warn') },
      stdio: ['ignore', logFile ?? 'ignore', logFile ?? 'inherit'],
    });
    await waitFor('operator leading', async () => ((await (await fetch(`${url}/api/v1/status`)).json()) as { is_leader: boolean }).is_leader, 120_000, 100);
    const idleRss = await metric(url, 'smart_router_process_resident_memory_bytes');

    // 1. Converge.
    t = performance.now();
    await apply(Array.from({ length: POOLS }, (_, i) => poolYaml(i)).join('---\n'), ns);
    let inRedisS = 0;
    await waitFor('converged', async () => {
      if (!inRedisS) {
        const members = await Promise.all(Array.from({ length: POOLS }, (_, i) => redis.scard(store.keys.poolMembers(`pool-${i}`))));
        if (members.reduce((n, m) => n + m, 0) !== POOLS * per) return false;
        inRedisS = (performance.now() - t) / 1000;
      }
      if (informer.list(ns).filter((p) => p.metadata?.labels?.[POOL_LABEL]).length !== POOLS * per) return false;
      const pools = await kubectlJson<{ items: { status?: { conditions?: { type: string; status: string }[] } }[] }>(['get', 'vap'], ns);
      return pools.items.every((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    }, 1_800_000, 200);
    const convergeS = (performance.now() - t) / 1000;
    const reconciles = await metric(url, 'smart_router_reconcile_duration_seconds_count');
    const reconcileSeconds = await metric(url, 'smart_router_reconcile_duration_seconds_sum');
    console.log('\n1. converge: pools applied -> every pod in Redis, labelled, every pool Ready');
    console.log(`   baseline: ${POOLS * per} pods applied -> all Ready (plain watch): ${readyS.toFixed(1)} s`);
    console.log(`   every pod in Redis: ${inRedisS.toFixed(1)} s; labelled and pools Ready: ${convergeS.toFixed(1)} s (target < 60 s); ${reconciles} reconciles, ${((reconcileSeconds / reconciles) * 1000).toFixed(0)} ms each on average`);
    console.log(`   pod watch events: ${await metric(url, 'smart_router_pod_events_total', 'news="change"')} changes, ${await metric(url, 'smart_router_pod_events_total', 'news="none"')} no news (echoes of the operator's own patches, changes of nothing it reads)`);

    // 2. Memory at this size, once settled.
    await sleep(5_000);
    const rss = await metric(url, 'smart_router_process_resident_memory_bytes');
    const heap = await metric(url, 'smart_router_nodejs_heap_size_used_bytes');
    console.log(`\n2. operator memory at ${POOLS * per} pods: RSS ${mib(rss)}, V8 heap used ${mib(heap)} (baseline: RSS ${mib(idleRss)} leading an empty namespace)`);

    // 3. Changes under churn: each second RATE pods flip readiness or are deleted.
    const names = informer.list(ns).map((p) => p.metadata!.name!);
    const toRedis: { kind: 'flip' | 'delete'; ms: number; pod: string; at: number }[] = [];
    const toWatch: number[] = [];
    const pending = new Map<string, { kind: 'flip' | 'delete'; at: number; done: (fields: (string | null)[]) => boolean }>();
    let poller = true;
    const poll = (async () => {
      while (poller) {
        const batch = [...pending.entries()];
        if (batch.length) {
          const pipeline = redis.pipeline();
          for (const [pod] of batch) pipeline.hmget(store.keys.pod(pod), 'ready', 'incarnation', 'pool');
          const replies = (await pipeline.exec()) ?? [];
          const now = performance.now();
          batch.forEach(([pod, change], i) => {
            if (change.done(replies[i]?.[1] as (string | null)[])) {
              toRedis.push({ kind: change.kind, ms: now - change.at, pod, at: change.at });
              pending.delete(pod);
            }
          });
        }
        await sleep(10);
      }
    })();
    const reconcilesBefore = await metric(url, 'smart_router_reconcile_duration_seconds_count');
    const runsBefore = { fleet: await metric(url, 'smart_router_reconcile_runs_total', 'scope="fleet"'), pod: await metric(url, 'smart_router_reconcile_runs_total', 'scope="pod"') };
    const secondsBefore = await metric(url, 'smart_router_reconcile_duration_seconds_sum');
    let cursor = 0;
    const busy = new Set<string>();
    const started = performance.now();
    for (let second = 0; second < CHURN_SECONDS; second++) {
      const tick = performance.now();
      const work: Promise<void>[] = [];
      for (let c = 0; c < RATE; c++) {
        let name = names[cursor++ % names.length] as string;
        while (busy.has(name)) name = names[cursor++ % names.length] as string;
        const pod = informer.get(name, ns);
        if (!pod || !isReady(pod)) continue;
        busy.add(name);
        const kind = c < RATE * DELETE_SHARE ? 'delete' : 'flip';
        const incarnation = `${pod.metadata!.uid}:`;
        work.push(
          (async () => {
            if (kind === 'delete') {
              seen.set(name, (p) => !p || p.metadata?.uid !== pod.metadata!.uid);
              await clients.core.deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds: 0 });
            } else {
              seen.set(name, (p) => Boolean(p) && !isReady(p!));
              await clients.core.patchNamespacedPodStatus({ name, namespace: ns, body: { status: { conditions: [{ type: 'Ready', status: 'False' }] } } }, strategicPatch);
            }
            const at = performance.now();
            const watchedAt = seenAt.get(name);
            if (watchedAt !== undefined) toWatch.push(Math.max(0, watchedAt - at));
            else
              void waitFor('watch', async () => seenAt.has(name), 30_000, 5).then(() => toWatch.push(seenAt.get(name)! - at), () => undefined);
            pending.set(name, {
              kind,
              at,
              // Deleted: out of its pool, or back under a new incarnation. Flipped: not Ready in Redis.
              done: ([ready, inc, pool]) => (kind === 'delete' ? !pool || !(inc ?? '').startsWith(incarnation) : ready === '0'),
            });
          })().catch((err: Error) => console.error(`   change of ${name} failed: ${err.message}`)),
        );
      }
      await Promise.all(work);
      const rest = 1000 - (performance.now() - tick);
      if (rest > 0) await sleep(rest);
    }
    const churnS = (performance.now() - started) / 1000;
    await waitFor('every change in Redis', async () => pending.size === 0, 60_000, 50).catch(() => undefined);
    poller = false;
    await poll;
    const flips = toRedis.filter((c) => c.kind === 'flip').map((c) => c.ms);
    const deletes = toRedis.filter((c) => c.kind === 'delete').map((c) => c.ms);
    const all = toRedis.map((c) => c.ms);
    const runs = (await metric(url, 'smart_router_reconcile_duration_seconds_count')) - reconcilesBefore;
    const runSeconds = (await metric(url, 'smart_router_reconcile_duration_seconds_sum')) - secondsBefore;
    console.log(`\n3. change -> Redis with ${POOLS * per} pods settled, ${(toRedis.length / churnS).toFixed(0)} changes/s for ${churnS.toFixed(0)} s (${flips.length} readiness flips, ${deletes.length} deletions, ${pending.size} never seen)`);
    console.log(`   baseline: API server -> bare informer: p50 ${percentile(toWatch, 50).toFixed(0)} ms, p99 ${percentile(toWatch, 99).toFixed(0)} ms`);
    console.log(`   API server -> Redis (operator): p50 ${percentile(all, 50).toFixed(0)} ms, p99 ${percentile(all, 99).toFixed(0)} ms (target p99 < 1 s); flips p99 ${percentile(flips, 99).toFixed(0)} ms, deletions p99 ${percentile(deletes, 99).toFixed(0)} ms`);
    if (logFile !== undefined) {
      // To find them in the operator's log (SCALE_OPERATOR_LOG_LEVEL=info logs each pod's write).
      const wall = (at: number) => new Date(performance.timeOrigin + at).toISOString();
      for (const c of [...toRedis].sort((x, y) => y.ms - x.ms).slice(0, 5)) console.log(`   slow: ${c.kind} ${c.pod} at ${wall(c.at)}: ${c.ms.toFixed(0)} ms`);
    }
    const fleetRuns = (await metric(url, 'smart_router_reconcile_runs_total', 'scope="fleet"')) - runsBefore.fleet;
    const podRuns = (await metric(url, 'smart_router_reconcile_runs_total', 'scope="pod"')) - runsBefore.pod;
    console.log(`   ${runs} reconciles meanwhile, ${((runSeconds / Math.max(1, runs)) * 1000).toFixed(0)} ms each on average: ${fleetRuns} planned the fleet, ${podRuns} wrote single pods' news alone`);
    console.log(`   operator memory after the churn: RSS ${mib(await metric(url, 'smart_router_process_resident_memory_bytes'))}, V8 heap used ${mib(await metric(url, 'smart_router_nodejs_heap_size_used_bytes'))}`);

    // 4. What bounds the converge: the API server taking one label patch per pod. The same patches from a
    // bare client, as many in flight as the operator sends, with the operator stopped.
    const exited = new Promise((r) => operator!.once('exit', r));
    operator.kill('SIGTERM');
    await exited;
    // The StatefulSets bring the last deleted pods back first.
    await waitFor(`${POOLS * per} pods again`, async () => informer.list(ns).length === POOLS * per, 300_000, 500);
    const pods = informer.list(ns).map((p) => p.metadata!.name!);
    const patched = new Set<string>();
    t = performance.now();
    await forEachLimited(pods, POD_PATCHES_IN_FLIGHT, async (name) => {
      await clients.core.patchNamespacedPod({ name, namespace: ns, body: { metadata: { labels: { [FLOOR_LABEL]: 'patched' } } } }, mergePatch);
      patched.add(name);
    });
    await waitFor('every floor label seen', async () => [...patched].every((name) => informer.get(name, ns)?.metadata?.labels?.[FLOOR_LABEL]), 600_000, 200);
    const floorS = (performance.now() - t) / 1000;
    console.log(`\n4. the API server's floor for the converge: ${patched.size} label patches from a bare client, ${POD_PATCHES_IN_FLIGHT} in flight, seen by the watch: ${floorS.toFixed(1)} s; the operator's converge took ${(convergeS / floorS).toFixed(2)}x that`);
  } finally {
    operator?.kill('SIGTERM');
    await informer.stop().catch(() => undefined);
    await kubectl(['delete', 'namespace', ns, '--timeout=600s']).catch(() => undefined);
    if (added.length) await kubectl(['delete', 'node', ...added, '--timeout=120s']).catch(() => undefined);
    await redis.quit();
    await redisServer.destroy();
  }
}

runBench(main, { exitWhenDone: true });
