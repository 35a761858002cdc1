// make bench, pool status writes: 50 pools on the local control plane under
// steady call traffic (calls start in a random pool and last a random time,
// about CALL_SECONDS, so every pool's count moves all the time).
// Prints the operator's status writes per minute with the default bounds
// (STATUS_COUNTS_INTERVAL_SECONDS, STATUS_COUNT_WRITES_PER_MINUTE), next to
// a baseline measured in the same run: the same operator with the bounds
// lifted to a write per pool per resync (5 s), as status was written before
// there was a global bound. Counts from the operator's own request counter.
// Asserts nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { packageRoot } from '../core/paths.js';
import { RoutingStore } from '../lua/routing-store.js';
import { freePort, launchRedis } from '../tools/local-redis.js';
import { apply, KUBECONFIG, kubectl, kubectlJson, requireCluster, waitFor } from '../tools/kubectl.js';
import { voiceAgentStatefulSet } from '../tools/manifests.js';
import { runBench } from './bench-main.js';

const POOLS = 50;
const PODS_PER_POOL = 2;
/** New calls per second across all pools; each lasts CALL_SECONDS. */
const CALL_RATE = Number(process.env.STATUS_BENCH_CALL_RATE ?? 50);
const CALL_SECONDS = 10;
const WARMUP_MS = 20_000;
const WINDOW_MS = Number(process.env.STATUS_BENCH_WINDOW_SECONDS ?? 60) * 1000;
const BASELINE_WINDOW_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const statefulSet = voiceAgentStatefulSet('status-agent', POOLS * PODS_PER_POOL, { app: 'status-agent' });
const pools = Array.from({ length: POOLS }, (_, i) => `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: pool-${i} }
spec: { tier: tier-${i}, capacity: 50, replicas: ${PODS_PER_POOL}, selector: { matchLabels: { app: status-agent } } }
`).join('---\n');

async function statusPatches(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^smart_router_kube_requests_total\{verb="patch",resource="voiceagentpools\/status"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** A call's length: exponential around CALL_SECONDS (capped at 5x), as independent callers hang up. */
const callLengthMs = () => Math.min(5 * CALL_SECONDS, -Math.log(1 - Math.random()) * CALL_SECONDS) * 1000;

/**
 * Calls starting in a random pool and ending after a random length, until
 * stopped; returns the count of call changes. Randomness matters: round robin
 * with equal lengths keeps every pool's count constant between two reads, and
 * a status that does not change is never written.
 */
function steadyCalls(store: RoutingStore): { stop(): Promise<number> } {
  let running = true;
  let changes = 0;
  let live: { sid: string; endsAt: number }[] = [];
  let n = 0;
  const loop = (async () => {
    let version = await store.poolsVersion();
    while (running) {
      const tick = Date.now();
      for (let i = 0; i < CALL_RATE / 10; i++) {
        const sid = `bench-${n++}`;
        const pool = [`pool-${Math.floor(Math.random() * POOLS)}`];
        let outcome = await store.allocate(sid, pool, version);
        if (outcome.kind === 'stale') outcome = await store.allocate(sid, pool, (version = outcome.version));
        if (outcome.kind === 'allocated') {
          live.push({ sid, endsAt: tick + callLengthMs() });
          changes++;
        }
      }
      const ending = live.filter((c) => c.endsAt <= tick);
      live = live.filter((c) => c.endsAt > tick);
      for (const call of ending) {
        await store.release(call.sid);
        changes++;
      }
      await sleep(Math.max(0, 100 - (Date.now() - tick)));
    }
    for (const call of live) await store.release(call.sid);
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return changes;
    },
  };
}

async function startOperator(ns: string, redisUrl: string, prefix: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(packageRoot, 'dist/cli/main.js'), 'operator', '--kubeconfig', KUBECONFIG, '--namespace', ns, '--port', String(port)], {
    env: { ...process.env, HOST: '127.0.0.1', REDIS_URL: redisUrl, KEY_PREFIX: prefix, LEASE_NAME: `lease-${prefix}`, LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('operator leading', async () => ((await (await fetch(`${url}/api/v1/status`)).json()) as { is_leader: boolean }).is_leader, 60_000, 100);
  return { child, url };
}

/** Status writes per minute while calls run, over `windowMs` after a warm-up. */
async function measure(ns: string, redis: Redis, redisUrl: string, prefix: string, env: Record<string, string>, windowMs: number) {
  const store = new RoutingStore(redis, prefix);
  const op = await startOperator(ns, redisUrl, prefix, env);
  try {
    await waitFor('every pool in Redis', async () => (await store.poolsSnapshot()).pools.length === POOLS, 120_000, 200);
    const calls = steadyCalls(store);
    await sleep(WARMUP_MS);
    const before = await statusPatches(op.url);
    const started = Date.now();
    await sleep(windowMs);
    const writes = (await statusPatches(op.url)) - before;
    const minutes = (Date.now() - started) / 60_000;
    const changes = await calls.stop();
    return { writesPerMinute: writes / minutes, callChangesPerMinute: changes / ((WARMUP_MS + (Date.now() - started)) / 60_000) };
  } finally {
    op.child.kill('SIGTERM');
    await new Promise((r) => op.child.once('exit', r));
  }
}

async function main() {
  requireCluster();
  const ns = `status-${Math.random().toString(36).slice(2, 7)}`;
  const redisServer = await launchRedis({ appendonly: false });
  const redis = new Redis(redisServer.url);
  try {
    await kubectl(['apply', '-f', join(packageRoot, 'crds')]);
    await kubectl(['wait', '--for=condition=Established', 'crd/voiceagentpools.smartrouter.io', '--timeout=60s']);
    await kubectl(['create', 'namespace', ns]);
    await apply(statefulSet, ns);
    await apply(pools, ns);
    await waitFor('pods Ready', async () => ((await kubectlJson<{ status: { readyReplicas?: number } }>(['get', 'statefulset', 'status-agent'], ns)).status.readyReplicas ?? 0) === POOLS * PODS_PER_POOL, 300_000, 500);
    console.log(`pool status writes: ${POOLS} pools of ${PODS_PER_POOL} pods, ${CALL_RATE} new calls/s of ${CALL_SECONDS} s each, spread over every pool`);
    // Baseline: a write per pool whenever its counts changed and 5 s (RESYNC_SECONDS) passed, no global bound.
    const unbounded = await measure(ns, redis, redisServer.url, 'unbounded', { STATUS_COUNTS_INTERVAL_SECONDS: '5', STATUS_COUNT_WRITES_PER_MINUTE: '100000' }, BASELINE_WINDOW_MS);
    const bounded = await measure(ns, redis, redisServer.url, 'bounded', {}, WINDOW_MS);
    console.log(`   baseline, a write per pool per resync (5 s), no global bound: ${unbounded.writesPerMinute.toFixed(0)} status writes/min (${unbounded.callChangesPerMinute.toFixed(0)} call changes/min)`);
    console.log(`   defaults (10 s per pool, at most 60/min for all pools): ${bounded.writesPerMinute.toFixed(0)} status writes/min (${bounded.callChangesPerMinute.toFixed(0)} call changes/min); ${(unbounded.writesPerMinute / Math.max(1, bounded.writesPerMinute)).toFixed(1)}x fewer`);
  } finally {
    await kubectl(['delete', 'namespace', ns, '--timeout=180s']).catch(() => undefined);
    await redis.quit();
    await redisServer.destroy();
  }
}

runBench(main, { exitWhenDone: true });
