// POST /api/v1/pod/<name>/wait-idle, as a voice agent's preStop hook calls
// it: the pod is drained at once and the answer comes when its calls end.
import { isolatedStore, pool, routerApp, sharedTestRedis, type TestRouter } from '../../support/routing.js';
import { serve, type TestServer } from '../../support/http.js';

const redis = sharedTestRedis();
let router: TestRouter;
let http: TestServer;
const member = (pod: string) => ({ pod, ready: true, draining: false, incarnation: `${pod}-uid:0` });

beforeEach(async () => {
  router = routerApp(isolatedStore(redis));
  await router.store.syncPool(pool('standard', { capacity: 2, replicas: 2 }), [member('a'), member('b')]);
  http = await serve(router.app);
});
afterEach(async () => {
  await http.close();
});

const allocate = (sid: string) => http.post('/api/v1/allocate', { call_sid: sid });
const waitIdle = (pod: string, query = '') => http.post(`/api/v1/pod/${pod}/wait-idle${query}`);

test('drains the pod at once and answers 200 when its last call is released', async () => {
  expect((await allocate('x')).body.pod_name).toBe('a');
  expect((await allocate('y')).body.pod_name).toBe('b');
  expect((await allocate('z')).body.pod_name).toBe('a');

  let answered = false;
  const waiting = waitIdle('a', '?timeout=60').then((res) => {
    answered = true;
    return res;
  });
  // From the first request on, no new call lands on a.
  for (let i = 0; i < 50 && !(await router.store.podState('a'))?.draining; i++) await new Promise((r) => setTimeout(r, 20));
  expect((await allocate('w')).body.pod_name).toBe('b');
  await http.post('/api/v1/release', { call_sid: 'x' });
  await new Promise((r) => setTimeout(r, 600));
  expect(answered).toBe(false);

  expect((await http.post('/api/v1/release', { call_sid: 'z' })).body).toMatchObject({ pod_name: 'a', was_draining: true });
  const res = await waiting;
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ pod_name: 'a', idle: true, draining: true, active_calls: 0 });
  expect(res.body.waited_seconds).toBeGreaterThan(0);
  expect(await router.store.podState('b')).toMatchObject({ draining: false, calls: ['w', 'y'] });
});

test('answers 408 with the calls left when the wait runs out; the pod stays drained', async () => {
  await allocate('x');
  const res = await waitIdle('a', '?timeout=1');
  expect(res.status).toBe(408);
  expect(res.body).toMatchObject({ error: 'pod a still has 1 call(s) after 1 s', pod_name: 'a', idle: false, draining: true, active_calls: 1 });
  expect(await router.store.podState('a')).toMatchObject({ draining: true, calls: ['x'] });
});

test('an idle pod, and a pod routing does not know, are idle at once', async () => {
  expect((await waitIdle('b', '?timeout=0')).body).toEqual({ pod_name: 'b', idle: true, draining: true, active_calls: 0, waited_seconds: 0 });
  expect((await waitIdle('never-routed')).body).toEqual({ pod_name: 'never-routed', idle: true, draining: false, active_calls: 0, waited_seconds: 0 });
});

test('a bad timeout or pod name is a 400 that says why', async () => {
  for (const query of ['?timeout=-1', '?timeout=abc', '?timeout=3601', '?timeout=1.5', '?timeout=1&timeout=2']) {
    const res = await waitIdle('a', query);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'timeout must be a whole number of seconds from 0 to 3600' });
  }
  const bad = await waitIdle('Bad_Name');
  expect(bad.status).toBe(400);
  expect(bad.body.error).toMatch(/pod_name/);
});

test('a client that goes away ends the wait', async () => {
  await allocate('x');
  const controller = new AbortController();
  const pending = fetch(`${http.url}/api/v1/pod/a/wait-idle?timeout=60`, { method: 'POST', signal: controller.signal }).catch((err: Error) => err.name);
  await new Promise((r) => setTimeout(r, 300));
  controller.abort();
  expect(await pending).toBe('AbortError');
  // The server is not stuck on it: it closes at once.
  await http.close();
  http = await serve(router.app);
});
