// A real three-master Redis Cluster: the router allocates and releases
// through it, and every script (router and reconciler side) runs there.
// All of an installation's keys carry one hash tag, so they live in one
// slot, on one master, and the others hold nothing of it.
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { silentLogger } from '../../../core/logger.js';
import { listenForAutoscaleWakeups } from '../../../lua/autoscale-wakeups.js';
import { connectRedis, createRedisClient, type RedisClient } from '../../../lua/redis-client.js';
import { RoutingStore } from '../../../lua/routing-store.js';
import { loadLuaCommands } from '../../../lua/script-loader.js';
import { launchRedisCluster, type RedisClusterNodes } from '../../../tools/redis-topologies.js';
import { startRouterProcess, type RouterProcess } from '../../support/router-process.js';
import { pool } from '../../support/routing.js';

const PREFIX = 'cluster-test';

function fleetFile(): string {
  const docs = [
    `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: standard }
spec: { tier: standard, exclusive: true, replicas: 5, selector: { matchLabels: { app: agent } } }`,
    ...Array.from({ length: 5 }, (_, i) => `kind: Pod\nmetadata: { name: agent-${i}, labels: { app: agent } }`),
  ];
  const file = join(mkdtempSync(join(tmpdir(), 'smart-router-cluster-')), 'fleet.yaml');
  writeFileSync(file, docs.join('\n---\n'));
  return file;
}

let cluster: RedisClusterNodes;
let client: RedisClient;
let router: RouterProcess | undefined;
beforeAll(async () => {
  cluster = await launchRedisCluster(3);
  client = createRedisClient({ kind: 'cluster', nodes: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), auth: {}, tls: false }, 2000, silentLogger());
  await connectRedis(client, 20_000);
}, 90_000);
afterAll(async () => {
  await router?.stop();
  client?.disconnect();
  await cluster?.destroy();
});

const post = async (url: string, path: string, body: unknown) => {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

/** Keys per node: (port, count). */
async function keysPerNode(): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const n of cluster.nodes) {
    const r = new Redis({ host: '127.0.0.1', port: n.port });
    out.set(n.port, await r.keys('*'));
    r.disconnect();
  }
  return out;
}

test('the router allocates and releases through a Redis Cluster, every key in one slot on one master', async () => {
  router = await startRouterProcess(['standalone', '--config', fleetFile()], { REDIS_CLUSTER_NODES: cluster.nodesSetting, KEY_PREFIX: PREFIX });
  const held: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await post(router.url, '/api/v1/allocate', { call_sid: `c${i}` });
    expect(res).toMatchObject({ status: 200, body: { success: true, was_existing: false } });
    held.push(res.body.pod_name as string);
  }
  expect(new Set(held).size).toBe(5);
  expect(await post(router.url, '/api/v1/allocate', { call_sid: 'c5' })).toMatchObject({ status: 503, body: { error: 'no pods available' } });
  expect(await post(router.url, '/api/v1/allocate', { call_sid: 'c0' })).toMatchObject({ status: 200, body: { was_existing: true } });
  for (let i = 0; i < 5; i++) expect((await post(router.url, '/api/v1/release', { call_sid: `c${i}` })).status).toBe(200);
  expect((await post(router.url, '/api/v1/release', { call_sid: 'c0' })).status).toBe(404);
  expect((await post(router.url, '/api/v1/allocate', { call_sid: 'c0' })).status).toBe(409);
  const status = (await (await fetch(`${router.url}/api/v1/status`)).json()) as { active_calls: number; pools: Record<string, { free_slots: number }> };
  expect(status).toMatchObject({ active_calls: 0, pools: { standard: { free_slots: 5 } } });

  const byNode = await keysPerNode();
  const owners = [...byNode].filter(([, keys]) => keys.some((k) => k.startsWith(`{${PREFIX}}`)));
  expect(owners).toHaveLength(1);
  const slot = await client.cluster('KEYSLOT', `{${PREFIX}}`);
  for (const key of owners[0]![1].filter((k) => k.startsWith(`{${PREFIX}}`))) expect(await client.cluster('KEYSLOT', key)).toBe(slot);
});

test('every script runs on the master of the routing slot: reconciler writes, drains, reaps, recounts, retirements, routing reads, grow points', async () => {
  const prefix = 'cluster-ops';
  const store = new RoutingStore(client, prefix, { tombstoneSeconds: 60 });
  expect((await store.claimOwner('ops-install')).outcome).toBe('claimed');
  await store.beginTerm(1);
  const members = ['p0', 'p1', 'p2'].map((pod) => ({ pod, ready: true, draining: false, incarnation: 'i1' }));
  await store.syncPool(pool('shared', { capacity: 2, replicas: 3, maxCallDurationSeconds: 1 }), members);
  const version = await store.poolsVersion();
  // The allocation that reaches the grow point publishes; a listener on the cluster hears it.
  const woken: string[] = [];
  const wakeups = listenForAutoscaleWakeups(client, store.keys.autoscaleChannel, (p) => woken.push(p), silentLogger());
  await wakeups.subscribed;
  expect(await store.setGrowPoint('shared', 1)).toBe(true);
  expect(await store.allocate('a', ['shared'], version)).toMatchObject({ kind: 'allocated' });
  for (let i = 0; i < 50 && !woken.length; i++) await new Promise((r) => setTimeout(r, 50));
  expect(woken).toEqual(['shared']);
  await wakeups.stop();
  expect(await store.allocate('b', ['shared'], version, '', { deadlineRedisMs: Number.MAX_SAFE_INTEGER, token: 't' })).toMatchObject({ kind: 'allocated' });
  expect(await store.abandon('b', 't')).toBe(true);
  expect(await store.setDraining('p0', true)).not.toBeNull();
  expect(await store.setDraining('p0', false)).not.toBeNull();
  expect(await store.setReady('p1', false)).toBe(true);
  expect(await store.podEvictionState('p0')).not.toBeNull();
  expect((await store.podRouting(['p0', 'p1'])).get('p0')).toMatchObject({ pool: 'shared' });
  expect(await store.recountPool('shared')).toEqual([]);
  const retired = await store.retireIdlePods([{ pod: 'p2', tier: 0 }], 1);
  expect(retired.picked.length).toBeLessThanOrEqual(1);
  if (retired.picked.length === 1) expect(await store.unretirePod('p2', false)).toBe(true);
  await new Promise((r) => setTimeout(r, 1100)); // past the pool's max call duration
  expect((await store.reapExpired()).map((c) => c.callSid)).toEqual(['a']);
  expect(await store.release('a')).toBeNull();
  expect(await store.allocate('c', ['shared'], version)).toMatchObject({ kind: 'allocated' });
  expect((await store.removePod((await store.call('c'))!.pod)).map((c) => c.callSid)).toEqual(['c']);
  expect(await store.setGrowPoint('shared', 4)).toBe(true);
  expect(await store.leavePool('shared', ['p1'])).toBe(1);
  await store.deletePool('shared');
  expect((await store.status()).active_calls).toBe(0);

  // Every script of lua/ ran, on the one master that owns the slot. A script
  // is routed by its first key, so each declares at least one; the keys it
  // builds from the base carry the same hash tag (same slot, same node).
  for (const command of loadLuaCommands()) expect([command.name, command.numberOfKeys > 0]).toEqual([command.name, true]);
  const slot = await client.cluster('KEYSLOT', `{${prefix}}`);
  const ports = await Promise.all(
    cluster.nodes.map(async (n) => {
      const r = new Redis({ host: '127.0.0.1', port: n.port });
      const count = Number(await r.cluster('COUNTKEYSINSLOT', slot));
      const shas = loadLuaCommands().map((c) => createHash('sha1').update(c.lua).digest('hex'));
      const cached = (await r.script('EXISTS', ...shas)) as number[];
      r.disconnect();
      return { port: n.port, count, cached: cached.filter(Boolean).length, all: shas.length };
    }),
  );
  const serving = ports.filter((p) => p.count > 0);
  expect(serving).toHaveLength(1);
  expect(serving[0]!.cached).toBe(serving[0]!.all);
});
