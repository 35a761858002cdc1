// Bad input, authentication, the OpenAPI contract and metrics, through the
// real Express app over a real redis-server.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { openapi } from '../../../api/validation.js';
import { exampleFleet, isolatedStore, loadFleet, routerApp, sharedTestRedis } from '../../support/routing.js';
import { serve, type HttpResponse, type TestServer } from '../../support/http.js';

const redis = sharedTestRedis();
let http: TestServer;

async function start(options: { apiToken?: string } = {}) {
  const router = routerApp(isolatedStore(redis), options);
  await loadFleet(router.store, exampleFleet());
  http = await serve(router.app);
  return router;
}
afterEach(async () => {
  await http?.close();
});

describe('bad input gets a clear 4xx JSON error, never a 500', () => {
  beforeEach(() => start());

  test.each([
    [{}, 'call_sid is required'],
    [{ call_sid: '' }, 'call_sid is required'],
    [{ call_sid: 42 }, 'call_sid must be a string'],
    [{ call_sid: null }, 'call_sid must be a string'],
    [{ call_sid: ['a'] }, 'call_sid must be a string'],
    [{ call_sid: 'a b' }, 'call_sid must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'],
    [{ call_sid: 'x/../../evil' }, 'call_sid must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'],
    [{ call_sid: '"><script>' }, 'call_sid must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'],
    [{ call_sid: 'a'.repeat(129) }, 'call_sid must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'],
    [{ call_sid: 'ok', merchant_id: 'm?x=1' }, 'merchant_id must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'],
    [{ call_sid: 'ok', reseller_id: 7 }, 'reseller_id must be a string'],
    [{ call_sid: 'ok', merchant_id: 'a', reseller_id: 'b' }, 'merchant_id and reseller_id name the same field and must not differ'],
    [{ call_sid: 'ok', tier: 'Gold' }, 'tier must match ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'],
    [[{ call_sid: 'ok' }], 'request body must be a JSON object'],
    ['call_sid', 'request body must be a JSON object'],
    [12, 'request body must be a JSON object'],
  ])('allocate %j -> 400 %s', async (body, message) => {
    const res = await http.post('/api/v1/allocate', body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: message });
  });

  test.each([
    ['/api/v1/release', {}, 'call_sid is required'],
    ['/api/v1/drain', {}, 'pod_name is required'],
    ['/api/v1/drain', { pod_name: 'Voice_Agent' }, 'pod_name must match ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$'],
    ['/api/v1/undrain', { pod_name: 5 }, 'pod_name must be a string'],
  ])('%s %j -> 400 %s', async (path, body, message) => {
    const res = await http.post(path, body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: message });
  });

  test('malformed JSON is a 400', async () => {
    const res = await http.request('POST', '/api/v1/allocate', { body: '{"call_sid": ', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'request body is not valid JSON' });
  });

  test('a body over 16 KiB is a 413', async () => {
    const res = await http.post('/api/v1/allocate', { call_sid: 'big', padding: 'x'.repeat(17 * 1024) });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: 'request body is larger than 16 KiB' });
  });

  test('a body that is not JSON is a 415; no body at all reads as an empty object', async () => {
    const form = await http.request('POST', '/api/v1/allocate', { body: 'call_sid=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(415);
    expect(form.body).toEqual({ error: 'Content-Type must be application/json' });
    const empty = await http.request('POST', '/api/v1/allocate');
    expect(empty.status).toBe(400);
    expect(empty.body).toEqual({ error: 'call_sid is required' });
  });

  test('unknown routes and pods are JSON 404s', async () => {
    expect(await http.get('/api/v1/nope')).toMatchObject({ status: 404, body: { error: 'no route for GET /api/v1/nope' } });
    expect(await http.get('/api/v1/pod/voice-agent-99')).toMatchObject({ status: 404, body: { error: 'pod not found' } });
    expect(await http.post('/api/v1/drain', { pod_name: 'voice-agent-99' })).toMatchObject({ status: 404, body: { error: 'pod not found' } });
    expect(await http.get('/api/v1/pod/Bad_Name')).toMatchObject({ status: 400 });
  });

  test('an unknown tier routes nowhere: 503 no pods available, nothing recorded', async () => {
    const res = await http.post('/api/v1/allocate', { call_sid: 'x', tier: 'platinum' });
    expect(res).toMatchObject({ status: 503, body: { success: false, error: 'no pods available' } });
  });

  test('reseller_id is accepted as merchant_id and routes to the dedicated pool', async () => {
    const res = await http.post('/api/v1/allocate', { call_sid: 'gold-call', reseller_id: 'merchant-gold-1' });
    expect(res.body).toMatchObject({ pod_name: 'voice-agent-0', source_pool: 'pool:gold' });
  });
});

describe('bearer token', () => {
  beforeEach(() => start({ apiToken: 's3cret-token' }));

  test('every /api/v1 route needs it when API_TOKEN is set', async () => {
    for (const res of [
      await http.post('/api/v1/allocate', { call_sid: 'x' }),
      await http.post('/api/v1/release', { call_sid: 'x' }),
      await http.post('/api/v1/drain', { pod_name: 'voice-agent-1' }),
      await http.get('/api/v1/status'),
      await http.get('/api/v1/pod/voice-agent-1'),
      await http.post('/api/v1/allocate', { call_sid: 'x' }, { authorization: 'Bearer wrong' }),
      await http.post('/api/v1/allocate', { call_sid: 'x' }, { authorization: 's3cret-token' }),
    ]) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'missing or invalid bearer token' });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    const ok = await http.post('/api/v1/allocate', { call_sid: 'x' }, { authorization: 'Bearer s3cret-token' });
    expect(ok.status).toBe(200);
  });

  test('probes and metrics stay open for kubelet and Prometheus', async () => {
    expect((await http.get('/health')).text).toBe('healthy');
    expect((await http.get('/api/v1/health')).text).toBe('healthy');
    expect((await http.get('/ready')).text).toBe('ready');
    expect((await http.get('/api/v1/ready')).status).toBe(200);
    expect((await http.get('/metrics')).status).toBe(200);
  });
});

describe('the OpenAPI document is the contract', () => {
  const ajv = new Ajv2020({ strict: false });
  ajv.addSchema(openapi, 'openapi.json');
  const conforms = (schema: string, res: HttpResponse) => {
    const validate = ajv.getSchema(`openapi.json#/components/schemas/${schema}`)!;
    const ok = validate(res.body);
    if (!ok) throw new Error(`${schema}: ${JSON.stringify(validate.errors)} for ${res.text}`);
  };

  beforeEach(() => start());

  test('it is served at /api/v1/openapi.json', async () => {
    const res = await http.get('/api/v1/openapi.json');
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/api/v1/allocate', '/api/v1/release', '/api/v1/status']));
  });

  test('every response matches its schema', async () => {
    conforms('AllocateResponse', await http.post('/api/v1/allocate', { call_sid: 'c1' }));
    conforms('PodResponse', await http.get('/api/v1/pod/voice-agent-1'));
    conforms('DrainResponse', await http.post('/api/v1/drain', { pod_name: 'voice-agent-2' }));
    conforms('StatusResponse', await http.get('/api/v1/status'));
    conforms('ReleaseResponse', await http.post('/api/v1/release', { call_sid: 'c1' }));
    conforms('Error', await http.post('/api/v1/release', { call_sid: 'c1' }));
    conforms('Error', await http.post('/api/v1/allocate', {}));
    conforms('CallEnded', await http.post('/api/v1/allocate', { call_sid: 'c1' }));
  });
});

describe('metrics', () => {
  test('count allocations and releases by tier, pool and result, and read pool gauges from Redis', async () => {
    await start();
    await http.post('/api/v1/allocate', { call_sid: 'a' });
    await http.post('/api/v1/allocate', { call_sid: 'a' });
    await http.post('/api/v1/release', { call_sid: 'a' });
    await http.post('/api/v1/release', { call_sid: 'a' });
    await http.post('/api/v1/allocate', { call_sid: 'b', tier: 'basic' });
    await http.post('/api/v1/allocate', { call_sid: 'c', tier: 'no-such-tier' });
    const text = (await http.get('/metrics')).text;
    expect(text).toMatch(/smart_router_allocations_total\{tier="basic",pool="basic",result="allocated"\} 1/);
    // A tier no pool serves is not a label of its own: callers cannot grow the series.
    expect(text).toMatch(/smart_router_allocations_total\{tier="other",pool="",result="no_capacity"\} 1/);
    expect(text).not.toMatch(/no-such-tier/);
    expect(text).toMatch(/smart_router_pool_busy_pods\{pool="basic"\} 1/);
    expect(text).toMatch(/smart_router_pool_draining_calls\{pool="basic"\} 0/);
    expect(text).toMatch(/smart_router_pool_serving_slots\{pool="basic"\} 3/);
    expect(text).toMatch(/smart_router_allocations_total\{tier="standard",pool="standard",result="allocated"\} 1/);
    expect(text).toMatch(/smart_router_allocations_total\{tier="standard",pool="standard",result="existing"\} 1/);
    expect(text).toMatch(/smart_router_releases_total\{pool="standard",result="released"\} 1/);
    expect(text).toMatch(/smart_router_releases_total\{pool="",result="not_found"\} 1/);
    expect(text).toMatch(/smart_router_allocation_duration_seconds_count 4/);
    expect(text).toMatch(/smart_router_pool_free_slots\{pool="basic"\} 2/);
    expect(text).toMatch(/smart_router_pool_free_slots\{pool="standard"\} 3/);
    expect(text).toMatch(/smart_router_pool_active_calls\{pool="basic"\} 1/);
    expect(text).toMatch(/smart_router_active_calls 1/);
    expect(text).toMatch(/smart_router_redis_up 1/);
    expect(Number(/^smart_router_redis_ping_seconds (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
  });
});
