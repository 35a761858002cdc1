// Standalone mode after Redis loses its data (FLUSHALL): every replica sees it
// at once, writes the pools file again, holds out the pods that were busy, and
// allocations succeed again without a restart.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RoutingStore } from '../../../lua/routing-store.js';
import { launchRedis, type TestRedisServer } from '../../support/redis-server.js';
import { startRouterProcess, type RouterProcess } from '../../support/router-process.js';

const PODS = 6;
let server: TestRedisServer;
let redis: Redis;
let routers: RouterProcess[] = [];

function fleetFile(): string {
  const docs = [`apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: exclusive }
spec: { tier: standard, exclusive: true, replicas: ${PODS}, selector: { matchLabels: { kind: agent } } }`];
  for (let i = 0; i < PODS; i++) docs.push(`kind: Pod\nmetadata: { name: agent-${i}, labels: { kind: agent } }`);
  const file = join(mkdtempSync(join(tmpdir(), 'smart-router-loss-')), 'fleet.yaml');
  writeFileSync(file, docs.join('\n---\n'));
  return file;
}

beforeAll(async () => {
  server = await launchRedis({ appendonly: false });
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  await Promise.all(routers.map((r) => r.stop()));
  redis.disconnect();
  await server.destroy();
});

const allocate = async (router: RouterProcess, sid: string) => {
  const res = await fetch(`${router.url}/api/v1/allocate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ call_sid: sid }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const metricValue = async (router: RouterProcess, name: string) => {
  const text = await (await fetch(`${router.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
};

test('FLUSHALL: the state is rebuilt at once, busy pods are held out, and no pod gets a second call', async () => {
  const prefix = `loss-${randomUUID().slice(0, 8)}`;
  const env = { REDIS_URL: server.url, KEY_PREFIX: prefix, RESYNC_SECONDS: '1', STATE_CHECK_INTERVAL_MS: '100', LOST_STATE_GRACE_SECONDS: '600' };
  const file = fleetFile();
  routers = await Promise.all([0, 1].map(() => startRouterProcess(['standalone', '--config', file], env)));
  const before = await Promise.all([0, 1, 2].map((i) => allocate(routers[i % 2]!, `before-${i}`)));
  const busy = new Set(before.map((r) => r.body.pod_name as string));
  expect(busy.size).toBe(3);
  // Each replica reads which pods hold calls once per resync (1 s here): let them.
  await new Promise((r) => setTimeout(r, 3_000));

  await redis.flushall();
  const flushedAt = performance.now();
  let firstOkMs: number | undefined;
  const after: string[] = [];
  for (let i = 0; i < 200 && after.length < 3; i++) {
    const r = await allocate(routers[i % 2]!, `after-${i}`);
    if (r.status === 200) {
      firstOkMs ??= performance.now() - flushedAt;
      after.push(r.body.pod_name as string);
    } else {
      expect(r.status).toBe(503);
      await new Promise((res) => setTimeout(res, 20));
    }
  }
  console.log(`standalone: first allocation after FLUSHALL succeeded ${firstOkMs?.toFixed(0)} ms after the flush`);
  expect(after).toHaveLength(3);
  // The busy pods (their agents may still stream the calls from before) took nothing new.
  for (const pod of after) expect(busy.has(pod)).toBe(false);
  expect((await allocate(routers[0]!, 'one-too-many')).status).toBe(503);
  const store = new RoutingStore(redis, prefix);
  for (const pod of busy) expect(await redis.zscore(store.keys.poolAvail('exclusive'), pod)).toBeNull();
  const lost = await Promise.all(routers.map((r) => metricValue(r, 'smart_router_routing_state_lost_total')));
  expect(lost.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
  expect((await fetch(`${routers[0]!.url}/ready`)).status).toBe(200);
});
