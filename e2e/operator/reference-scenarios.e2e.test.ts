// The reference log's scenarios through the operator's HTTP API, with pods
// that Kubernetes created and the operator assigned.
import { api, countBy, kubectlJson, operatorEnv, poolStatus, startExampleFleet, waitFor, waitForLabels, type OperatorEnv } from './support.js';
import type { RouterProcess } from '../../test/support/router-process.js';

let env: OperatorEnv;
let op: RouterProcess;

beforeAll(async () => {
  env = await operatorEnv('e2e-ref');
  ({ op } = await startExampleFleet(env));
}, 120_000);
afterAll(async () => {
  await env?.teardown();
}, 60_000);

test('the pools are labelled, in Redis and in status', async () => {
  const labels = await waitForLabels(env.namespace, 'labels', () => true);
  expect(countBy(labels)).toEqual({ gold: 1, standard: 3, basic: 1 });
  for (const pool of ['gold', 'standard', 'basic']) {
    const members = await env.store.poolMembers(pool);
    expect(members.sort()).toEqual(Object.keys(labels).filter((p) => labels[p] === pool).sort());
  }
  const status = await waitFor('standard status', async () => {
    const s = await poolStatus(env.namespace, 'standard');
    return s.readyPods === 3 ? s : undefined;
  });
  expect(status).toMatchObject({ pods: 3, readyPods: 3, drainingPods: 0, activeCalls: 0, freeSlots: 3, observedGeneration: 1 });
  expect(status.conditions.find((c: { type: string }) => c.type === 'Ready')).toMatchObject({ status: 'True' });
  const res = await api(op, '/api/v1/status');
  expect(res.body).toMatchObject({ is_leader: true, status: 'up', active_calls: 0 });
  expect(res.body.pools.standard).toMatchObject({ pods: 3, ready: 3, free_slots: 3 });
});

test('scenarios 1-5, 9, 20: allocate, idempotency, exclusive then shared, exhaustion, concurrency, release twice', async () => {
  const first = await api(op, '/api/v1/allocate', { call_sid: 'TEST_E2E_001_basic' });
  expect(first.body).toMatchObject({ success: true, source_pool: 'pool:standard', was_existing: false });
  expect((await api(op, '/api/v1/allocate', { call_sid: 'TEST_E2E_001_basic' })).body).toMatchObject({ pod_name: first.body.pod_name, was_existing: true });
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => api(op, '/api/v1/allocate', { call_sid: `TEST_E2E_009_${i}` })));
  expect(results.filter((r) => r.status === 200)).toHaveLength(5);
  expect(results.filter((r) => r.status === 503).every((r) => r.body.error === 'no pods available')).toBe(true);
  const pools = countBy(Object.fromEntries(results.filter((r) => r.status === 200).map((r, i) => [i, r.body.source_pool])));
  expect(pools).toEqual({ 'pool:standard': 2, 'pool:basic': 3 });
  expect((await api(op, '/api/v1/allocate', { call_sid: 'gold-call', merchant_id: 'merchant-gold-1' })).body.source_pool).toBe('pool:gold');

  const rel = await api(op, '/api/v1/release', { call_sid: 'TEST_E2E_001_basic' });
  expect(rel.body).toMatchObject({ success: true, released_to_pool: 'pool:standard', was_draining: false });
  expect((await api(op, '/api/v1/release', { call_sid: 'TEST_E2E_001_basic' })).status).toBe(404);
  for (const r of results.filter((x) => x.status === 200)) await api(op, '/api/v1/release', { call_sid: r.body.ws_url.split('/').pop() });
  await api(op, '/api/v1/release', { call_sid: 'gold-call' });
  expect((await api(op, '/api/v1/status')).body.active_calls).toBe(0);
});

test('10: draining through the API sets the annotation; the pod keeps its call and gets no new ones', async () => {
  const call = await api(op, '/api/v1/allocate', { call_sid: 'TEST_E2E_010_drain' });
  const pod = call.body.pod_name as string;
  const drain = await api(op, '/api/v1/drain', { pod_name: pod });
  expect(drain.body).toMatchObject({ success: true, pod_name: pod, draining: true, active_calls: 1 });
  const obj = await kubectlJson<{ metadata: { annotations?: Record<string, string> } }>(['get', 'pod', pod], env.namespace);
  expect(obj.metadata.annotations?.['smartrouter.io/drain']).toBe('true');
  for (let i = 0; i < 4; i++) {
    const other = await api(op, '/api/v1/allocate', { call_sid: `d-${i}` });
    expect(other.body.pod_name).not.toBe(pod);
    await api(op, '/api/v1/release', { call_sid: `d-${i}` });
  }
  expect((await api(op, '/api/v1/release', { call_sid: 'TEST_E2E_010_drain' })).body).toMatchObject({ pod_name: pod, was_draining: true });
  await api(op, '/api/v1/undrain', { pod_name: pod });
  const after = await kubectlJson<{ metadata: { annotations?: Record<string, string> } }>(['get', 'pod', pod], env.namespace);
  expect(after.metadata.annotations?.['smartrouter.io/drain']).toBeUndefined();
  expect((await api(op, '/api/v1/drain', { pod_name: 'no-such-pod' })).status).toBe(404);
});
