// make bench, autoscaling part: a load generator sends calls to an exclusive
// pool with a buffer of 5 free slots on a Deployment, on the local control
// plane (the controller-manager's Deployment and ReplicaSet controllers remove
// the pods, kwok runs them). Calls arrive at random (Poisson) at a rate that
// swells from 0 to BENCH_AUTOSCALE_RATE and back over BENCH_AUTOSCALE_PERIOD
// seconds and last an exponential time of mean BENCH_AUTOSCALE_HOLD seconds,
// as telephony traffic does: the fleet grows and shrinks with the swell, and
// every lull of a few calls is a scale-down. Prints the time from a buffer
// breach to the workload's scale patch (next to a kubectl scale seen through
// the same watch, the baseline), the time a new pod takes to serve, the
// allocations refused while under max, and checks every pod deletion against
// Redis and the generator's own calls. Asserts nothing; a pod deleted with a
// call is printed as a violation.
import { KubeConfig, Watch, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { apply, KUBECONFIG, kubectl, waitFor } from '../tools/kubectl.js';
import { operatorBench } from './operator-bench.js';
import { runBench } from './bench-main.js';

const SECONDS = Number(process.env.BENCH_AUTOSCALE_SECONDS ?? 420);
/** Peak arrivals per second: the fastest the calls can rise. */
const RATE = Number(process.env.BENCH_AUTOSCALE_RATE ?? 1);
/** Mean call duration: about RATE x HOLD calls at the peak. */
const HOLD_S = Number(process.env.BENCH_AUTOSCALE_HOLD ?? 8);
const PERIOD_S = Number(process.env.BENCH_AUTOSCALE_PERIOD ?? 70);
const BUFFER = 5;
const MAX = 40;
const INTERVAL_MS = 250;
const TICK_MS = 100;

/** A seeded generator (mulberry32): every run sends the same calls at the same offsets. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const percentile = (xs: number[], p: number) => (xs.length ? ([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] as number) : NaN);

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: { name: bench-agent }
spec:
  replicas: 2
  selector: { matchLabels: { app: bench-agent } }
  template:
    metadata: { labels: { app: bench-agent } }
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{ name: agent, image: voice-agent:bench }]
`;
const pool = `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: standard }
spec:
  tier: standard
  exclusive: true
  replicas: 2
  selector: { matchLabels: { app: bench-agent } }
  autoscaling: { workloadRef: { kind: Deployment, name: bench-agent }, bufferSlots: ${BUFFER}, minReplicas: 2, maxReplicas: ${MAX}, scaleDownDelaySeconds: 1 }
`;

async function metricSum(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^([a-z_]+)(?:\{([^}]*)\})? ([0-9.e+-]+)$/gm)) {
    if (m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[3]);
  }
  return total;
}

async function main() {
  const bench = await operatorBench('bench-as', { appendonly: false });
  const { ns, store, url } = bench;
  const kc = new KubeConfig();
  kc.loadFromFile(KUBECONFIG);
  const watch = new Watch(kc);
  const aborts: AbortController[] = [];

  // The generator's own view: call -> pod, and the pods holding calls.
  const calls = new Map<string, string>();
  const deletions: { pod: string; atMs: number; heldByGenerator: number; inRedis: number }[] = [];
  const seenDeleting = new Set<string>();
  let replicas = 2;
  let breachAtMs: number | undefined;
  const breachToPatch: number[] = [];
  let expectPatchFromKubectl: { atMs: number; to: number } | undefined;
  const kubectlToWatch: number[] = [];
  // A new pod's start: from the scale patch that asked for it to Ready in the pool (what the operator routes to).
  const growthPatchesMs: number[] = [];
  const podAddedMs = new Map<string, number>();
  const podStartMs: number[] = [];
  let measuring = false;

  try {
    console.log(`autoscaling benchmark: exclusive pool, buffer ${BUFFER}, max ${MAX}, scaleDownDelaySeconds 1; calls arrive at 0..${RATE}/s (swell period ${PERIOD_S} s), last ${HOLD_S} s on average, for ${SECONDS} s; namespace ${ns}`);

    // Every pod deletion, checked the moment the watch shows it: calls in Redis and calls the generator holds there.
    const onPod = async (type: string, pod: V1Pod) => {
      const name = pod.metadata?.name ?? '';
      if (type === 'ADDED' && measuring) podAddedMs.set(name, Date.now());
      const serving = pod.metadata?.labels?.['smartrouter.io/pool'] === 'standard' && (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
      const added = podAddedMs.get(name);
      if (measuring && serving && added !== undefined) {
        podAddedMs.delete(name); // measured once
        const patch = growthPatchesMs.filter((t) => t <= added).pop();
        if (patch !== undefined) podStartMs.push(Date.now() - patch);
      }
      if (!(type === 'DELETED' || pod.metadata?.deletionTimestamp) || seenDeleting.has(name)) return;
      seenDeleting.add(name);
      const atMs = Date.now();
      const held = [...calls.values()].filter((p) => p === name).length;
      const inRedis = (await store.callCounts([name])).get(name) ?? 0;
      deletions.push({ pod: name, atMs, heldByGenerator: held, inRedis });
      if (held || inRedis) console.log(`   VIOLATION: pod ${name} deleted holding ${held} call(s) (${inRedis} in Redis)`);
    };
    const podWatch = await watch.watch(`/api/v1/namespaces/${ns}/pods`, {}, (type, obj) => void onPod(type, obj as V1Pod), () => undefined);
    aborts.push(podWatch);
    const deployWatch = await watch.watch(`/apis/apps/v1/namespaces/${ns}/deployments`, {}, (_type, obj) => {
      const next = (obj as V1Deployment).spec?.replicas ?? replicas;
      const now = Date.now();
      if (next > replicas) growthPatchesMs.push(now);
      if (next > replicas && breachAtMs !== undefined) {
        breachToPatch.push(now - breachAtMs);
        breachAtMs = undefined;
      }
      if (expectPatchFromKubectl && next === expectPatchFromKubectl.to) {
        kubectlToWatch.push(now - expectPatchFromKubectl.atMs);
        expectPatchFromKubectl = undefined;
      }
      replicas = next;
    }, () => undefined);
    aborts.push(deployWatch);

    await apply(deployment, ns);
    // Baseline: a kubectl scale of the same Deployment, seen through the same watch.
    for (let i = 0; i < 5; i++) {
      const to = i % 2 === 0 ? 3 : 2;
      expectPatchFromKubectl = { atMs: Date.now(), to };
      await kubectl(['scale', 'deployment/bench-agent', `--replicas=${to}`], { namespace: ns });
      await waitFor('kubectl scale seen', async () => expectPatchFromKubectl === undefined, 30_000, 5);
    }

    await apply(pool, ns);
    // No shedding on event-loop lag: on a loaded bench machine it answers 503 "overloaded" for reasons that are not the fleet's size.
    await bench.startOperator({ AUTOSCALE_INTERVAL_MS: String(INTERVAL_MS), RESYNC_SECONDS: '2', DEFAULT_TIER: 'standard', SHED_EVENT_LOOP_LAG_MS: '0' });
    await waitFor('the pool at its minimum, Ready', async () => {
      const status = (await (await fetch(`${url}/api/v1/status`)).json()) as { pools: Record<string, { ready: number; free_slots: number }> };
      return (status.pools.standard?.free_slots ?? 0) >= 2;
    }, 120_000, 200);

    let seq = 0;
    let refusedUnderMax = 0;
    let refusedAtMax = 0;
    let allocated = 0;
    let peakCalls = 0;
    /** Allocations that failed for another reason than capacity, by status and error. */
    const failures = new Map<string, number>();
    const ends = new Map<string, number>();
    const rand = random(14);
    const release = async (sid: string) => {
      calls.delete(sid);
      ends.delete(sid);
      await fetch(`${url}/api/v1/release`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ call_sid: sid }) });
    };
    measuring = true;
    const started = Date.now();
    let tickAt = started;
    while (Date.now() - started < SECONDS * 1000) {
      const t = (Date.now() - started) / 1000;
      const rate = (RATE * (1 - Math.cos((2 * Math.PI * t) / PERIOD_S))) / 2;
      for (const [sid, endMs] of [...ends]) if (endMs <= Date.now()) await release(sid);
      // At most one arrival a tick: rate x tick stays below 1 for rates up to 10/s.
      if (rand() < (rate * TICK_MS) / 1000) {
        const sid = `bench-${seq++}`;
        const before = replicas;
        const res = await fetch(`${url}/api/v1/allocate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ call_sid: sid }) });
        const body = (await res.json()) as { success?: boolean; pod_name?: string; error?: string };
        if (res.status === 200 && body.pod_name) {
          calls.set(sid, body.pod_name);
          ends.set(sid, Date.now() - Math.log(1 - rand()) * HOLD_S * 1000);
          allocated++;
          peakCalls = Math.max(peakCalls, calls.size);
          // The buffer is breached when fewer than BUFFER slots stay free on the workload's size.
          if (breachAtMs === undefined && calls.size + BUFFER > before && before < MAX) breachAtMs = Date.now();
        } else if (body.error !== 'no pods available') failures.set(`${res.status} ${body.error}`, (failures.get(`${res.status} ${body.error}`) ?? 0) + 1);
        else if (calls.size < MAX) refusedUnderMax++;
        else refusedAtMax++;
      }
      tickAt += TICK_MS;
      await new Promise((r) => setTimeout(r, Math.max(0, tickAt - Date.now())));
    }
    measuring = false;
    for (const sid of [...calls.keys()]) await release(sid);
    // No calls left: the buffer alone asks for BUFFER pods (above minReplicas 2).
    const settledBack = await waitFor('the workload back at the buffer', async () => replicas === BUFFER, 120_000, 250).then(() => true, () => false);
    await new Promise((r) => setTimeout(r, 3_000));

    const downs = await metricSum(url, 'smart_router_autoscaler_decisions_total', { direction: 'down' });
    const ups = await metricSum(url, 'smart_router_autoscaler_decisions_total', { direction: 'up' });
    const retired = await metricSum(url, 'smart_router_autoscaler_retired_pods_total');
    const unexpected = await metricSum(url, 'smart_router_autoscaler_unexpected_removals_total');
    const violations = deletions.filter((d) => d.heldByGenerator || d.inRedis);
    console.log(`\n1. buffer breach -> the workload's scale patch (seen by a watch), over ${breachToPatch.length} breaches`);
    console.log(`   p50 ${percentile(breachToPatch, 50)} ms, p99 ${percentile(breachToPatch, 99)} ms, max ${Math.max(...breachToPatch)} ms (AUTOSCALE_INTERVAL_MS ${INTERVAL_MS})`);
    console.log(`   baseline, kubectl scale -> the same watch: p50 ${percentile(kubectlToWatch, 50)} ms over ${kubectlToWatch.length} (kubectl's own start-up included); ratio ${(percentile(breachToPatch, 50) / percentile(kubectlToWatch, 50)).toFixed(2)}`);
    const startP99 = percentile(podStartMs, 99);
    console.log(`\n2. a new pod's start, scale patch -> Ready in the pool, over ${podStartMs.length} pods: p50 ${percentile(podStartMs, 50)} ms, p99 ${startP99} ms, max ${Math.max(...podStartMs)} ms`);
    console.log(`   sizing rule: buffer >= arrival rate x pod start: ${RATE}/s x ${(startP99 / 1000).toFixed(1)} s (p99) = ${((RATE * startP99) / 1000).toFixed(1)} slots, buffer ${BUFFER}: ${RATE * startP99 <= BUFFER * 1000 ? 'covered' : 'NOT covered'}`);
    console.log(`   load: ${allocated} calls allocated, at most ${peakCalls} at once; refused for capacity ("no pods available") while under max ${refusedUnderMax}, at max ${refusedAtMax}; failed otherwise: ${failures.size ? [...failures].map(([k, n]) => `${n} x ${k}`).join(', ') : 'none'}`);
    console.log(`\n3. scale decisions: ${ups} up, ${downs} down; ${retired} idle pods retired; ${deletions.length} pod deletions seen`);
    console.log(`   pods deleted holding a call (generator's calls or Redis): ${violations.length}; unexpected removals reported: ${unexpected}`);
    // What the operator reported of pods the controller removed unpicked, in its own words.
    const warned = JSON.parse(await kubectl(['get', 'events', '--field-selector', 'reason=UnexpectedPodRemoved', '-o', 'json'], { namespace: ns })) as { items: { message: string }[] };
    for (const e of warned.items) console.log(`   UnexpectedPodRemoved: ${e.message}`);
    for (const d of violations) console.log(`   deleted with a call: ${d.pod} (${d.heldByGenerator} held by the generator, ${d.inRedis} in Redis)`);
    console.log(`   after the load: the workload ${settledBack ? `back at ${BUFFER} replicas (the buffer alone)` : `still at ${replicas} replicas after 120 s`}`);
  } finally {
    for (const a of aborts) a.abort();
    await bench.teardown();
  }
}

runBench(main);
