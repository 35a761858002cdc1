// Redis that fails over: the master of a Sentinel-managed Redis is killed
// (SIGKILL) while clients allocate and release through a real router
// process. The router finds the promoted replica by itself, its scripts run
// there (also after SCRIPT FLUSH: NOSCRIPT falls back to EVAL), and every
// slot left taken after the client released all it holds is accounted for
// by a write the asynchronous replica lost.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { RoutingStore } from '../../../lua/routing-store.js';
import { AllocationLoad, settle } from '../../../tools/allocation-load.js';
import { launchSentinelGroup, type SentinelGroup } from '../../../tools/redis-topologies.js';
import { startRouterProcess, type RouterProcess } from '../../support/router-process.js';

const PODS = 20;
const CAPACITY = 1000;
const PREFIX = 'failover';
const pods = Array.from({ length: PODS }, (_, i) => `agent-${i}`);

function fleetFile(): string {
  const docs = [
    `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: standard }
spec: { tier: standard, capacity: ${CAPACITY}, replicas: ${PODS}, selector: { matchLabels: { app: agent } } }`,
    ...pods.map((p) => `kind: Pod\nmetadata: { name: ${p}, labels: { app: agent } }`),
  ];
  const file = join(mkdtempSync(join(tmpdir(), 'smart-router-failover-')), 'fleet.yaml');
  writeFileSync(file, docs.join('\n---\n'));
  return file;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let group: SentinelGroup;
let router: RouterProcess | undefined;
beforeAll(async () => {
  group = await launchSentinelGroup();
}, 60_000);
afterAll(async () => {
  await router?.stop();
  await group?.destroy();
});

test('the master killed under load: the router follows the promoted replica, and every slot left is a write the replica lost', async () => {
  router = await startRouterProcess(['standalone', '--config', fleetFile()], {
    REDIS_SENTINELS: group.sentinelsSetting,
    REDIS_SENTINEL_MASTER: group.masterName,
    KEY_PREFIX: PREFIX,
    LOG_LEVEL: 'info',
  });
  const load = new AllocationLoad({ routerUrl: router.url, workers: 8, releaseShare: 0.5 }).start();
  let newMaster: Redis | undefined;
  try {
    await waitFor('allocations before the kill', () => load.successesAfter(0) >= 100);
    const oldPort = await group.masterPort();
    const killedAt = performance.now();
    await group.nodes.find((n) => n.port === oldPort)!.stop('SIGKILL');
    const newPort = await group.waitForNewMaster(oldPort, 60_000);
    // Clients saw the outage, then the router served again on its own: no restart, no new setting.
    await waitFor('allocations on the new master', () => load.outageAfter(killedAt) !== undefined && load.successesAfter(load.outageAfter(killedAt)!.recoveredAt) >= 50).catch((err: Error) => {
      const after = load.books.timeline.filter((e) => e.at > killedAt);
      throw new Error(`${err.message}: new master on ${newPort}; since the kill ${after.length} answers, ${after.filter((e) => e.ok).length} ok; answers ${JSON.stringify([...load.books.answers])}; outage ${JSON.stringify(load.outageAfter(killedAt))}; router log tail:\n${router!.output().split('\n').slice(-40).join('\n')}`);
    });

    // A new master may not hold the scripts (and a restart or SCRIPT FLUSH empties the cache):
    // EVALSHA answers NOSCRIPT, and the call is sent again as EVAL.
    newMaster = new Redis({ host: '127.0.0.1', port: newPort, maxRetriesPerRequest: 1 });
    await newMaster.script('FLUSH');
    const flushedAt = performance.now();
    await waitFor('allocations after SCRIPT FLUSH', () => load.successesAfter(flushedAt) >= 50);
    await load.stop();

    expect(load.books.answers.get('503')).toBeGreaterThan(0);
    const store = new RoutingStore(newMaster, PREFIX);
    const { lostAllocations, lostReleases, unexplained, unsettled, remaining } = await settle(load, router.url, store, pods);
    expect(unsettled).toEqual([]);
    // Nothing is left that the client was not told about: no 503 holds a slot.
    expect(unexplained).toEqual([]);
    // A lost allocation holds nothing (its release found no call); a lost release holds its slot until the reaper.
    expect(remaining).toBe(lostReleases.length);
    const status = await store.status();
    expect(status.active_calls).toBe(lostReleases.length);
    expect(status.pools.standard!.free_slots).toBe(PODS * CAPACITY - lostReleases.length);
    expect(lostAllocations.length + lostReleases.length).toBeLessThan(load.successesAfter(0));
    // The router's log names what happened.
    expect(router.output()).toMatch(/redis reconnected/);
  } finally {
    await load.stop();
    newMaster?.disconnect();
  }
}, 120_000);
