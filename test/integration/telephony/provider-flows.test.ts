// Provider webhooks end to end through the real app and a real Redis:
// allocate -> markup with the pod's stream URL -> status callback -> slot free.
import { plivoV3Signature, twilioSignature } from '../../../api/telephony/signatures.js';
import type { TelephonyOptions } from '../../../api/telephony/provider-routes.js';
import { RoutingStore } from '../../../lua/routing-store.js';
import { createRedisClient, connectRedis } from '../../../lua/redis-client.js';
import { silentLogger } from '../../../core/logger.js';
import { launchRedis } from '../../support/redis-server.js';
import { exampleFleet, isolatedStore, loadFleet, routerApp, sharedTestRedis } from '../../support/routing.js';
import { serve, type HttpResponse, type TestServer } from '../../support/http.js';
import { parseXml } from '../../support/xml.js';

const PUBLIC = 'https://router.example.test';
const OPTIONS: TelephonyOptions = {
  publicUrl: PUBLIC,
  verifySignatures: true,
  twilioAuthToken: 'twilio-secret',
  plivoAuthToken: 'plivo-secret',
  exotelApiKey: 'exo-key',
  exotelApiToken: 'exo-token',
  failureMessage: 'All agents are busy.',
};

const redis = sharedTestRedis();
let http: TestServer;
let store: RoutingStore;


async function start(options: Partial<TelephonyOptions> = {}, template = 'wss://voice.example.test/{provider}/{pod}/{call_sid}?m={merchant_id}') {
  const router = routerApp(isolatedStore(redis), { telephony: { ...OPTIONS, ...options }, wsUrlTemplate: template });
  store = router.store;
  await loadFleet(store, exampleFleet());
  http = await serve(router.app);
}
afterEach(async () => {
  await http?.close();
});

const formBody = (params: Record<string, string>) => new URLSearchParams(params).toString();

/** Posts a form exactly as Twilio would: signed over the public URL and the sorted parameters. */
function twilio(path: string, params: Record<string, string>, token = 'twilio-secret', tamper?: (sig: string) => string): Promise<HttpResponse> {
  const signature = twilioSignature(token, PUBLIC + path, params);
  return http.request('POST', path, {
    body: formBody(params),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': tamper ? tamper(signature) : signature },
  });
}

function plivo(path: string, params: Record<string, string>, token = 'plivo-secret'): Promise<HttpResponse> {
  const nonce = `n${Math.random().toString(36).slice(2)}`;
  return http.request('POST', path, {
    body: formBody(params),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-plivo-signature-v3': plivoV3Signature(token, PUBLIC + path, nonce, params), 'x-plivo-signature-v3-nonce': nonce },
  });
}

const exotelAuth = { authorization: `Basic ${Buffer.from('exo-key:exo-token').toString('base64')}` };

async function activeCalls(): Promise<number> {
  return (await store.status()).active_calls;
}

describe('Twilio', () => {
  beforeEach(() => start());

  test('allocate answers TwiML streaming to the pod; the completed callback frees the slot', async () => {
    const res = await twilio('/api/v1/twilio/allocate?merchant_id=merchant-gold-1', { CallSid: 'CAtwilio1', From: '+15550100' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
    const doc = parseXml(res.text);
    const stream = doc.children[0]!.children[0]!;
    expect([doc.name, doc.children[0]!.name, stream.name]).toEqual(['Response', 'Connect', 'Stream']);
    expect(stream.attributes.url).toBe('wss://voice.example.test/twilio/voice-agent-0/CAtwilio1?m=merchant-gold-1');
    expect(Object.fromEntries(stream.children.map((p) => [p.attributes.name, p.attributes.value]))).toEqual({ call_sid: 'CAtwilio1', pod_name: 'voice-agent-0', pool: 'gold' });
    expect(await activeCalls()).toBe(1);

    // Twilio retries the webhook: same pod, no second slot.
    const retry = await twilio('/api/v1/twilio/allocate?merchant_id=merchant-gold-1', { CallSid: 'CAtwilio1', From: '+15550100' });
    expect(parseXml(retry.text).children[0]!.children[0]!.attributes.url).toBe(stream.attributes.url);
    expect(await activeCalls()).toBe(1);

    expect((await twilio('/api/v1/twilio/status', { CallSid: 'CAtwilio1', CallStatus: 'in-progress' })).body).toEqual({ success: true, released: false });
    expect(await activeCalls()).toBe(1);
    expect((await twilio('/api/v1/twilio/status', { CallSid: 'CAtwilio1', CallStatus: 'completed' })).body).toEqual({ success: true, released: true });
    expect(await activeCalls()).toBe(0);
    // A duplicate or late callback is harmless.
    const late = await twilio('/api/v1/twilio/status', { CallSid: 'CAtwilio1', CallStatus: 'completed' });
    expect(late).toMatchObject({ status: 200, body: { success: true, released: false } });
    expect(await activeCalls()).toBe(0);
  });

  test('a bad, missing or replayed-elsewhere signature is a 403 and allocates nothing', async () => {
    const bad = await twilio('/api/v1/twilio/allocate', { CallSid: 'CAbad' }, 'twilio-secret', (s) => `x${s.slice(1)}`);
    expect(bad).toMatchObject({ status: 403, body: { error: 'invalid signature' } });
    const wrongToken = await twilio('/api/v1/twilio/allocate', { CallSid: 'CAbad' }, 'not-the-token');
    expect(wrongToken.status).toBe(403);
    const missing = await http.request('POST', '/api/v1/twilio/allocate', { body: formBody({ CallSid: 'CAbad' }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(missing.status).toBe(403);
    // Signed for another merchant: the query is part of what Twilio signs.
    const signed = twilioSignature('twilio-secret', `${PUBLIC}/api/v1/twilio/allocate?merchant_id=a`, { CallSid: 'CAbad' });
    const moved = await http.request('POST', '/api/v1/twilio/allocate?merchant_id=merchant-gold-1', {
      body: formBody({ CallSid: 'CAbad' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signed },
    });
    expect(moved.status).toBe(403);
    expect(await activeCalls()).toBe(0);
    const metrics = (await http.get('/metrics')).text;
    expect(metrics).toMatch(/smart_router_provider_callbacks_total\{provider="twilio",status="",result="invalid_signature"\} 4/);
  });

  test('no capacity, an invalid CallSid or a hostile query: the caller hears the message and the call hangs up', async () => {
    for (let i = 0; i < 6; i++) await twilio('/api/v1/twilio/allocate', { CallSid: `CAfill${i}` });
    for (const [path, params] of [
      ['/api/v1/twilio/allocate', { CallSid: 'CAnoroom' }],
      ['/api/v1/twilio/allocate', { CallSid: '"><Hangup/>' }],
      ['/api/v1/twilio/allocate', {}],
      ['/api/v1/twilio/allocate?merchant_id=%22%3E%3CSay%3Ex', { CallSid: 'CAhostile' }],
    ] as const) {
      const res = await twilio(path, params as Record<string, string>);
      expect(res.status).toBe(200);
      const doc = parseXml(res.text);
      expect(doc.children.map((c) => c.name)).toEqual(['Say', 'Hangup']);
      expect(doc.children[0]!.text).toBe('All agents are busy.');
      expect(res.text).not.toContain('"><');
    }
    expect(await activeCalls()).toBe(6);
  });

  test('an unknown call in a status callback is a 200 no-op, counted', async () => {
    const res = await twilio('/api/v1/twilio/status', { CallSid: 'CAnever', CallStatus: 'completed' });
    expect(res).toMatchObject({ status: 200, body: { success: true, released: false } });
    expect((await http.get('/metrics')).text).toMatch(/smart_router_provider_callbacks_total\{provider="twilio",status="completed",result="unknown_call"\} 1/);
  });
});

describe('Plivo', () => {
  beforeEach(() => start());

  test('allocate answers a bidirectional Stream; the hangup callback frees the slot', async () => {
    const res = await plivo('/api/v1/plivo/allocate?tier=basic', { CallUUID: 'plivo-uuid-1', From: '14155550100' });
    expect(res.status).toBe(200);
    const stream = parseXml(res.text).children[0]!;
    expect(stream.name).toBe('Stream');
    expect(stream.attributes).toMatchObject({ bidirectional: 'true', keepCallAlive: 'true' });
    expect(stream.text).toBe('wss://voice.example.test/plivo/voice-agent-4/plivo-uuid-1?m=');
    expect(await activeCalls()).toBe(1);
    const hangup = await plivo('/api/v1/plivo/status', { CallUUID: 'plivo-uuid-1', Event: 'Hangup', CallStatus: 'completed' });
    expect(hangup.body).toEqual({ success: true, released: true });
    expect(await activeCalls()).toBe(0);
  });

  test('a wrong signature is a 403; no capacity is spoken and hung up', async () => {
    const wrong = await plivo('/api/v1/plivo/allocate', { CallUUID: 'p1' }, 'other-token');
    expect(wrong.status).toBe(403);
    for (let i = 0; i < 6; i++) await plivo('/api/v1/plivo/allocate', { CallUUID: `fill-${i}` });
    const full = await plivo('/api/v1/plivo/allocate', { CallUUID: 'one-more' });
    expect(parseXml(full.text).children.map((c) => c.name)).toEqual(['Speak', 'Hangup']);
  });
});

describe('Exotel', () => {
  beforeEach(() => start());

  test('allocate answers {url}; the status callback frees the slot', async () => {
    const res = await http.post('/api/v1/exotel/allocate', { CallSid: 'exo-1' }, exotelAuth);
    expect(res).toMatchObject({ status: 200, body: { url: 'wss://voice.example.test/exotel/voice-agent-1/exo-1?m=' } });
    const viaGet = await http.get('/api/v1/exotel/allocate?CallSid=exo-1', exotelAuth);
    expect(viaGet.body).toEqual(res.body);
    const done = await http.request('POST', '/api/v1/exotel/status', { body: formBody({ CallSid: 'exo-1', Status: 'completed' }), headers: { ...exotelAuth, 'content-type': 'application/x-www-form-urlencoded' } });
    expect(done.body).toEqual({ success: true, released: true });
    expect(await activeCalls()).toBe(0);
  });

  test('credentials are required; failures are JSON with a fitting status', async () => {
    expect((await http.post('/api/v1/exotel/allocate', { CallSid: 'e' })).status).toBe(401);
    expect((await http.post('/api/v1/exotel/allocate', { CallSid: 'e' }, { authorization: `Basic ${Buffer.from('exo-key:wrong').toString('base64')}` })).status).toBe(401);
    expect(await http.post('/api/v1/exotel/allocate', {}, exotelAuth)).toMatchObject({ status: 400, body: { error: 'CallSid is required' } });
    expect(await http.post('/api/v1/exotel/allocate', { CallSid: 'a b' }, exotelAuth)).toMatchObject({ status: 400, body: { error: 'CallSid is invalid' } });
    expect((await http.post('/api/v1/exotel/allocate?tier=NOPE', { CallSid: 'e' }, exotelAuth)).status).toBe(400);
    for (let i = 0; i < 6; i++) await http.post('/api/v1/exotel/allocate', { CallSid: `fill-${i}` }, exotelAuth);
    expect(await http.post('/api/v1/exotel/allocate', { CallSid: 'full' }, exotelAuth)).toMatchObject({ status: 503, body: { error: 'no pods available' } });
  });
});

describe('configuration', () => {
  test('with verification on and no secret, the provider answers 503 naming what to set', async () => {
    await start({ twilioAuthToken: undefined });
    const res = await http.request('POST', '/api/v1/twilio/allocate', { body: 'CallSid=CA1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(503);
    expect(res.body.error).toMatch(/TWILIO_AUTH_TOKEN/);
  });

  test('with verification explicitly off, unsigned requests are served', async () => {
    await start({ verifySignatures: false, twilioAuthToken: undefined });
    const res = await http.request('POST', '/api/v1/twilio/allocate', { body: 'CallSid=CAopen', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(parseXml(res.text).children[0]!.name).toBe('Connect');
  });

  test('without PUBLIC_URL the signed URL is rebuilt from the forwarded protocol and host', async () => {
    await start({ publicUrl: undefined });
    const params = { CallSid: 'CAproxy' };
    const signature = twilioSignature('twilio-secret', 'https://public.example.test/api/v1/twilio/allocate', params);
    const res = await http.request('POST', '/api/v1/twilio/allocate', {
      body: formBody(params),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature, 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example.test' },
    });
    expect(parseXml(res.text).children[0]!.name).toBe('Connect');
  });
});

test('with Redis down, Twilio still gets TwiML it can play', async () => {
  const server = await launchRedis({ appendonly: false });
  const client = createRedisClient(server.url, 300, silentLogger());
  await connectRedis(client, 5000);
  const router = routerApp(new RoutingStore(client, 'tel-outage'), { telephony: OPTIONS });
  await loadFleet(router.store, exampleFleet());
  http = await serve(router.app);
  try {
    await server.stop();
    const res = await twilio('/api/v1/twilio/allocate', { CallSid: 'CAdown' });
    expect(res.status).toBe(200);
    expect(parseXml(res.text).children.map((c) => c.name)).toEqual(['Say', 'Hangup']);
  } finally {
    client.disconnect();
    await server.destroy();
  }
});
