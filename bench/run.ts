// make bench: the allocator's speed, each figure next to a baseline measured
// in the same run on the same machine. Prints figures; asserts nothing.
import { Redis } from 'ioredis';
import { RoutingStore } from '../lua/routing-store.js';
import { launchRedis } from '../tools/local-redis.js';
import { benchMembers, benchPool } from './fleet.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuSecondsOf, loadAverage, startServer, startStandalone, writeExclusivePoolsFile, type Server } from './server-process.js';
import { closedLoop, httpClient, openLoop, openLoopGet, openLoopOverload, type Latencies } from './load.js';
import { runBench } from './bench-main.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** How long an overload client waits before it gives up on an allocation (and never learns of it). */
const GIVE_UP_MS = Number(process.env.BENCH_GIVE_UP_MS ?? 5000);
/** BENCH_ONLY=cpu runs sections 1 and 2 alone; BENCH_ONLY=overload runs section 5 alone, measuring the capacity it doubles first. */
const ONLY = process.env.BENCH_ONLY;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (n: number, digits = 2) => n.toFixed(digits);
const ms = (l: Latencies, p: number) => `${fmt(l.percentile(p), 3)} ms`;

/** Closed-loop pairs, with the server's own CPU (every thread, from /proc) per pair over the measured window. */
async function throughput(server: Server, paths: { allocate: string; release: string }) {
  const client = httpClient(server.url, CONNECTIONS);
  await closedLoop(client, paths, CONNECTIONS, 1000); // warm-up: JIT, connections, script cache
  const cpuBefore = cpuSecondsOf(server.child.pid as number);
  const started = process.hrtime.bigint();
  const result = await closedLoop(client, paths, CONNECTIONS, SECONDS * 1000);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuUsPerPair = ((cpuSecondsOf(server.child.pid as number) - cpuBefore) / (result.pairsPerSecond * seconds)) * 1e6;
  client.close();
  return { ...result, cpuUsPerPair };
}

/** Redis-side microseconds per allocate+release, from Redis's own command statistics. */
async function scriptCost(redis: Redis, pods: number): Promise<{ usPerPair: number; pairsPerSecond: number }> {
  const store = new RoutingStore(redis, `bench-cost-${pods}`);
  await store.syncPool(benchPool('bench', pods), benchMembers(pods));
  const version = (await store.poolsSnapshot()).version;
  const pairs = 20_000;
  const concurrency = 32;
  const run = async (label: string) => {
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < pairs) {
          const sid = `${label}-${next++}`;
          await store.allocate(sid, ['bench'], version);
          await store.release(sid);
        }
      }),
    );
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  await run('warm');
  await redis.config('RESETSTAT');
  const seconds = await run('measure');
  const stats = await redis.info('commandstats');
  let usec = 0;
  let calls = 0;
  for (const line of stats.split('\n')) {
    const m = /^cmdstat_(evalsha|eval):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) {
      calls += Number(m[2]);
      usec += Number(m[3]);
    }
  }
  if (calls < pairs * 2) throw new Error(`expected ${pairs * 2} script calls, Redis counted ${calls}`);
  return { usPerPair: (usec / calls) * 2, pairsPerSecond: pairs / seconds };
}

/** The router's own allocation-latency histogram, from /metrics. */
async function serverHistogram(url: string): Promise<{ count: number; buckets: Map<string, number> }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const buckets = new Map<string, number>();
  for (const m of text.matchAll(/^smart_router_allocation_duration_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)) buckets.set(m[1] as string, Number(m[2]));
  const count = Number(/^smart_router_allocation_duration_seconds_count (\d+)$/m.exec(text)?.[1] ?? 0);
  return { count, buckets };
}

/** Script runs (eval/evalsha that did not fail) and their Redis time, from Redis's own command statistics. */
async function scriptStats(redis: Redis): Promise<{ calls: number; usec: number }> {
  let calls = 0;
  let usec = 0;
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+),usec=(\d+),.*failed_calls=(\d+)/gm)) {
    calls += Number(m[1]) - Number(m[3]);
    usec += Number(m[2]);
  }
  return { calls, usec };
}

async function statusUnderLoad(redisUrl: string, servers: Server[]): Promise<void> {
  const PODS = 1000;
  const RATE = 1000;
  const CACHE_MS = 1000;
  const redis = new Redis(redisUrl);
  console.log(`\n4. GET /api/v1/status at ${RATE}/s for ${SECONDS}s against one replica, ${PODS} pods (pool-status reads O(pools) counters); script runs counted by Redis`);
  const results: Record<string, { runs: number; usec: number; achieved: number; p99: number }> = {};
  // The cached server first: the uncached one leaves Redis with a backlog.
  for (const [name, cacheMs] of [[`cache ${CACHE_MS} ms`, CACHE_MS], ['no cache (baseline)', 0]] as const) {
    const server = await startServer(['router', redisUrl, `bench-status-${cacheMs}`, String(PODS)], { STATUS_CACHE_MS: String(cacheMs) });
    servers.push(server);
    const client = httpClient(server.url, 64);
    await openLoopGet(client, '/api/v1/status', RATE, 1000); // warm-up: connections, script cache
    await redis.config('RESETSTAT');
    const load = await openLoopGet(client, '/api/v1/status', RATE, SECONDS * 1000);
    const stats = await scriptStats(redis);
    client.close();
    server.child.kill('SIGTERM');
    results[name] = { runs: stats.calls, usec: stats.usec, achieved: load.achieved, p99: load.latency.percentile(99) };
    // Over the time the requests took to be answered, not just to be sent.
    const perInterval = stats.calls / (((load.sent / load.achieved) * 1000) / CACHE_MS);
    console.log(`   ${name.padEnd(20)} ${load.sent} requests, all answered at ${fmt(load.achieved, 0)}/s: ${stats.calls} pool-status runs (${fmt(perInterval)} per ${CACHE_MS} ms interval), ${fmt(stats.usec / 1000 / SECONDS)} ms of Redis time per second, p99 ${fmt(load.latency.percentile(99), 3)} ms, ${load.errors} not 200 (Redis too busy: 503)`);
  }
  const [cached, base] = Object.values(results) as [typeof results[string], typeof results[string]];
  console.log(`   ratio runs baseline/cached: ${fmt(base.runs / Math.max(1, cached.runs), 0)}x (target: at most one run per interval per replica)`);
  await redis.quit();
}

/**
 * 5. Twice what the router can serve (its closed-loop rate from section 1),
 * open loop, with clients that give up after GIVE_UP_MS: latency and the
 * mix of answers with shedding (the default) and without, and the slots
 * left in Redis once every call a client was told about is released.
 */
async function overload(redisUrl: string, capacity: number, servers: Server[]): Promise<void> {
  const rate = Math.round(2 * capacity);
  console.log(`\n5. overload: ${rate} allocations/s open loop (2x the ${fmt(capacity, 0)}/s measured above), each released once answered 200; clients give up after ${GIVE_UP_MS} ms`);
  const redis = new Redis(redisUrl);
  try {
    for (const variant of ['shed', 'noshed'] as const) {
      const prefix = `bench-overload-${variant}`;
      const server = await startServer(['router', redisUrl, prefix, '10', variant]);
      servers.push(server);
      const client = httpClient(server.url, 256);
      const result = await openLoopOverload(client, { allocate: '/api/v1/allocate', release: '/api/v1/release' }, rate, SECONDS * 1000, GIVE_UP_MS);
      client.close();
      // Let Redis run whatever is still queued before counting.
      await new Promise((r) => setTimeout(r, 2000));
      const left = (await new RoutingStore(redis, prefix).status()).active_calls;
      const total = [...result.mix.values()].reduce((a, b) => a + b, 0);
      const mix = [...result.mix.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k}: ${n} (${fmt((n / total) * 100, 1)}%)`)
        .join(', ');
      const label = variant === 'shed' ? 'with shedding (default limits)' : 'without shedding (baseline)';
      console.log(`   ${label}: achieved ${fmt(result.achieved, 0)}/s`);
      console.log(`     answers: ${mix}`);
      console.log(`     latency of every answer: p50 ${ms(result.answered, 50)}  p99 ${ms(result.answered, 99)}  max ${ms(result.answered, 100)}; of the 200s: p50 ${ms(result.allocated, 50)}  p99 ${ms(result.allocated, 99)}`);
      console.log(`     slots left after releasing all ${result.known} known calls: ${left}${result.releaseFailures ? ` (${result.releaseFailures} releases failed)` : ''}`);
      server.child.kill('SIGTERM');
    }
  } finally {
    await redis.quit();
  }
}

async function main() {
  console.log(`smart-router benchmark: ${SECONDS}s per run, ${CONNECTIONS} connections, ${ROUNDS} rounds, node ${process.version}, ${(await import('node:os')).cpus().length} cores, load average ${loadAverage()}`);
  const redisServer = await launchRedis({ appendonly: true });
  const servers: Server[] = [];
  try {
    // BENCH_ONLY=status runs section 4 alone.
    if (process.env.BENCH_ONLY === 'status') return await statusUnderLoad(redisServer.url, servers);
    if (ONLY === 'overload') {
      const probe = await startServer(['router', redisServer.url, 'bench-capacity', '10', 'noshed']);
      servers.push(probe);
      const capacity = median(await Promise.all([throughput(probe, { allocate: '/api/v1/allocate', release: '/api/v1/release' })]).then((rs) => rs.map((r) => r.pairsPerSecond)));
      await overload(redisServer.url, capacity, servers);
      return;
    }
    const baseline = await startServer(['baseline', redisServer.url]);
    // Sections 1 and 2: the router as production runs it (the CLI in standalone
    // mode, LOG_LEVEL=info, shedding and every default on) over an exclusive
    // pool of 1,000 pods. Section 3 uses the bench router of servers.ts, never shedding.
    const work = mkdtempSync(join(tmpdir(), 'smart-router-bench-'));
    const poolsFile = join(work, 'pools.yaml');
    writeExclusivePoolsFile(poolsFile, 1000);
    const cli = await startStandalone(redisServer.url, poolsFile);
    const router = await startServer(['router', redisServer.url, 'bench-http', '10', 'noshed']);
    servers.push(baseline, cli, router);
    const api = { allocate: '/api/v1/allocate', release: '/api/v1/release' };
    const bare = { allocate: '/allocate', release: '/release' };

    // 1. Throughput and server CPU per pair: rounds interleaved so drift on the machine hits both alike.
    const base = { rates: [] as number[], cpu: [] as number[] };
    const ours = { rates: [] as number[], cpu: [] as number[] };
    let routerLatency: Latencies | undefined;
    let baseLatency: Latencies | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      const load = loadAverage();
      const b = await throughput(baseline, bare);
      const r = await throughput(cli, api);
      // A starved machine can push a request past its 1 s deadline, or get it shed: reported, not hidden.
      if (r.errors) console.log(`  round ${round + 1}: ${r.errors} smart-router pairs failed (deadline, shed or Redis timeout on a starved machine)`);
      base.rates.push(b.pairsPerSecond);
      base.cpu.push(b.cpuUsPerPair);
      ours.rates.push(r.pairsPerSecond);
      ours.cpu.push(r.cpuUsPerPair);
      baseLatency = b.allocate;
      routerLatency = r.allocate;
      console.log(`  round ${round + 1} (load average ${load}): floor ${fmt(b.pairsPerSecond, 0)} pairs/s ${fmt(b.cpuUsPerPair, 0)} µs CPU/pair, smart-router ${fmt(r.pairsPerSecond, 0)} pairs/s ${fmt(r.cpuUsPerPair, 0)} µs CPU/pair (${fmt(r.cpuUsPerPair / b.cpuUsPerPair)}x)`);
    }
    const baseRate = median(base.rates);
    const routerRate = median(ours.rates);
    const overloadSection = () => overload(redisServer.url, routerRate, servers);
    console.log(`\n1. allocate+release through HTTP, closed loop, ${CONNECTIONS} connections (median of ${ROUNDS} interleaved rounds)`);
    console.log(`   floor (bare Express 5 + express.json() + one EVALSHA): ${fmt(baseRate, 0)} pairs/s, server CPU ${fmt(median(base.cpu), 0)} µs/pair  p50 ${ms(baseLatency!, 50)}  p99 ${ms(baseLatency!, 99)}`);
    console.log(`   smart-router (standalone CLI, LOG_LEVEL=info):          ${fmt(routerRate, 0)} pairs/s, server CPU ${fmt(median(ours.cpu), 0)} µs/pair  p50 ${ms(routerLatency!, 50)}  p99 ${ms(routerLatency!, 99)}`);
    console.log(`   server CPU per pair smart-router/floor: ${fmt(median(ours.cpu) / median(base.cpu))}x (median of per-round ratios ${fmt(median(ours.cpu.map((c, i) => c / (base.cpu[i] as number))))}x; target <= 1.1x)`);
    console.log(`   throughput floor/smart-router: ${fmt(baseRate / routerRate)}x`);

    // 2. Latency at a fixed rate, 80% of what the floor sustained above, for
    // both servers: the floor shows what this machine and client add.
    const rate = Math.round(0.8 * baseRate);
    console.log(`\n2. allocation latency at a fixed ${rate} allocations/s, 80% of the floor's capacity (open loop, client-observed)`);
    const before = await serverHistogram(cli.url);
    const p99s: number[] = [];
    for (const [name, server, paths] of [['floor', baseline, bare], ['smart-router', cli, api]] as const) {
      const client = httpClient(server.url, 64);
      await openLoop(client, paths, rate, 2000); // warm-up: open the connections first
      const open = await openLoop(client, paths, rate, SECONDS * 1000);
      client.close();
      p99s.push(open.allocate.percentile(99));
      if (open.errors) console.log(`   ${name}: ${open.errors} open-loop pairs failed`);
      console.log(`   ${name.padEnd(13)} achieved ${fmt(open.achieved, 0)}/s over ${open.allocate.count} calls: p50 ${ms(open.allocate, 50)}  p90 ${ms(open.allocate, 90)}  p99 ${ms(open.allocate, 99)}  max ${ms(open.allocate, 100)}`);
    }
    console.log(`   p99 smart-router/floor: ${fmt((p99s[1] as number) / (p99s[0] as number))}x (target <= 2x; load average ${loadAverage()})`);
    const after = await serverHistogram(cli.url);
    const count = after.count - before.count;
    const within = (le: string) => ((after.buckets.get(le) ?? 0) - (before.buckets.get(le) ?? 0)) / count;
    console.log(`   smart-router server-side (allocation histogram, warm-up included): ${fmt(within('0.001') * 100, 1)}% within 1 ms, ${fmt(within('0.002') * 100, 1)}% within 2 ms`);
    cli.child.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
    if (ONLY === 'cpu') return;

    // 3. Cost with 10,000 pods against 10 pods.
    const redis = new Redis(redisServer.url);
    const small = await scriptCost(redis, 10);
    const large = await scriptCost(redis, 10_000);
    await redis.quit();
    console.log('\n3. allocation cost by pool size (allocate+release scripts, measured inside Redis)');
    console.log(`   10 pods:     ${fmt(small.usPerPair)} us per pair in Redis, ${fmt(small.pairsPerSecond, 0)} pairs/s end to end`);
    console.log(`   10,000 pods: ${fmt(large.usPerPair)} us per pair in Redis, ${fmt(large.pairsPerSecond, 0)} pairs/s end to end`);
    console.log(`   ratio 10,000/10 pods: ${fmt(large.usPerPair / small.usPerPair)}x in Redis, ${fmt(small.pairsPerSecond / large.pairsPerSecond)}x end to end (target <= 1.2x)`);

    const largeRouter = await startServer(['router', redisServer.url, 'bench-http-large', '10000', 'noshed']);
    servers.push(largeRouter);
    const smallRates: number[] = [];
    const largeRates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      smallRates.push((await throughput(router, api)).pairsPerSecond);
      largeRates.push((await throughput(largeRouter, api)).pairsPerSecond);
    }
    console.log(`   through HTTP: 10 pods ${fmt(median(smallRates), 0)} pairs/s, 10,000 pods ${fmt(median(largeRates), 0)} pairs/s: ${fmt(median(smallRates) / median(largeRates))}x`);

    // 4. Status under load: what 1,000 status requests/s cost Redis, with the cache and without.
    await statusUnderLoad(redisServer.url, servers);

    // 5. Overload at twice the capacity measured in section 1.
    await overloadSection();
  } finally {
    for (const s of servers) s.child.kill('SIGTERM');
    await redisServer.destroy();
  }
}

runBench(main);
