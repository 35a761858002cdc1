// Every way a pod drains reads the same: GET /api/v1/pod/<name> says
// draining: true, and the release of its calls says was_draining: true.
import type { RoutingStore } from '../../../lua/routing-store.js';
import { FakeFleet, fakeFleetReconciler } from '../../support/fake-fleet.js';
import { serve, type TestServer } from '../../support/http.js';
import { isolatedStore, routerApp, sharedTestRedis } from '../../support/routing.js';

const redis = sharedTestRedis();
let store: RoutingStore;
let fleet: FakeFleet;
let http: TestServer;
beforeEach(async () => {
  store = isolatedStore(redis);
  fleet = new FakeFleet();
  http = await serve(routerApp(store).app);
});
afterEach(async () => {
  await http.close();
});

const ways: [string, (fleet: FakeFleet) => void][] = [
  ['drain annotation', (f) => f.updatePod('a', (p) => (p.metadata!.annotations = { 'smartrouter.io/drain': 'true' }))],
  ['pool shrinks', (f) => (f.pools.get('standard')!.spec = { ...(f.pools.get('standard')!.spec as object), replicas: 0 })],
  ['pool deleted', (f) => f.deletePool('standard')],
  ['pod terminating', (f) => f.updatePod('a', (p) => (p.metadata!.deletionTimestamp = new Date()))],
  ['pod no longer matches the selector', (f) => f.updatePod('a', (p) => (p.metadata!.labels = { ...p.metadata!.labels, app: 'other' }))],
];

describe.each(ways)('a pod drained because: %s', (_why, drain) => {
  test('reads draining while it holds its call, and its release says was_draining', async () => {
    fleet.addPool('standard', { replicas: 1 });
    fleet.addPod('a');
    const { run } = fakeFleetReconciler(fleet, store);
    await run();
    expect((await http.post('/api/v1/allocate', { call_sid: 'x' })).body).toMatchObject({ pod_name: 'a' });

    drain(fleet);
    await run();

    const pod = await http.get('/api/v1/pod/a');
    expect(pod.body).toMatchObject({ pod_name: 'a', draining: true, active_calls: 1, calls: ['x'] });
    expect((await http.post('/api/v1/allocate', { call_sid: 'y' })).status).toBe(503);
    expect((await http.post('/api/v1/release', { call_sid: 'x' })).body).toMatchObject({ success: true, pod_name: 'a', was_draining: true });
  });
});
