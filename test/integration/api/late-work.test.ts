// No work after the answer: an allocation the router answered 503 (Redis
// too slow, the router itself stalled) never holds a slot, so releasing
// every call the clients were told about leaves the fleet empty.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { silentLogger } from '../../../core/logger.js';
import { connectRedis, createRedisClient } from '../../../lua/redis-client.js';
import { RoutingStore } from '../../../lua/routing-store.js';
import { auditSlots } from '../../../lua/slot-audit.js';
import { launchRedis, type TestRedisServer } from '../../support/redis-server.js';
import { startRouterProcess, type RouterProcess } from '../../support/router-process.js';
import { pool, routerApp } from '../../support/routing.js';
import { serve, type TestServer } from '../../support/http.js';

const PODS = 40;
const CAPACITY = 100;

let server: TestRedisServer;
let redis: Redis;
beforeEach(async () => {
  server = await launchRedis();
  redis = createRedisClient(server.url, 300, silentLogger());
  await connectRedis(redis, 5000);
});
afterEach(async () => {
  server.resume();
  redis.disconnect();
  await server.destroy();
});

const members = () => Array.from({ length: PODS }, (_, i) => ({ pod: `agent-${i}`, ready: true, draining: false, incarnation: '' }));

async function post(url: string, path: string, body: unknown, timeoutMs?: number): Promise<{ status: number; body: Record<string, unknown> } | 'gave up'> {
  try {
    const res = await fetch(url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } catch (err) {
    if ((err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError') return 'gave up';
    throw err;
  }
}

/** Every command sent before this has run: one connection runs them in order. */
async function drained(store: RoutingStore): Promise<void> {
  await store.redis.ping();
}

test('Redis paused 3 s under load: calls answered 200, once released, leave zero slots taken', async () => {
  const store = new RoutingStore(redis, 'paused');
  await store.syncPool(pool('standard', { capacity: CAPACITY, replicas: PODS }), members());
  const router = routerApp(store, { requestTimeoutMs: 300 });
  const http: TestServer = await serve(router.app);
  const known: string[] = [];
  const answers = new Map<string, number>();
  let running = true;
  let n = 0;
  const worker = async () => {
    while (running) {
      const sid = `paused-${n++}`;
      const res = await post(http.url, '/api/v1/allocate', { call_sid: sid });
      if (res === 'gave up') continue;
      answers.set(String(res.status), (answers.get(String(res.status)) ?? 0) + 1);
      if (res.status === 200) known.push(sid);
    }
  };
  try {
    const workers = Array.from({ length: 16 }, worker);
    await new Promise((r) => setTimeout(r, 500));
    server.pause();
    await new Promise((r) => setTimeout(r, 3000));
    server.resume();
    await new Promise((r) => setTimeout(r, 1000));
    running = false;
    await Promise.all(workers);
    await drained(store);

    // The pause made requests fail, and the router kept serving before and after it.
    expect(answers.get('503')).toBeGreaterThan(0);
    expect(known.length).toBeGreaterThan(0);
    for (const sid of known) expect((await post(http.url, '/api/v1/release', { call_sid: sid })) as { status: number }).toMatchObject({ status: 200 });
    const status = await store.status();
    expect(status.active_calls).toBe(0);
    expect(status.pools.standard!.free_slots).toBe(PODS * CAPACITY);
    // Not only the counters: no pod's call set, score or call record holds anything either.
    expect(await auditSlots(redis, 'paused')).toEqual({ callRecords: 0, deadlines: 0, poolCalls: 0, poolBusy: 0, poolFreeShort: 0, podCallSets: 0, availScores: 0 });
  } finally {
    running = false;
    await http.close();
  }
});

function fleetFile(): string {
  const docs = [
    `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: standard }
spec: { tier: standard, exclusive: true, replicas: 50, selector: { matchLabels: { app: agent } } }`,
  ];
  for (let i = 0; i < 50; i++) docs.push(`kind: Pod\nmetadata: { name: agent-${i}, labels: { app: agent } }`);
  const file = join(mkdtempSync(join(tmpdir(), 'smart-router-stall-')), 'fleet.yaml');
  writeFileSync(file, docs.join('\n---\n'));
  return file;
}

test('a router stopped past its clients’ timeout allocates nothing for them when it resumes', async () => {
  const file = fleetFile();
  // Shedding off: a stalled loop would shed the backlog too; this proves the deadline alone keeps it from Redis.
  const env = { REDIS_URL: server.url, KEY_PREFIX: 'stall', REDIS_COMMAND_TIMEOUT_MS: '500', LOG_LEVEL: 'info', SHED_EVENT_LOOP_LAG_MS: '0' };
  const routers: RouterProcess[] = [];
  try {
    routers.push(await startRouterProcess(['standalone', '--config', file], env));
    routers.push(await startRouterProcess(['standalone', '--config', file], env));
    const [stalled, healthy] = routers as [RouterProcess, RouterProcess];
    const store = new RoutingStore(redis, 'stall');

    stalled.child.kill('SIGSTOP');
    // 20 clients give up on the stalled router after 1 s; half retry elsewhere and end their call there.
    const abandoned = await Promise.all(Array.from({ length: 20 }, (_, i) => post(stalled.url, '/api/v1/allocate', { call_sid: `stalled-${i}` }, 1000)));
    expect(abandoned.every((r) => r === 'gave up')).toBe(true);
    for (let i = 0; i < 10; i++) {
      expect(await post(healthy.url, '/api/v1/allocate', { call_sid: `stalled-${i}` })).toMatchObject({ status: 200 });
      expect(await post(healthy.url, '/api/v1/release', { call_sid: `stalled-${i}` })).toMatchObject({ status: 200 });
    }
    await new Promise((r) => setTimeout(r, 500));
    stalled.child.kill('SIGCONT');

    // The resumed router answers: it still works, and it did nothing for the abandoned requests.
    let fresh: Awaited<ReturnType<typeof post>> = 'gave up';
    for (let i = 0; i < 100 && (fresh === 'gave up' || fresh.status !== 200); i++) {
      fresh = await post(stalled.url, '/api/v1/allocate', { call_sid: `after-${i}` }, 5000);
      if (fresh !== 'gave up' && fresh.status === 200) expect(await post(stalled.url, '/api/v1/release', { call_sid: `after-${i}` })).toMatchObject({ status: 200 });
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(fresh).toMatchObject({ status: 200 });
    await drained(store);
    const left = (await store.status()).active_calls;
    if (left) console.log(stalled.output());
    expect(left).toBe(0);
    expect(await auditSlots(redis, 'stall')).toEqual({ callRecords: 0, deadlines: 0, poolCalls: 0, poolBusy: 0, poolFreeShort: 0, podCallSets: 0, availScores: 0 });
  } finally {
    await Promise.all(routers.map((r) => r.stop('SIGKILL')));
  }
});
