// make bench, operator part: 1,000 pods in 5 pools on the local control plane.
// Prints how long the operator takes to converge and to carry a pool change
// into Redis, and how many Kubernetes API requests it makes. Asserts nothing.
import { apply, kubectl, kubectlJson, waitFor } from '../tools/kubectl.js';
import { voiceAgentStatefulSet } from '../tools/manifests.js';
import { operatorBench } from './operator-bench.js';
import { runBench } from './bench-main.js';

const PODS = Number(process.env.BENCH_PODS ?? 1000);
const POOLS = 5;
const CHANGES = Number(process.env.BENCH_CHANGES ?? 20);
const per = PODS / POOLS;

const poolYaml = (i: number, replicas: number) => `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: pool-${i} }
spec: { tier: tier-${i}, capacity: 4, replicas: ${replicas}, priority: ${POOLS - i}, selector: { matchLabels: { app: bench-agent } } }
`;

const statefulSet = voiceAgentStatefulSet('bench-agent', PODS, { app: 'bench-agent' });

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] as number;

async function kubeRequests(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^smart_router_kube_requests_total\{verb="([^"]+)",resource="([^"]+)"\} (\d+)$/gm)) total += Number(m[3]);
  return total;
}

/** The operator's reconciles so far and the time they took, from its own histogram. */
async function reconcileStats(url: string): Promise<{ count: number; seconds: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? 0);
  return { count: value('smart_router_reconcile_duration_seconds_count'), seconds: value('smart_router_reconcile_duration_seconds_sum') };
}

async function kubeRequestsByKind(url: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return [...text.matchAll(/^smart_router_kube_requests_total\{verb="([^"]+)",resource="([^"]+)"\} (\d+)$/gm)].map((m) => `${m[1]} ${m[2]}: ${m[3]}`).join(', ');
}

async function main() {
  const bench = await operatorBench('bench', { appendonly: true });
  const { ns, store, url } = bench;
  try {
    console.log(`operator benchmark: ${PODS} pods in ${POOLS} pools, namespace ${ns}`);
    let t = Date.now();
    await apply(statefulSet, ns);
    await waitFor(`${PODS} Ready pods`, async () => {
      const sts = await kubectlJson<{ status: { readyReplicas?: number } }>(['get', 'statefulset', 'bench-agent'], ns);
      return (sts.status.readyReplicas ?? 0) === PODS;
    }, 600_000, 500);
    console.log(`   ${PODS} pods Running and Ready (kwok) in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    await bench.startOperator();
    const requestsBefore = await kubeRequests(url);
    const reconcilesBefore = await reconcileStats(url);

    // 1. Converge: from applying the pools to every pod labelled, in Redis and every pool Ready.
    t = Date.now();
    await apply(Array.from({ length: POOLS }, (_, i) => poolYaml(i, per)).join('---\n'), ns);
    await waitFor('converged', async () => {
      const members = await Promise.all(Array.from({ length: POOLS }, (_, i) => store.poolMembers(`pool-${i}`)));
      if (members.reduce((n, m) => n + m.length, 0) !== PODS) return false;
      const labelled = (await kubectl(['get', 'pods', '-l', 'smartrouter.io/pool', '-o', 'name'], { namespace: ns })).trim().split('\n').filter(Boolean).length;
      if (labelled !== PODS) return false;
      const pools = await kubectlJson<{ items: { status?: { conditions?: { type: string; status: string }[] } }[] }>(['get', 'vap'], ns);
      return pools.items.every((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    }, 300_000, 100);
    const convergeS = (Date.now() - t) / 1000;
    const convergeRequests = (await kubeRequests(url)) - requestsBefore;
    const reconciles = await reconcileStats(url);
    const runs = reconciles.count - reconcilesBefore.count;
    console.log('\n1. converge: pools applied -> all pods labelled, in Redis, status Ready');
    console.log(`   ${convergeS.toFixed(2)} s (target < 30 s); ${convergeRequests} Kubernetes API requests by the operator (${await kubeRequestsByKind(url)})`);
    console.log(`   ${runs} reconciles (events coalesced), ${(((reconciles.seconds - reconcilesBefore.seconds) / Math.max(1, runs)) * 1000).toFixed(0)} ms each on average, the label patches included`);

    // 2. A pool change reaching Redis: pool-0's replicas alternate between two sizes.
    const steady = await reconcileStats(url);
    const latencies: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const replicas = i % 2 === 0 ? per - 10 : per;
      const started = Date.now();
      await kubectl(['patch', 'vap', 'pool-0', '--type=merge', '-p', JSON.stringify({ spec: { replicas } })], { namespace: ns });
      await waitFor('change in redis', async () => (await store.poolMembers('pool-0')).length === replicas, 30_000, 5);
      latencies.push(Date.now() - started);
    }
    console.log(`\n2. pool change (kubectl patch replicas) -> Redis membership, over ${CHANGES} changes`);
    console.log(`   p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${Math.max(...latencies)} ms (target p99 < 1 s; includes kubectl's own start-up)`);
    const lists = (await (await fetch(`${url}/metrics`)).text()).match(/^smart_router_kube_requests_total\{verb="list",resource="pods"\} (\d+)$/m)?.[1];
    const after = await reconcileStats(url);
    const perRun = (a: { count: number; seconds: number }, b: { count: number; seconds: number }) => `${(((b.seconds - a.seconds) / Math.max(1, b.count - a.count)) * 1000).toFixed(1)} ms on average over ${b.count - a.count} runs`;
    console.log(`   a reconcile carrying one change (10 pods relabelled): ${perRun(steady, after)}`);
    // Nothing changes now: the periodic resyncs (every RESYNC_SECONDS, 5 by default) are all that run.
    await new Promise((r) => setTimeout(r, 16_000));
    console.log(`   an idle resync of ${PODS} pods (reads only): ${perRun(after, await reconcileStats(url))}`);
    console.log(`   pod lists during the whole run: ${lists} (one per informer start: no relists in steady state)`);
  } finally {
    await bench.teardown();
  }
}

runBench(main);
