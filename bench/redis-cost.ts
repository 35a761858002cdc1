// make bench, Redis part: what a change to a 10,000-pod pool costs Redis,
// and what allocations feel while pods change. Each figure next to a
// baseline measured in the same run on the same machine. Prints; asserts nothing.
//
// Redis time is Redis's own: SLOWLOG with a 0 µs threshold records every
// command's execution time inside Redis (no network, no client), on a
// redis-server this benchmark starts for itself.
import { Redis } from 'ioredis';
import { RECOUNT_BATCH, RoutingStore, type PodPlacement } from '../lua/routing-store.js';
import { launchRedis } from '../tools/local-redis.js';
import { benchMembers, benchPool } from './fleet.js';
import { httpClient, openLoop } from './load.js';
import { startServer } from './server-process.js';
import { runBench } from './bench-main.js';

const PODS = Number(process.env.BENCH_POOL_PODS ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const RATE = Number(process.env.BENCH_FLIP_LOAD_RATE ?? 100);
const FLIPS_PER_SECOND = 100;

const fmt = (n: number, digits = 3) => n.toFixed(digits);
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] as number;

/** Runs `work` and returns the Redis execution time (µs) of every script it ran. */
async function scriptTimes(redis: Redis, work: () => Promise<unknown>): Promise<number[]> {
  await redis.config('SET', 'slowlog-log-slower-than', '0');
  await redis.config('SET', 'slowlog-max-len', '100000');
  await redis.slowlog('RESET');
  await work();
  const entries = (await redis.slowlog('GET', '100000')) as [number, number, number, string[]][];
  await redis.config('SET', 'slowlog-log-slower-than', '10000');
  return entries.filter((e) => /^eval/i.test(String(e[3][0]))).map((e) => Number(e[2]));
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const describe = (us: number[]) => `${us.length} script(s), ${fmt(sum(us) / 1000)} ms in total, longest ${fmt(Math.max(...us) / 1000)} ms`;

async function flipCost(redis: Redis) {
  console.log(`\nR1. one pod's readiness flips in a ${PODS.toLocaleString('en')}-pod pool: Redis time`);
  const store = new RoutingStore(redis, 'bench-flip');
  const members = benchMembers(PODS);
  await store.syncPool(benchPool('big', PODS), members);
  const flipped = (i: number, ready: boolean): PodPlacement => ({ ...members[i]!, pool: 'big', ready });
  // What a flip cost before: the whole pool rewritten (now in batches of MEMBERSHIP_BATCH pods).
  const whole = await scriptTimes(redis, () => store.syncPool(benchPool('big', PODS), members.map((m, i) => (i === 7 ? { ...m, ready: false } : m))));
  console.log(`   baseline, whole pool rewritten:   ${describe(whole)}`);
  const single: number[] = [];
  for (let i = 0; i < 200; i++) single.push(...(await scriptTimes(redis, () => store.placePods([flipped(i, i % 2 === 1)]))));
  console.log(`   one place-pods over the pod:      median ${fmt(percentile(single, 50) / 1000)} ms, p99 ${fmt(percentile(single, 99) / 1000)} ms, max ${fmt(Math.max(...single) / 1000)} ms over 200 flips (target < 1 ms)`);
  console.log(`   ratio whole pool / one pod: ${fmt(sum(whole) / percentile(single, 50), 0)}x`);
  await redis.del(...(await redis.keys('{bench-flip}:*')));
}

async function statusCost(redis: Redis) {
  console.log(`\nR2. pool status (/api/v1/status, metrics, every reconcile) on a ${PODS.toLocaleString('en')}-pod fleet in 5 pools: Redis time`);
  const store = new RoutingStore(redis, 'bench-status');
  const per = PODS / 5;
  for (let p = 0; p < 5; p++) {
    const pool = benchPool(`pool-${p}`, per);
    await store.syncPool(pool, benchMembers(per).map((m) => ({ ...m, pod: `p${p}-${m.pod}` })));
  }
  const version = await store.poolsVersion();
  for (let i = 0; i < 2000; i++) await store.allocate(`status-${i}`, [`pool-${i % 5}`], version);
  const status = await scriptTimes(redis, async () => {
    for (let i = 0; i < 100; i++) await store.status();
  });
  // Baseline: counting every pod, as status did before (the exact recount the leader still runs at full resync).
  const recount = await scriptTimes(redis, async () => {
    for (let p = 0; p < 5; p++) await store.recountPool(`pool-${p}`);
  });
  console.log(`   pool-status from the counters:    median ${fmt(percentile(status, 50) / 1000)} ms, max ${fmt(Math.max(...status) / 1000)} ms over 100 reads (target < 1 ms)`);
  console.log(`   baseline, every pod counted:      ${describe(recount)} (the leader's exact recount, in batches of ${RECOUNT_BATCH})`);
  await redis.del(...(await redis.keys('{bench-status}:*')));
}

async function allocationsWhileFlipping(redisUrl: string, redis: Redis) {
  console.log(`\nR3. allocate+release through HTTP at ${RATE} allocations/s on a ${PODS.toLocaleString('en')}-pod pool, with and without ${FLIPS_PER_SECOND} readiness flips/s`);
  const server = await startServer(['router', redisUrl, 'bench-flips', String(PODS)]);
  try {
    const store = new RoutingStore(redis, 'bench-flips');
    const members = benchMembers(PODS);
    const paths = { allocate: '/api/v1/allocate', release: '/api/v1/release' };
    const client = httpClient(server.url, 64);
    await openLoop(client, paths, RATE, 2000); // warm-up
    const run = async (flips: boolean) => {
      let flipping = flips;
      let flipsDone = 0;
      const flipper = (async () => {
        const started = Date.now();
        while (flipping) {
          const i = flipsDone % PODS;
          await store.placePods([{ ...members[i]!, pool: 'bench', ready: Math.floor(flipsDone / PODS) % 2 === 1 }]);
          flipsDone++;
          const due = started + (flipsDone * 1000) / FLIPS_PER_SECOND;
          const wait = due - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
      })();
      const started = Date.now();
      const result = await openLoop(client, paths, RATE, SECONDS * 1000);
      flipping = false;
      await flipper;
      const elapsed = (Date.now() - started) / 1000;
      return { ...result, flipsPerSecond: flipsDone / elapsed };
    };
    const rounds: { quiet: number; flipping: number }[] = [];
    for (let round = 0; round < 3; round++) {
      const quiet = await run(false);
      const busy = await run(true);
      rounds.push({ quiet: quiet.allocate.percentile(99), flipping: busy.allocate.percentile(99) });
      // A pair that failed is counted, not hidden: on a saturated machine the router answers 503 past its request deadline.
      console.log(`   round ${round + 1}: without flips p50 ${fmt(quiet.allocate.percentile(50))} ms p99 ${fmt(quiet.allocate.percentile(99))} ms (${quiet.errors} failed); with ${fmt(busy.flipsPerSecond, 0)} flips/s p50 ${fmt(busy.allocate.percentile(50))} ms p99 ${fmt(busy.allocate.percentile(99))} ms (${busy.errors} failed)`);
    }
    client.close();
    const quiet = percentile(rounds.map((r) => r.quiet), 50);
    const flipping = percentile(rounds.map((r) => r.flipping), 50);
    console.log(`   median p99: without flips ${fmt(quiet)} ms, with flips ${fmt(flipping)} ms: ${fmt(flipping / quiet, 2)}x (target <= 1.5x)`);
  } finally {
    server.child.kill('SIGTERM');
  }
}

async function main() {
  console.log(`smart-router Redis cost benchmark: ${PODS} pods, node ${process.version}`);
  const redisServer = await launchRedis({ appendonly: true });
  const redis = new Redis(redisServer.url);
  try {
    await flipCost(redis);
    await statusCost(redis);
    await allocationsWhileFlipping(redisServer.url, redis);
  } finally {
    await redis.quit();
    await redisServer.destroy();
  }
}

runBench(main);
