// make bench: the overload soak. Three routers share one Redis; clients send
// allocations open loop, give up after a timeout as a provider does (never
// learning of what they gave up on) and release every call answered 200.
// First at a rate this machine serves (the baseline), then at 1,000/s for 60 s,
// more than it can serve. Prints latency, the mix of answers and every slot
// structure in Redis once every known call is released. Asserts nothing.
//   SOAK_RATE (1000) SOAK_SECONDS (60) SOAK_BASELINE_RATE (200)
//   SOAK_BASELINE_SECONDS (20) SOAK_GIVE_UP_MS (5000) SOAK_ROUTERS (3)
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { launchRedis } from '../tools/local-redis.js';
import { auditSlots, slotsLeft, type SlotAudit } from '../lua/slot-audit.js';
import { httpClient, openLoopOverload, type Latencies, type OverloadResult } from './load.js';
import { startServer, type Server } from './server-process.js';
import { runBench } from './bench-main.js';

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const RATE = num('SOAK_RATE', 1000);
const SECONDS = num('SOAK_SECONDS', 60);
const BASELINE_RATE = num('SOAK_BASELINE_RATE', 200);
const BASELINE_SECONDS = num('SOAK_BASELINE_SECONDS', 20);
const GIVE_UP_MS = num('SOAK_GIVE_UP_MS', 5000);
const ROUTERS = num('SOAK_ROUTERS', 3);
/** Shared pods of 1,000 slots each: room for every call the clients hold, so no answer is a full pool. */
const PODS = 100;

const fmt = (n: number, digits = 2) => n.toFixed(digits);
const ms = (l: Latencies, p: number) => (l.count ? `${fmt(l.percentile(p), 1)} ms` : 'n/a');

function describeMix(result: OverloadResult): string {
  const total = [...result.mix.values()].reduce((a, b) => a + b, 0);
  return [...result.mix.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k}: ${n} (${fmt((n / total) * 100, 1)}%)`)
    .join(', ');
}

const describeAudit = (a: SlotAudit) =>
  `call records ${a.callRecords}, deadlines ${a.deadlines}, pool calls ${a.poolCalls}, busy pods ${a.poolBusy}, free slots short ${a.poolFreeShort}, pod call sets ${a.podCallSets}, availability scores ${a.availScores}`;

/** One load against routers of its own, on a key prefix of its own, so each audit counts its own phase. */
async function phase(label: string, redisUrl: string, redis: Redis, rate: number, seconds: number): Promise<OverloadResult> {
  const prefix = `bench-soak-${rate}`;
  const servers: Server[] = [];
  try {
    for (let i = 0; i < ROUTERS; i++) servers.push(await startServer(['router', redisUrl, prefix, String(PODS), 'shed']));
    return await measure(label, servers, prefix, redis, rate, seconds);
  } finally {
    for (const s of servers) s.child.kill('SIGTERM');
  }
}

async function measure(label: string, servers: Server[], prefix: string, redis: Redis, rate: number, seconds: number): Promise<OverloadResult> {
  const clients = servers.map((s) => httpClient(s.url, 256));
  // The load generator shares the machine: how late its own loop ran says how much of the latency is its own.
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const result = await openLoopOverload(clients, { allocate: '/api/v1/allocate', release: '/api/v1/release' }, rate, seconds * 1000, GIVE_UP_MS);
  lag.disable();
  for (const c of clients) c.close();
  // Whatever a router or Redis still has queued runs before the count.
  await new Promise((r) => setTimeout(r, 3000));
  const audit = await auditSlots(redis, prefix);
  const left = (await redis.keys(`{${prefix}}:call:*`)).map((k) => k.slice(`{${prefix}}:call:`.length));
  const abandoned = left.filter((sid) => result.gaveUp.has(sid));
  // Redis's clock and the generator's are the same machine's: was the slot taken before the client gave up, or after?
  let takenAfter = 0;
  let latestAfterMs = 0;
  for (const sid of abandoned) {
    const startedMs = Number(await redis.hget(`{${prefix}}:call:${sid}`, 'started_ms'));
    const after = startedMs - result.gaveUp.get(sid)!.gaveUpMs;
    if (after > 0) takenAfter++;
    latestAfterMs = Math.max(latestAfterMs, after);
  }
  console.log(`   ${label}: ${rate}/s asked for ${seconds} s, ${result.sent} sent (${fmt(result.achieved, 0)}/s) (machine load average ${loadavg().map((l) => fmt(l, 1)).join(' ')}, ${cpus().length} CPUs)`);
  console.log(`     answers: ${describeMix(result)}`);
  console.log(`     latency of every answer, from when it was sent: p50 ${ms(result.answered, 50)}  p99 ${ms(result.answered, 99)}  max ${ms(result.answered, 100)}; of the 200s: p50 ${ms(result.allocated, 50)}  p99 ${ms(result.allocated, 99)}`);
  console.log(`     waited in the load generator for a free connection before being sent: p50 ${ms(result.queued, 50)}  p99 ${ms(result.queued, 99)} (its own backlog: ${ROUTERS} x 256 connections)`);
  console.log(`     load generator's own event-loop delay: p50 ${fmt(lag.percentile(50) / 1e6, 0)} ms  p99 ${fmt(lag.percentile(99) / 1e6, 0)} ms  max ${fmt(lag.max / 1e6, 0)} ms`);
  console.log(`     slots taken after releasing all ${result.known} known calls: ${slotsLeft(audit)} (${describeAudit(audit)})${result.releaseFailures ? `; ${result.releaseFailures} releases failed` : ''}`);
  if (left.length) console.log(`     of the ${left.length} calls still recorded, ${abandoned.length} are calls the client gave up on (${abandoned.length - takenAfter} allocated before it gave up, ${takenAfter} after${takenAfter ? `, by at most ${latestAfterMs} ms` : ''}), ${left.length - abandoned.length} others`);
  // A provider that gave up on its webhook fails the call and sends its terminal status, which releases it.
  const statusClient = httpClient(servers[0]!.url, 16);
  let freedByStatus = 0;
  for (const sid of result.gaveUp.keys()) if ((await statusClient.post('/api/v1/release', { call_sid: sid })) === 200) freedByStatus++;
  statusClient.close();
  const afterStatus = await auditSlots(redis, prefix);
  console.log(`     after the terminal status of the ${result.gaveUp.size} calls the client gave up on (a release each, ${freedByStatus} held a slot): ${slotsLeft(afterStatus)} slots taken`);
  return result;
}

async function main() {
  console.log(`\n6. soak: ${ROUTERS} routers sharing one Redis (shedding on, default limits), open loop, calls spread over the routers; clients give up after ${GIVE_UP_MS} ms; every call answered 200 released once answered`);
  const redisServer = await launchRedis({ appendonly: true });
  const redis = new Redis(redisServer.url);
  try {
    const base = await phase('baseline (a rate this machine serves)', redisServer.url, redis, BASELINE_RATE, BASELINE_SECONDS);
    const over = await phase('overload', redisServer.url, redis, RATE, SECONDS);
    const p = (r: OverloadResult, q: number) => r.answered.percentile(q);
    console.log(`   ratio overload/baseline: p50 ${fmt(p(over, 50) / p(base, 50))}x, p99 ${fmt(p(over, 99) / p(base, 99))}x; 200s served ${fmt(over.known / SECONDS, 0)}/s against ${fmt(base.known / BASELINE_SECONDS, 0)}/s`);
  } finally {
    await redis.quit();
    await redisServer.destroy();
  }
}

runBench(main);
