// A call that ended leaves a tombstone: an allocation that comes later for
// it (a provider retry, a replayed webhook, a status callback that overtook
// a slow allocate) answers 409 with the reason and takes no slot.
import { randomUUID } from 'node:crypto';
import { RoutingStore } from '../../../lua/routing-store.js';
import { exampleFleet, isolatedStore, loadFleet, routerApp, sharedTestRedis, type TestRouter } from '../../support/routing.js';
import { serve, type TestServer } from '../../support/http.js';

const redis = sharedTestRedis();
let router: TestRouter;
let http: TestServer;

async function start(store: RoutingStore = isolatedStore(redis)): Promise<void> {
  router = routerApp(store);
  await loadFleet(router.store, exampleFleet());
  http = await serve(router.app);
}
afterEach(async () => {
  await http?.close();
});

const allocate = (callSid: string) => http.post('/api/v1/allocate', { call_sid: callSid });
const release = (callSid: string) => http.post('/api/v1/release', { call_sid: callSid });
const freeSlots = async () => {
  const status = await http.get('/api/v1/status');
  return { active: status.body.active_calls as number, standard: status.body.pools.standard.free_slots as number, basic: status.body.pools.basic.free_slots as number };
};

function expectEnded(res: { status: number; body: Record<string, unknown> }, callSid: string, reason: string): void {
  expect(res.status).toBe(409);
  expect(res.body).toEqual({ success: false, error: 'call_ended', reason, call_sid: callSid, ended_at: expect.any(String) });
  expect(Number.isNaN(Date.parse(res.body.ended_at as string))).toBe(false);
}

test('allocate -> release -> allocate answers 409 call_ended and the pools keep their free slots', async () => {
  await start();
  const before = await freeSlots();
  expect((await allocate('ended-1')).status).toBe(200);
  expect((await release('ended-1')).status).toBe(200);

  const late = await allocate('ended-1');
  expectEnded(late, 'ended-1', 'released');
  expect(await freeSlots()).toEqual(before);
  expect(await router.store.call('ended-1')).toBeNull();

  // Releases keep their contract: the second one finds nothing.
  const second = await release('ended-1');
  expect(second.status).toBe(404);
  expect(second.body).toEqual({ error: 'call not found' });
  // And the tombstone still says why the call ended.
  expectEnded(await allocate('ended-1'), 'ended-1', 'released');
});

test('a release that overtakes its allocation keeps the late allocation from taking a slot', async () => {
  await start();
  const before = await freeSlots();
  const early = await release('overtaken');
  expect(early.status).toBe(404);
  expect(early.body).toEqual({ error: 'call not found' });
  expectEnded(await allocate('overtaken'), 'overtaken', 'released_before_allocation');
  expect(await freeSlots()).toEqual(before);
});

test('a call reaped after its max duration leaves a tombstone with reason expired', async () => {
  await start();
  expect((await allocate('zombie')).status).toBe(200);
  const before = await freeSlots();
  await redis.zadd(router.store.keys.deadlines, 0, 'zombie');
  expect((await router.store.reapExpired()).map((c) => c.callSid)).toEqual(['zombie']);
  const after = await freeSlots();
  expect(after.active).toBe(before.active - 1);
  expectEnded(await allocate('zombie'), 'zombie', 'expired');
  expect(await freeSlots()).toEqual(after);
});

test('calls of a pod that is gone leave tombstones with reason pod_gone', async () => {
  await start();
  const res = await allocate('on-gone-pod');
  expect(res.status).toBe(200);
  expect((await router.store.removePod(res.body.pod_name)).map((c) => c.callSid)).toEqual(['on-gone-pod']);
  const after = await freeSlots();
  expectEnded(await allocate('on-gone-pod'), 'on-gone-pod', 'pod_gone');
  expect(await freeSlots()).toEqual(after);
});

test('calls of a pod that restarted leave tombstones with reason pod_restarted', async () => {
  const fleet = exampleFleet();
  const store = isolatedStore(redis);
  for (const p of fleet.pods) p.incarnation = `uid-${p.name}:0`;
  router = routerApp(store);
  await loadFleet(store, fleet);
  http = await serve(router.app);

  const res = await allocate('on-restarted-pod');
  expect(res.status).toBe(200);
  for (const p of fleet.pods) if (p.name === res.body.pod_name) p.incarnation = `uid-${p.name}:1`;
  await loadFleet(store, fleet);
  expect(await store.call('on-restarted-pod')).toBeNull();
  expectEnded(await allocate('on-restarted-pod'), 'on-restarted-pod', 'pod_restarted');
});

test('the tombstone lives CALL_TOMBSTONE_SECONDS, then the call_sid is free again', async () => {
  await start(new RoutingStore(redis, `t-${randomUUID().slice(0, 8)}`, { tombstoneSeconds: 1 }));
  expect((await allocate('short-lived')).status).toBe(200);
  expect((await release('short-lived')).status).toBe(200);
  const ttl = await redis.pttl(router.store.keys.endedCall('short-lived'));
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(1000);
  expectEnded(await allocate('short-lived'), 'short-lived', 'released');
  for (let i = 0; i < 100 && (await redis.exists(router.store.keys.endedCall('short-lived'))); i++) await new Promise((r) => setTimeout(r, 100));
  expect((await allocate('short-lived')).status).toBe(200);
});

test('ended-call refusals are counted as call_ended', async () => {
  await start();
  expect((await allocate('counted')).status).toBe(200);
  expect((await release('counted')).status).toBe(200);
  expect((await allocate('counted')).status).toBe(409);
  const metrics = (await http.get('/metrics')).text;
  expect(metrics).toMatch(/smart_router_allocations_total\{tier="standard",pool="",result="call_ended"\} 1/);
});
