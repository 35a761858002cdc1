// Several router processes share one Redis, as replicas do in production.
// Redis is the only point of serialization: no pod is ever double-booked.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RoutingStore } from '../../../lua/routing-store.js';
import { startRouterProcess, type RouterProcess } from '../../support/router-process.js';
import { testRedisClient, testRedisUrl } from '../../support/routing.js';

const EXCLUSIVE_PODS = 300;
const SHARED_PODS = 75;
const SHARED_CAPACITY = 4;
const SLOTS = EXCLUSIVE_PODS + SHARED_PODS * SHARED_CAPACITY; // 600

function fleetFile(): string {
  const docs = [
    `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: exclusive }
spec: { tier: standard, exclusive: true, replicas: ${EXCLUSIVE_PODS}, priority: 10, selector: { matchLabels: { kind: exclusive } }, fallback: [shared] }`,
    `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: shared }
spec: { tier: basic, capacity: ${SHARED_CAPACITY}, replicas: ${SHARED_PODS}, selector: { matchLabels: { kind: shared } } }`,
  ];
  for (let i = 0; i < EXCLUSIVE_PODS; i++) docs.push(`kind: Pod\nmetadata: { name: ex-${i}, labels: { kind: exclusive } }`);
  for (let i = 0; i < SHARED_PODS; i++) docs.push(`kind: Pod\nmetadata: { name: sh-${i}, labels: { kind: shared } }`);
  const file = join(mkdtempSync(join(tmpdir(), 'smart-router-fleet-')), 'fleet.yaml');
  writeFileSync(file, docs.join('\n---\n'));
  return file;
}

let routers: RouterProcess[] = [];
let redis: Redis;
let store: RoutingStore;

beforeAll(async () => {
  const prefix = `mp-${randomUUID().slice(0, 8)}`;
  const file = fleetFile();
  // A burst of 1,000 requests on a small machine takes longer than the default
  // 1 s request deadline and would be shed, and a request can wait behind the
  // burst longer than the 10 s a client gets to send one (answered 408); here
  // only serialization is under test, not latency.
  const env = {
    REDIS_URL: testRedisUrl(),
    KEY_PREFIX: prefix,
    REDIS_COMMAND_TIMEOUT_MS: '30000',
    SHED_MAX_INFLIGHT_ALLOCATIONS: '0',
    SHED_EVENT_LOOP_LAG_MS: '0',
    HTTP_REQUEST_TIMEOUT_SECONDS: '120',
    HTTP_HEADERS_TIMEOUT_SECONDS: '60',
  };
  routers = await Promise.all([0, 1, 2].map(() => startRouterProcess(['standalone', '--config', file], env)));
  redis = testRedisClient();
  store = new RoutingStore(redis, prefix);
}, 60_000);

afterAll(async () => {
  await Promise.all(routers.map((r) => r.stop()));
  await redis?.quit();
});

const post = async (url: string, path: string, body: unknown) => {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

async function podLoads(): Promise<Map<string, number>> {
  const loads = new Map<string, number>();
  for (const prefix of ['ex', 'sh']) {
    const count = prefix === 'ex' ? EXCLUSIVE_PODS : SHARED_PODS;
    const pipeline = redis.pipeline();
    for (let i = 0; i < count; i++) pipeline.scard(store.keys.podCalls(`${prefix}-${i}`));
    const results = (await pipeline.exec())!;
    results.forEach(([, n], i) => loads.set(`${prefix}-${i}`, n as number));
  }
  return loads;
}

test(`1,000 concurrent allocations across 3 replicas take exactly the ${SLOTS} slots, never double-booking a pod`, async () => {
  const results = await Promise.all(
    Array.from({ length: 1000 }, (_, i) => post(routers[i % 3]!.url, '/api/v1/allocate', { call_sid: `load-${i}` })),
  );
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 503);
  expect(ok).toHaveLength(SLOTS);
  expect(refused).toHaveLength(1000 - SLOTS);
  expect(refused.every((r) => r.body.error === 'no pods available')).toBe(true);

  const loads = await podLoads();
  for (const [pod, calls] of loads) expect(calls).toBe(pod.startsWith('ex-') ? 1 : SHARED_CAPACITY);
  expect((await store.status()).active_calls).toBe(SLOTS);

  const released = await Promise.all(ok.map((r, i) => post(routers[(i + 1) % 3]!.url, '/api/v1/release', { call_sid: `load-${results.indexOf(r)}` })));
  expect(released.every((r) => r.status === 200)).toBe(true);
  const status = await store.status();
  expect(status.active_calls).toBe(0);
  expect(status.pools.exclusive).toMatchObject({ active_calls: 0, free_slots: EXCLUSIVE_PODS });
  expect(status.pools.shared).toMatchObject({ active_calls: 0, free_slots: SHARED_PODS * SHARED_CAPACITY });
  expect([...(await podLoads()).values()].every((n) => n === 0)).toBe(true);
}, 60_000);

test('200 concurrent duplicates of one call_sid across replicas take exactly one slot', async () => {
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => post(routers[i % 3]!.url, '/api/v1/allocate', { call_sid: 'dup-call' })));
  expect(results.every((r) => r.status === 200)).toBe(true);
  expect(new Set(results.map((r) => r.body.pod_name)).size).toBe(1);
  expect(results.filter((r) => r.body.was_existing === false)).toHaveLength(1);
  expect((await store.status()).active_calls).toBe(1);

  const releases = await Promise.all(Array.from({ length: 20 }, (_, i) => post(routers[i % 3]!.url, '/api/v1/release', { call_sid: 'dup-call' })));
  expect(releases.filter((r) => r.status === 200)).toHaveLength(1);
  expect(releases.filter((r) => r.status === 404)).toHaveLength(19);
  expect((await store.status()).active_calls).toBe(0);
  expect([...(await podLoads()).values()].every((n) => n === 0)).toBe(true);
}, 60_000);

test('SIGTERM stops a replica cleanly while the others keep serving', async () => {
  const last = routers.pop()!;
  expect(await last.stop('SIGTERM')).toBe(0);
  const res = await post(routers[0]!.url, '/api/v1/allocate', { call_sid: 'after-stop' });
  expect(res.status).toBe(200);
  await post(routers[1]!.url, '/api/v1/release', { call_sid: 'after-stop' });
}, 30_000);
