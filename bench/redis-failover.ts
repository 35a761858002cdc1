// make bench: what a Redis failover costs clients. A master with one
// asynchronous replica and three sentinels; the router (the real CLI,
// standalone) follows them. Under a steady allocation rate the master is
// killed (SIGKILL) (with min-replicas-to-write, also restarted once a
// replica is promoted, as Kubernetes restarts a pod); the figures are the failover time clients see (first
// failed allocation to the first successful one after it), the answers in
// between, and what the promoted replica lost of what clients were told:
// allocations answered 200 that it never had, releases answered 200 whose
// call it still holds. Each Redis setting is measured in the same run, the
// plain asynchronous replica first as the baseline; the steady latency
// before the kill is each setting's own baseline. Prints figures; asserts nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { RoutingStore } from '../lua/routing-store.js';
import { AllocationLoad, settle } from '../tools/allocation-load.js';
import { launchSentinelGroup, type SentinelGroupOptions } from '../tools/redis-topologies.js';
import { loadAverage, startStandalone, stopServer } from './server-process.js';

const RATE = Number(process.env.BENCH_FAILOVER_RATE ?? 200);
const ROUNDS = Number(process.env.BENCH_FAILOVER_ROUNDS ?? 2);
const STEADY_MS = 4000;
const PODS = 20;
const CAPACITY = 1000;
const PREFIX = 'bench-failover';
const pods = Array.from({ length: PODS }, (_, i) => `agent-${i}`);

const ONLY = process.env.BENCH_FAILOVER_ONLY; // a variant's index, to run one alone
const ALL_VARIANTS: { name: string; options: SentinelGroupOptions }[] = [
  { name: 'asynchronous replica (Redis default)', options: {} },
  { name: 'min-replicas-to-write 1, min-replicas-max-lag 10', options: { minReplicasToWrite: 1, minReplicasMaxLag: 10 } },
];
const VARIANTS = ONLY ? [ALL_VARIANTS[Number(ONLY)]!] : ALL_VARIANTS;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number) : NaN;
};

function poolsFile(dir: string): string {
  const file = join(dir, 'pools.yaml');
  const docs = [
    `apiVersion: smartrouter.io/v1alpha1\nkind: VoiceAgentPool\nmetadata: { name: standard }\nspec: { tier: standard, capacity: ${CAPACITY}, replicas: ${PODS}, selector: { matchLabels: { app: agent } } }`,
    ...pods.map((p) => `kind: Pod\nmetadata: { name: ${p}, labels: { app: agent } }`),
  ];
  writeFileSync(file, docs.join('\n---\n'));
  return file;
}

interface Round {
  /** Allocations a second answered before the kill (the machine may not reach RATE). */
  achieved: number;
  steadyP50: number;
  steadyP99: number;
  promotedMs: number;
  clientOutageMs: number;
  failed: number;
  acknowledged: { allocations: number; releases: number };
  lostAllocations: number;
  lostReleases: number;
  unexplained: number;
  unsettled: number;
}

async function oneRound(options: SentinelGroupOptions, file: string): Promise<Round> {
  const group = await launchSentinelGroup(options);
  const server = await startStandalone('', file, { env: { REDIS_SENTINELS: group.sentinelsSetting, REDIS_SENTINEL_MASTER: group.masterName, KEY_PREFIX: PREFIX, LOG_LEVEL: 'warn' } });
  const load = new AllocationLoad({ routerUrl: server.url, workers: 32, ratePerSecond: RATE, releaseShare: 0.5, clientTimeoutMs: 5000 }).start();
  let newMaster: Redis | undefined;
  try {
    const steadyFrom = performance.now() + 1000; // after warm-up
    await sleep(STEADY_MS + 1000);
    const steady = load.books.timeline.filter((e) => e.ok && e.at > steadyFrom).map((e) => e.ms);
    const oldPort = await group.masterPort();
    const killedAt = performance.now();
    await group.nodes.find((n) => n.port === oldPort)!.stop('SIGKILL');
    const killed = group.nodes.find((n) => n.port === oldPort)!;
    const newPort = await group.waitForNewMaster(oldPort, 60_000);
    const promotedMs = performance.now() - killedAt;
    // With min-replicas-to-write the new master takes no write until a replica follows it: the killed
    // node comes back, as Kubernetes restarts a pod, and the sentinels make it a replica of the new master.
    if (options.minReplicasToWrite) await killed.start();
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      const outage = load.outageAfter(killedAt);
      if (outage && load.successesAfter(outage.recoveredAt) >= RATE) break;
      await sleep(100);
    }
    await load.stop();
    const outage = load.outageAfter(killedAt);
    const failed = load.books.timeline.filter((e) => !e.ok && e.at > killedAt).length;
    const achieved = load.books.timeline.filter((e) => e.at > steadyFrom && e.at < killedAt).length / ((killedAt - steadyFrom) / 1000);
    const acknowledged = { allocations: load.books.timeline.filter((e) => e.ok).length, releases: load.books.released.size };
    newMaster = new Redis({ host: '127.0.0.1', port: newPort });
    const books = await settle(load, server.url, new RoutingStore(newMaster, PREFIX), pods);
    return {
      achieved,
      steadyP50: pct(steady, 50),
      steadyP99: pct(steady, 99),
      promotedMs,
      clientOutageMs: outage?.ms ?? NaN,
      failed,
      acknowledged,
      lostAllocations: books.lostAllocations.length,
      lostReleases: books.lostReleases.length,
      unexplained: books.unexplained.length,
      unsettled: books.unsettled.length,
    };
  } finally {
    await load.stop();
    newMaster?.disconnect();
    await stopServer(server);
    await group.destroy();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'smart-router-bench-failover-'));
  const file = poolsFile(dir);
  console.log(`\n== Redis failover (Sentinel): master killed with SIGKILL at ${RATE} allocations/s (half released at once), ${ROUNDS} rounds per setting ==`);
  console.log('   sentinel down-after-milliseconds 1000, quorum 2 of 3; router defaults (REDIS_COMMAND_TIMEOUT_MS 1000)');
  const baseline: Round[] = [];
  try {
    for (const [i, variant] of VARIANTS.entries()) {
      console.log(`\n-- ${variant.name} --`);
      const rounds: Round[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const round = await oneRound(variant.options, file);
        rounds.push(round);
        console.log(
          `   round ${r + 1}: ${round.achieved.toFixed(0)} allocations/s, steady allocate p50 ${round.steadyP50.toFixed(2)} ms p99 ${round.steadyP99.toFixed(2)} ms; ` +
            `sentinels promoted after ${(round.promotedMs / 1000).toFixed(2)} s; clients saw ${(round.clientOutageMs / 1000).toFixed(2)} s from first failure to first success (${round.failed} allocations answered non-200); ` +
            `lost ${round.lostAllocations} of ${round.acknowledged.allocations} acknowledged allocations, ${round.lostReleases} of ${round.acknowledged.releases} acknowledged releases; unexplained slots ${round.unexplained}, releases still refused after 30 s ${round.unsettled} (load ${loadAverage()})`,
        );
      }
      const sum = (f: (x: Round) => number) => rounds.reduce((a, x) => a + f(x), 0);
      const mean = (f: (x: Round) => number) => sum(f) / rounds.length;
      console.log(
        `   mean: clients' failover ${(mean((x) => x.clientOutageMs) / 1000).toFixed(2)} s; lost ${sum((x) => x.lostAllocations)} allocations + ${sum((x) => x.lostReleases)} releases of ${sum((x) => x.acknowledged.allocations)} + ${sum((x) => x.acknowledged.releases)} acknowledged; steady p99 ${mean((x) => x.steadyP99).toFixed(2)} ms`,
      );
      if (i === 0) baseline.push(...rounds);
      else {
        const b = (f: (x: Round) => number) => baseline.reduce((a, x) => a + f(x), 0) / baseline.length;
        console.log(
          `   vs baseline: failover ${(mean((x) => x.clientOutageMs) / b((x) => x.clientOutageMs)).toFixed(2)}x, steady p99 ${(mean((x) => x.steadyP99) / b((x) => x.steadyP99)).toFixed(2)}x`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
