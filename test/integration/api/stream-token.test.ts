// ws_url carries a stream token when the template asks for one: the agent
// that receives the stream can check that the router sent this call to it.
import { verifyStreamToken } from '../../../core/stream-token.js';
import { serve, type TestServer } from '../../support/http.js';
import { exampleFleet, isolatedStore, loadFleet, routerApp, sharedTestRedis } from '../../support/routing.js';

const redis = sharedTestRedis();
const SECRET = 'agents-shared-secret-0123456789abcdef';
let http: TestServer;
afterEach(async () => {
  await http?.close();
});

test('the ws_url token verifies for the pod and call it names, and for nothing else', async () => {
  const { app, store } = routerApp(isolatedStore(redis), { wsUrlTemplate: 'wss://voice.example.test/ws/pod/{pod}/{call_sid}?token={token}', wsTokenSecret: SECRET });
  await loadFleet(store, exampleFleet());
  http = await serve(app);
  const res = await http.post('/api/v1/allocate', { call_sid: 'CAstream' });
  const url = new URL(res.body.ws_url as string);
  const token = url.searchParams.get('token')!;
  expect(url.pathname).toBe(`/ws/pod/${res.body.pod_name}/CAstream`);
  // What the agent does when the stream connects: its own pod name, the call_sid from the path.
  expect(verifyStreamToken(SECRET, token, { pod: res.body.pod_name, callSid: 'CAstream' })).toMatchObject({ ok: true });
  expect(verifyStreamToken(SECRET, token, { pod: 'voice-agent-4', callSid: 'CAstream' })).toEqual({ ok: false, reason: 'bad signature' });
  const check = verifyStreamToken(SECRET, token, { pod: res.body.pod_name, callSid: 'CAstream' });
  expect(check.ok && check.expiresAt - Date.now() / 1000).toBeGreaterThan(200); // default validity: 300 s
  expect(verifyStreamToken(SECRET, token, { pod: res.body.pod_name, callSid: 'CAstream' }, { nowSeconds: Math.floor(Date.now() / 1000) + 301 })).toEqual({ ok: false, reason: 'expired' });

  // A retried allocate gets the same pod and a token of its own, valid too.
  const again = await http.post('/api/v1/allocate', { call_sid: 'CAstream' });
  expect(again.body).toMatchObject({ was_existing: true, pod_name: res.body.pod_name });
  expect(verifyStreamToken(SECRET, new URL(again.body.ws_url).searchParams.get('token')!, { pod: res.body.pod_name, callSid: 'CAstream' })).toMatchObject({ ok: true });
});
