// The scenarios of the reference end-to-end log, against the real Express app
// and a real redis-server, on the reference fleet (examples/pools.yaml):
// gold 1 exclusive pod (dedicated), standard 3 exclusive pods -> basic 1 shared pod (3 calls).
import { exampleFleet, isolatedStore, loadFleet, routerApp, sharedTestRedis, type TestRouter } from '../../support/routing.js';
import { serve, type TestServer } from '../../support/http.js';

const redis = sharedTestRedis();
let router: TestRouter;
let http: TestServer;

beforeEach(async () => {
  router = routerApp(isolatedStore(redis));
  await loadFleet(router.store, exampleFleet());
  http = await serve(router.app);
});
afterEach(async () => {
  await http.close();
});

const allocate = (callSid: string, extra: Record<string, unknown> = {}) => http.post('/api/v1/allocate', { call_sid: callSid, ...extra });
const release = (callSid: string) => http.post('/api/v1/release', { call_sid: callSid });
const STANDARD = ['voice-agent-1', 'voice-agent-2', 'voice-agent-3'];

test('1: a call is allocated to a pod with a ws_url for it, and released back to its pool', async () => {
  const res = await allocate('TEST_E2E_001_basic');
  expect(res.status).toBe(200);
  expect(Object.keys(res.body)).toEqual(['pod_name', 'source_pool', 'success', 'was_existing', 'ws_url']);
  expect(res.body).toMatchObject({ source_pool: 'pool:standard', success: true, was_existing: false });
  expect(STANDARD).toContain(res.body.pod_name);
  expect(res.body.ws_url).toBe(`wss://voice.example.test/ws/pod/${res.body.pod_name}/TEST_E2E_001_basic`);

  const record = await router.store.call('TEST_E2E_001_basic');
  expect(record).toMatchObject({ pod: res.body.pod_name, pool: 'standard' });

  const rel = await release('TEST_E2E_001_basic');
  expect(rel.status).toBe(200);
  expect(Object.keys(rel.body)).toEqual(['success', 'pod_name', 'released_to_pool', 'was_draining']);
  expect(rel.body).toEqual({ success: true, pod_name: res.body.pod_name, released_to_pool: 'pool:standard', was_draining: false });
  expect(await router.store.call('TEST_E2E_001_basic')).toBeNull();
});

test('2: allocating the same call_sid twice returns the same pod and takes no second slot', async () => {
  const first = await allocate('TEST_E2E_002_idempotent');
  const second = await allocate('TEST_E2E_002_idempotent');
  expect(second.status).toBe(200);
  expect(second.body).toEqual({ ...first.body, was_existing: true });
  const status = await http.get('/api/v1/status');
  expect(status.body.active_calls).toBe(1);
  expect(status.body.pools.standard.active_calls).toBe(1);
  expect((await release('TEST_E2E_002_idempotent')).status).toBe(200);
});

test('3: exclusive pods take one call each, then calls overflow to the shared pool', async () => {
  const pods: string[] = [];
  for (let i = 1; i <= 6; i++) {
    const res = await allocate(`TEST_E2E_003_exclusive_${i}`);
    expect(res.status).toBe(200);
    pods.push(`${res.body.source_pool}/${res.body.pod_name}`);
  }
  expect(pods.slice(0, 3).sort()).toEqual(STANDARD.map((p) => `pool:standard/${p}`));
  expect(pods.slice(3)).toEqual(['pool:basic/voice-agent-4', 'pool:basic/voice-agent-4', 'pool:basic/voice-agent-4']);
  for (let i = 1; i <= 6; i++) {
    const rel = await release(`TEST_E2E_003_exclusive_${i}`);
    expect(rel.body.released_to_pool).toBe(i <= 3 ? 'pool:standard' : 'pool:basic');
  }
  const status = await http.get('/api/v1/status');
  expect(status.body.active_calls).toBe(0);
});

test('4: the shared pod holds several calls at once', async () => {
  for (let i = 1; i <= 4; i++) expect((await allocate(`TEST_E2E_004_shared_${i}`)).status).toBe(200);
  const shared = await http.get('/api/v1/pod/voice-agent-4');
  expect(shared.body).toMatchObject({ pod_name: 'voice-agent-4', pool: 'pool:basic', active_calls: 1, calls: ['TEST_E2E_004_shared_4'] });
  const more = await allocate('TEST_E2E_004_shared_5');
  expect(more.body.pod_name).toBe('voice-agent-4');
  expect((await http.get('/api/v1/pod/voice-agent-4')).body.active_calls).toBe(2);
});

test('5: when every pod in the route is full, allocation answers 503 no pods available', async () => {
  for (let i = 1; i <= 6; i++) expect((await allocate(`fill-${i}`)).status).toBe(200);
  const res = await allocate('one-too-many');
  expect(res.status).toBe(503);
  expect(res.body).toEqual({ success: false, error: 'no pods available' });
  expect(await router.store.call('one-too-many')).toBeNull();
  await release('fill-2');
  expect((await allocate('one-too-many')).status).toBe(200);
});

test('6: missing call_sid is a 400, missing merchant_id is fine, unknown release is a 404', async () => {
  const missing = await http.post('/api/v1/allocate', { merchant_id: 'm-1' });
  expect(missing.status).toBe(400);
  expect(missing.body).toEqual({ error: 'call_sid is required' });
  const noMerchant = await allocate('TEST_E2E_006b');
  expect(noMerchant.status).toBe(200);
  const unknown = await release('TEST_E2E_NONEXISTENT');
  expect(unknown.status).toBe(404);
  expect(unknown.body).toEqual({ error: 'call not found' });
});

test('9: ten simultaneous allocations fill the six slots exactly and refuse the rest', async () => {
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => allocate(`TEST_E2E_009_${i}`)));
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 503);
  expect(ok).toHaveLength(6);
  expect(refused).toHaveLength(4);
  const exclusive = ok.filter((r) => r.body.source_pool === 'pool:standard').map((r) => r.body.pod_name);
  expect(new Set(exclusive).size).toBe(exclusive.length);
  const status = await http.get('/api/v1/status');
  expect(status.body.active_calls).toBe(6);
  expect(status.body.pools.standard).toMatchObject({ active_calls: 3, free_slots: 0 });
  expect(status.body.pools.basic).toMatchObject({ active_calls: 3, free_slots: 0 });
});

test('10: a drained pod keeps its call, gets no new ones, and its release says it was draining', async () => {
  const first = await allocate('TEST_E2E_010_drain');
  const drained = first.body.pod_name;
  const drain = await http.post('/api/v1/drain', { pod_name: drained });
  expect(drain.status).toBe(200);
  expect(drain.body).toEqual({ success: true, pod_name: drained, pool: 'pool:standard', draining: true, active_calls: 1 });

  // Free the other standard pods' slots many times over: the drained pod is never picked.
  for (let i = 0; i < 10; i++) {
    const res = await allocate(`after-drain-${i}`);
    expect(res.body.pod_name).not.toBe(drained);
    await release(`after-drain-${i}`);
  }
  const rel = await release('TEST_E2E_010_drain');
  expect(rel.body).toEqual({ success: true, pod_name: drained, released_to_pool: 'pool:standard', was_draining: true });

  const undrain = await http.post('/api/v1/undrain', { pod_name: drained });
  expect(undrain.body).toMatchObject({ draining: false, active_calls: 0 });
  const pods = new Set<string>();
  for (let i = 0; i < 3; i++) pods.add((await allocate(`after-undrain-${i}`)).body.pod_name);
  expect(pods).toContain(drained);
});

test('20: releasing the same call twice answers 200 then 404 and frees one slot only', async () => {
  await allocate('TEST_E2E_020', { tier: 'basic' });
  const first = await release('TEST_E2E_020');
  expect(first.status).toBe(200);
  expect(first.body.released_to_pool).toBe('pool:basic');
  const second = await release('TEST_E2E_020');
  expect(second.status).toBe(404);
  expect(second.body).toEqual({ error: 'call not found' });
  const status = await http.get('/api/v1/status');
  expect(status.body.pools.basic).toMatchObject({ active_calls: 0, free_slots: 3 });
});
