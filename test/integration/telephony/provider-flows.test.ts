// Provider webhooks end to end through the real app and a real Redis:
// allocate -> markup with the pod's stream URL -> status callback -> slot free.
// Requests are signed by test/support/provider-signing.ts, written apart
// from the router's own verification, as Twilio and Plivo would sign them.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import winston from 'winston';
import { buildApp } from '../../../api/app.js';
import { CallRouter } from '../../../api/call-router.js';
import { Credentials } from '../../../api/credentials.js';
import { RouterMetrics } from '../../../api/metrics.js';
import { redisDrainControl } from '../../../api/pod-control.js';
import { telephonyRoutes, type TelephonyOptions } from '../../../api/telephony/provider-routes.js';
import { connectRedis, createRedisClient } from '../../../lua/redis-client.js';
import { RoutingStore } from '../../../lua/routing-store.js';
import { routingKeys } from '../../../lua/keys.js';
import { WebhookNonces } from '../../../lua/webhook-nonces.js';
import { silentLogger } from '../../../core/logger.js';
import { serve, type HttpResponse, type TestServer } from '../../support/http.js';
import { plivoRequest, plivoSign, twilioRequest, twilioSign, type Form } from '../../support/provider-signing.js';
import { launchRedis } from '../../support/redis-server.js';
import { exampleFleet, isolatedStore, loadFleet, sharedTestRedis } from '../../support/routing.js';
import { parseXml, type XmlNode } from '../../support/xml.js';

const PUBLIC = 'https://router.example.test';
const TWILIO_TOKEN = 'twilio-secret-token';
const PLIVO_TOKEN = 'plivo-secret-token';
const OPTIONS: TelephonyOptions = {
  publicUrl: PUBLIC,
  verifySignatures: true,
  twilioAuthToken: TWILIO_TOKEN,
  plivoAuthToken: PLIVO_TOKEN,
  exotelApiKey: 'exo-key',
  exotelApiToken: 'exo-token',
  failureMessage: 'All agents are busy. Please call again.',
  plivoNonceTtlSeconds: 900,
};
const TEMPLATE = 'wss://voice.example.test/{provider}/{pod}/{call_sid}?m={merchant_id}';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const redis = sharedTestRedis();
let http: TestServer | undefined;
let store: RoutingStore;
let logs: Record<string, unknown>[];

/** The real app over a real Redis, logging into `logs` so tests can read what an operator would. */
async function start(options: Partial<TelephonyOptions> = {}, target: RoutingStore = isolatedStore(redis), trustProxy?: number | string[]) {
  logs = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream: sink })] });
  store = target;
  const metrics = new RouterMetrics(store);
  const router = new CallRouter(store, { defaultTier: 'standard', wsUrlTemplate: TEMPLATE }, metrics, silentLogger());
  const nonces = new WebhookNonces(store.redis, routingKeys(`t-nonce-${randomUUID().slice(0, 8)}`));
  const providerRoutes = telephonyRoutes(router, { nonces, ...OPTIONS, ...options }, metrics.registry, logger);
  const app = buildApp({ store, router, metrics, logger, drain: redisDrainControl(store), isLeader: () => true, redisCommandTimeoutMs: 1000, providerRoutes, trustProxy });
  await loadFleet(store, exampleFleet());
  http = await serve(app);
}
afterEach(async () => {
  await http?.close();
  http = undefined;
});

const server = () => http as TestServer;
const twilio = (path: string, params: Form, token = TWILIO_TOKEN) => server().request('POST', path, twilioRequest(token, PUBLIC + path, params));
const plivo = (path: string, params: Form, token = PLIVO_TOKEN) => server().request('POST', path, plivoRequest(token, PUBLIC + path, params));
const exotelAuth = { authorization: `Basic ${Buffer.from('exo-key:exo-token').toString('base64')}` };
const exotelForm = (path: string, params: Record<string, string>) =>
  server().request('POST', path, { body: new URLSearchParams(params).toString(), headers: { ...FORM, ...exotelAuth } });

async function activeCalls(): Promise<number> {
  const status = await server().get('/api/v1/status');
  expect(status.status).toBe(200);
  return status.body.active_calls as number;
}

async function counter(provider: string, status: string, result: string): Promise<number> {
  const text = (await server().get('/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`smart_router_provider_callbacks_total{provider="${provider}",status="${status}",result="${result}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

function expectXml(res: HttpResponse): XmlNode {
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
  expect(res.text.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
  const doc = parseXml(res.text);
  expect(doc.name).toBe('Response');
  return doc;
}

/** The spoken failure: the configured message, then a hang-up, and nothing else. */
function expectSpokenFailure(res: HttpResponse, say: 'Say' | 'Speak') {
  const doc = expectXml(res);
  expect(doc.children.map((c) => c.name)).toEqual([say, 'Hangup']);
  expect(doc.children[0]!.text).toBe(OPTIONS.failureMessage);
}

describe('Twilio', () => {
  beforeEach(() => start());

  test('allocate answers TwiML streaming to the pod; the completed callback frees the slot', async () => {
    const res = await twilio('/api/v1/twilio/allocate?merchant_id=merchant-gold-1', { CallSid: 'CAtwilio1', From: '+15550100', To: '+15550199' });
    const doc = expectXml(res);
    expect(doc.children.map((c) => c.name)).toEqual(['Connect']);
    const stream = doc.children[0]!.children[0]!;
    expect(stream.name).toBe('Stream');
    expect(stream.attributes.url).toBe('wss://voice.example.test/twilio/voice-agent-0/CAtwilio1?m=merchant-gold-1');
    expect(Object.fromEntries(stream.children.map((p) => [p.attributes.name, p.attributes.value]))).toEqual({ call_sid: 'CAtwilio1', pod_name: 'voice-agent-0', pool: 'gold' });
    expect(await activeCalls()).toBe(1);
    expect((await store.podState('voice-agent-0'))?.calls).toEqual(['CAtwilio1']);

    // Twilio retries the webhook: same pod, no second slot.
    const retry = await twilio('/api/v1/twilio/allocate?merchant_id=merchant-gold-1', { CallSid: 'CAtwilio1', From: '+15550100', To: '+15550199' });
    expect(retry.text).toBe(res.text);
    expect(await activeCalls()).toBe(1);

    for (const CallStatus of ['ringing', 'in-progress']) {
      expect(await twilio('/api/v1/twilio/status', { CallSid: 'CAtwilio1', CallStatus })).toMatchObject({ status: 200, body: { success: true, released: false } });
    }
    expect(await activeCalls()).toBe(1);
    const done = await twilio('/api/v1/twilio/status', { CallSid: 'CAtwilio1', CallStatus: 'completed', CallDuration: '42' });
    expect(done).toMatchObject({ status: 200, body: { success: true, released: true } });
    expect(await activeCalls()).toBe(0);
    expect((await store.podState('voice-agent-0'))?.calls).toEqual([]);

    // A duplicate or late callback is harmless.
    for (const CallStatus of ['completed', 'in-progress']) {
      expect(await twilio('/api/v1/twilio/status', { CallSid: 'CAtwilio1', CallStatus })).toMatchObject({ status: 200, body: { success: true, released: false } });
    }
    expect(await activeCalls()).toBe(0);
    expect(await counter('twilio', 'completed', 'released')).toBe(1);
    expect(await counter('twilio', 'completed', 'unknown_call')).toBe(1);
    expect(await counter('twilio', 'in-progress', 'ignored')).toBe(2);
  });

  test.each(['busy', 'failed', 'no-answer', 'canceled'])('status %s releases the call', async (CallStatus) => {
    await twilio('/api/v1/twilio/allocate', { CallSid: 'CAend' });
    expect(await activeCalls()).toBe(1);
    expect((await twilio('/api/v1/twilio/status', { CallSid: 'CAend', CallStatus })).body).toEqual({ success: true, released: true });
    expect(await activeCalls()).toBe(0);
  });

  test('a bad, missing or misplaced signature is a 403, logged without secrets, and allocates nothing', async () => {
    const path = '/api/v1/twilio/allocate';
    const good = twilioRequest(TWILIO_TOKEN, PUBLIC + path, { CallSid: 'CAbad' });
    const refusals: [string, Promise<HttpResponse>][] = [
      ['tampered signature', server().request('POST', path, { ...good, headers: { ...good.headers, 'x-twilio-signature': `x${good.headers['x-twilio-signature']!.slice(1)}` } })],
      ['wrong token', twilio(path, { CallSid: 'CAbad' }, 'not-the-token')],
      ['missing', server().request('POST', path, { body: good.body, headers: FORM })],
      ['body changed', server().request('POST', path, { ...good, body: 'CallSid=CAother' })],
      ['parameter added', server().request('POST', path, { ...good, body: `${good.body}&merchant_id=merchant-gold-1` })],
      // Signed for another query: the query is part of what Twilio signs.
      ['query moved', server().request('POST', `${path}?merchant_id=merchant-gold-1`, twilioRequest(TWILIO_TOKEN, `${PUBLIC}${path}?merchant_id=a`, { CallSid: 'CAbad' }))],
      ['other host', server().request('POST', path, twilioRequest(TWILIO_TOKEN, `https://evil.example.test${path}`, { CallSid: 'CAbad' }))],
    ];
    for (const [why, pending] of refusals) {
      const res = await pending;
      expect([why, res.status, res.body]).toEqual([why, 403, { error: 'invalid signature' }]);
    }
    // A status callback with a bad signature releases nothing either.
    await twilio(path, { CallSid: 'CAkept' });
    const forged = await twilio('/api/v1/twilio/status', { CallSid: 'CAkept', CallStatus: 'completed' }, 'forged');
    expect(forged.status).toBe(403);
    expect(await activeCalls()).toBe(1);
    expect(await counter('twilio', '', 'invalid_signature')).toBe(refusals.length + 1);

    const refused = logs.filter((l) => l.message === 'provider request refused');
    expect(refused).toHaveLength(refusals.length + 1);
    expect(refused[0]).toMatchObject({ level: 'warn', provider: 'twilio', path });
    expect(refused.map((l) => l.reason)).toContain('no X-Twilio-Signature');
    expect(JSON.stringify(logs)).not.toContain(TWILIO_TOKEN);
  });

  test('no capacity, a missing or malformed CallSid, or a hostile query: the caller hears the message and the call hangs up', async () => {
    for (let i = 0; i < 6; i++) expect(expectXml(await twilio('/api/v1/twilio/allocate', { CallSid: `CAfill${i}` })).children[0]!.name).toBe('Connect');
    expect(await activeCalls()).toBe(6);
    const cases: [string, Form][] = [
      ['/api/v1/twilio/allocate', { CallSid: 'CAnoroom' }],
      ['/api/v1/twilio/allocate', { CallSid: '"><Hangup/><Play>x</Play>' }],
      ['/api/v1/twilio/allocate', { CallSid: 'x'.repeat(129) }],
      ['/api/v1/twilio/allocate', { From: '+15550100' }],
      ['/api/v1/twilio/allocate?merchant_id=%22%3E%3CSay%3Eowned%3C%2FSay%3E', { CallSid: 'CAhostile' }],
      ['/api/v1/twilio/allocate?tier=NOT_A_TIER', { CallSid: 'CAhostile2' }],
      ['/api/v1/twilio/allocate?merchant_id=a&reseller_id=b', { CallSid: 'CAhostile3' }],
    ];
    for (const [path, params] of cases) {
      const res = await twilio(path, params);
      expectSpokenFailure(res, 'Say');
      expect(res.text).not.toContain('owned');
      expect(res.text).not.toContain('<Play>');
    }
    expect(await activeCalls()).toBe(6);
    expect(await counter('twilio', '', 'refused')).toBe(1);
    expect(await counter('twilio', '', 'invalid_request')).toBe(cases.length - 1);
    const refused = logs.filter((l) => l.message === 'provider call refused');
    expect(refused).toHaveLength(cases.length);
    expect(refused.find((l) => l.call_sid === 'CAnoroom')).toMatchObject({ provider: 'twilio', status: 503, reason: 'no pods available' });
    expect(refused.every((l) => String(l.call_sid ?? '').length <= 141)).toBe(true);
  });

  test('an unknown call, or an odd status, in a status callback is a 200 no-op, counted', async () => {
    const res = await twilio('/api/v1/twilio/status', { CallSid: 'CAnever', CallStatus: 'completed' });
    expect(res).toMatchObject({ status: 200, body: { success: true, released: false } });
    expect(await counter('twilio', 'completed', 'unknown_call')).toBe(1);
    await twilio('/api/v1/twilio/status', { CallSid: 'CAnever', CallStatus: 'made-up-status' });
    expect(await counter('twilio', 'other', 'ignored')).toBe(1);
    const missing = await twilio('/api/v1/twilio/status', { CallStatus: 'completed' });
    expect(missing.status).toBe(400);
    expect(await counter('twilio', 'completed', 'invalid_request')).toBe(1);
  });
});

describe('Plivo', () => {
  beforeEach(() => start());

  test('allocate answers a bidirectional Stream; the hangup callback frees the slot', async () => {
    const res = await plivo('/api/v1/plivo/allocate?tier=basic', { CallUUID: 'a1b2c3d4-0000-4000-8000-000000000001', From: '14155550100', To: '14155550199', Direction: 'inbound' });
    const doc = expectXml(res);
    expect(doc.children.map((c) => c.name)).toEqual(['Stream']);
    const stream = doc.children[0]!;
    expect(stream.attributes).toEqual({ bidirectional: 'true', keepCallAlive: 'true', contentType: 'audio/x-mulaw;rate=8000' });
    expect(stream.text).toBe('wss://voice.example.test/plivo/voice-agent-4/a1b2c3d4-0000-4000-8000-000000000001?m=');
    expect(await activeCalls()).toBe(1);

    const retry = await plivo('/api/v1/plivo/allocate?tier=basic', { CallUUID: 'a1b2c3d4-0000-4000-8000-000000000001', From: '14155550100' });
    expect(parseXml(retry.text).children[0]!.text).toBe(stream.text);
    expect(await activeCalls()).toBe(1);

    const hangup = { CallUUID: 'a1b2c3d4-0000-4000-8000-000000000001', Event: 'Hangup', CallStatus: 'completed', HangupCause: 'NORMAL_CLEARING' };
    expect((await plivo('/api/v1/plivo/status', hangup)).body).toEqual({ success: true, released: true });
    expect(await activeCalls()).toBe(0);
    expect(await plivo('/api/v1/plivo/status', hangup)).toMatchObject({ status: 200, body: { success: true, released: false } });
    expect(await counter('plivo', 'completed', 'released')).toBe(1);
    expect(await counter('plivo', 'completed', 'unknown_call')).toBe(1);
  });

  test('Event=Hangup releases whatever the CallStatus; a ringing callback does not', async () => {
    await plivo('/api/v1/plivo/allocate', { CallUUID: 'p-hangup' });
    expect((await plivo('/api/v1/plivo/status', { CallUUID: 'p-hangup', CallStatus: 'ringing' })).body).toEqual({ success: true, released: false });
    expect(await activeCalls()).toBe(1);
    expect((await plivo('/api/v1/plivo/status', { CallUUID: 'p-hangup', Event: 'Hangup' })).body).toEqual({ success: true, released: true });
    expect(await activeCalls()).toBe(0);
    expect(await plivo('/api/v1/plivo/status', { CallUUID: 'p-never', CallStatus: 'no-answer' })).toMatchObject({ status: 200, body: { released: false } });
    expect(await counter('plivo', 'no-answer', 'unknown_call')).toBe(1);
  });

  test('a wrong, missing or replayed-elsewhere signature is a 403; a rotated or main-account token is accepted', async () => {
    const path = '/api/v1/plivo/allocate';
    expect((await plivo(path, { CallUUID: 'p1' }, 'other-token')).status).toBe(403);
    expect((await server().request('POST', path, { body: 'CallUUID=p1', headers: FORM })).status).toBe(403);
    const signed = plivoRequest(PLIVO_TOKEN, PUBLIC + path, { CallUUID: 'p1' });
    const noNonce = { ...signed.headers };
    delete noNonce['x-plivo-signature-v3-nonce'];
    expect((await server().request('POST', path, { body: signed.body, headers: noNonce })).status).toBe(403);
    expect((await server().request('POST', path, { body: signed.body, headers: { ...signed.headers, 'x-plivo-signature-v3-nonce': 'another' } })).status).toBe(403);
    expect((await server().request('POST', `${path}?tier=basic`, signed)).status).toBe(403);
    expect(await activeCalls()).toBe(0);
    expect(await counter('plivo', '', 'invalid_signature')).toBe(5);

    // During a token rotation Plivo sends one signature per token.
    const rotating = plivoRequest(PLIVO_TOKEN, PUBLIC + path, { CallUUID: 'p-rotated' }, 'nonce-1');
    const both = `${plivoSign('old-token', PUBLIC + path, 'nonce-1', { CallUUID: 'p-rotated' })},${rotating.headers['x-plivo-signature-v3']}`;
    expect(expectXml(await server().request('POST', path, { body: rotating.body, headers: { ...rotating.headers, 'x-plivo-signature-v3': both } })).children[0]!.name).toBe('Stream');
    // A subaccount's number: its own signature does not match, the main account's does.
    const main = plivoRequest(PLIVO_TOKEN, PUBLIC + path, { CallUUID: 'p-sub' }, 'nonce-2');
    const headers = { ...main.headers, 'x-plivo-signature-v3': plivoSign('subaccount-token', PUBLIC + path, 'nonce-2', { CallUUID: 'p-sub' }), 'x-plivo-signature-ma-v3': main.headers['x-plivo-signature-v3']! };
    expect(expectXml(await server().request('POST', path, { body: main.body, headers })).children[0]!.name).toBe('Stream');
    expect(await activeCalls()).toBe(2);
  });

  test('a replayed webhook (same signed request again) is refused, by every replica sharing the Redis; its nonce expires with the window', async () => {
    const prefix = `t-nonce-${randomUUID().slice(0, 8)}`;
    await http?.close();
    await start({ nonces: new WebhookNonces(store.redis, routingKeys(prefix)) }, store);
    const path = '/api/v1/plivo/status';
    await plivo('/api/v1/plivo/allocate', { CallUUID: 'p-replay' });
    const hangup = plivoRequest(PLIVO_TOKEN, PUBLIC + path, { CallUUID: 'p-replay', Event: 'Hangup' });
    expect((await server().request('POST', path, hangup)).body).toEqual({ success: true, released: true });
    const replay = await server().request('POST', path, hangup);
    expect(replay).toMatchObject({ status: 403, body: { error: 'replayed request' } });
    expect(logs).toContainEqual(expect.objectContaining({ message: 'provider request refused', provider: 'plivo', reason: 'nonce already used: a replayed request' }));

    // Another replica over the same Redis has never seen the request, and still refuses it.
    const allocate = plivoRequest(PLIVO_TOKEN, `${PUBLIC}/api/v1/plivo/allocate`, { CallUUID: 'p-replay-2' });
    expect(expectXml(await server().request('POST', '/api/v1/plivo/allocate', allocate)).children[0]!.name).toBe('Stream');
    await http?.close();
    await start({ nonces: new WebhookNonces(store.redis, routingKeys(prefix)) }, store);
    expect(await server().request('POST', '/api/v1/plivo/allocate', allocate)).toMatchObject({ status: 403, body: { error: 'replayed request' } });
    expect(await activeCalls()).toBe(1);

    const keys = await store.redis.keys(`{${prefix}}:nonce:plivo:*`);
    expect(keys).toHaveLength(3);
    const ttl = await store.redis.ttl(keys[0]!);
    expect(ttl).toBeGreaterThan(800);
    expect(ttl).toBeLessThanOrEqual(900);
  });

  test('no capacity or a bad CallUUID is spoken and hung up', async () => {
    for (let i = 0; i < 6; i++) await plivo('/api/v1/plivo/allocate', { CallUUID: `fill-${i}` });
    expect(await activeCalls()).toBe(6);
    expectSpokenFailure(await plivo('/api/v1/plivo/allocate', { CallUUID: 'one-more' }), 'Speak');
    expectSpokenFailure(await plivo('/api/v1/plivo/allocate', { CallUUID: '<Speak>' }), 'Speak');
    expectSpokenFailure(await plivo('/api/v1/plivo/allocate?merchant_id=%3C%2FStream%3E', { CallUUID: 'ok-uuid' }), 'Speak');
    expect(await activeCalls()).toBe(6);
  });
});

describe('Exotel', () => {
  beforeEach(() => start());

  test('allocate answers {url} to JSON, form and the applet GET; the status callback frees the slot', async () => {
    const res = await server().post('/api/v1/exotel/allocate', { CallSid: 'exo-1' }, exotelAuth);
    expect(res).toMatchObject({ status: 200, body: { url: 'wss://voice.example.test/exotel/voice-agent-1/exo-1?m=' } });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const viaGet = await server().get('/api/v1/exotel/allocate?CallSid=exo-1&CallFrom=0998&CallTo=0800', exotelAuth);
    expect(viaGet.body).toEqual(res.body);
    expect((await exotelForm('/api/v1/exotel/allocate', { CallSid: 'exo-1' })).body).toEqual(res.body);
    expect(await activeCalls()).toBe(1);

    expect((await exotelForm('/api/v1/exotel/status', { CallSid: 'exo-1', Status: 'in-progress' })).body).toEqual({ success: true, released: false });
    expect((await exotelForm('/api/v1/exotel/status', { CallSid: 'exo-1', Status: 'completed' })).body).toEqual({ success: true, released: true });
    expect(await activeCalls()).toBe(0);
    expect((await exotelForm('/api/v1/exotel/status', { CallSid: 'exo-1', Status: 'completed' })).body).toEqual({ success: true, released: false });
  });

  test('JSON status callbacks and the bearer token work too', async () => {
    const bearer = { authorization: 'Bearer router-api-token' };
    await http?.close();
    await start({ credentials: Credentials.open({ legacyToken: 'router-api-token', reloadMs: 1000 }, silentLogger()) });
    expect((await server().post('/api/v1/exotel/allocate?tier=basic', { CallSid: 'exo-json' }, bearer)).body.url).toContain('/exotel/voice-agent-4/exo-json');
    expect((await server().post('/api/v1/exotel/status', { CallSid: 'exo-json', Status: 'busy' }, bearer)).body).toEqual({ success: true, released: true });
    expect((await server().post('/api/v1/exotel/status', { CallSid: 'exo-json', Status: 'busy' }, { authorization: 'Bearer wrong' })).status).toBe(401);
  });

  test('credentials are required; failures are JSON with a fitting status, never echoing the input', async () => {
    const none = await server().post('/api/v1/exotel/allocate', { CallSid: 'e' });
    expect(none).toMatchObject({ status: 401, body: { error: 'missing or invalid credentials' } });
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect((await server().post('/api/v1/exotel/allocate', { CallSid: 'e' }, { authorization: `Basic ${Buffer.from('exo-key:wrong').toString('base64')}` })).status).toBe(401);
    expect((await server().post('/api/v1/exotel/allocate', { CallSid: 'e' }, { authorization: 'Bearer exo-token' })).status).toBe(401);
    expect(await counter('exotel', '', 'invalid_signature')).toBe(3);

    expect(await server().post('/api/v1/exotel/allocate', {}, exotelAuth)).toMatchObject({ status: 400, body: { error: 'CallSid is required' } });
    expect(await server().post('/api/v1/exotel/allocate', { CallSid: 'a b' }, exotelAuth)).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^CallSid must match/) } });
    expect((await server().post('/api/v1/exotel/allocate', { CallSid: 42 }, exotelAuth)).status).toBe(400);
    expect((await server().post('/api/v1/exotel/allocate?tier=NOPE', { CallSid: 'e' }, exotelAuth)).status).toBe(400);
    const hostile = await server().post('/api/v1/exotel/allocate?merchant_id=%3Cscript%3Ealert(1)%3C%2Fscript%3E', { CallSid: 'e' }, exotelAuth);
    expect(hostile).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^merchant_id must match/) } });
    expect(hostile.text).not.toContain('script');
    expect(await activeCalls()).toBe(0);

    for (let i = 0; i < 6; i++) await server().post('/api/v1/exotel/allocate', { CallSid: `fill-${i}` }, exotelAuth);
    expect(await server().post('/api/v1/exotel/allocate', { CallSid: 'full' }, exotelAuth)).toMatchObject({ status: 503, body: { error: 'no pods available' } });
  });
});

describe('a call that already ended', () => {
  beforeEach(() => start());

  test('Twilio and Plivo get markup that only hangs up, Exotel a 409 JSON; no slot is taken', async () => {
    expectXml(await twilio('/api/v1/twilio/allocate', { CallSid: 'CAended' }));
    expect((await twilio('/api/v1/twilio/status', { CallSid: 'CAended', CallStatus: 'completed' })).body).toEqual({ success: true, released: true });
    expect(await activeCalls()).toBe(0);
    // A retried or replayed webhook for the finished call.
    const twiml = expectXml(await twilio('/api/v1/twilio/allocate', { CallSid: 'CAended' }));
    expect(twiml.children.map((c) => c.name)).toEqual(['Hangup']);

    // Plivo's hangup callback overtook the answer webhook.
    expect((await plivo('/api/v1/plivo/status', { CallUUID: 'p-overtaken', Event: 'Hangup' })).body).toEqual({ success: true, released: false });
    expect(expectXml(await plivo('/api/v1/plivo/allocate', { CallUUID: 'p-overtaken' })).children.map((c) => c.name)).toEqual(['Hangup']);

    await server().post('/api/v1/exotel/allocate', { CallSid: 'exo-ended' }, exotelAuth);
    await exotelForm('/api/v1/exotel/status', { CallSid: 'exo-ended', Status: 'completed' });
    const exotel = await server().post('/api/v1/exotel/allocate', { CallSid: 'exo-ended' }, exotelAuth);
    expect(exotel.status).toBe(409);
    expect(exotel.body).toEqual({ error: 'call_ended', reason: 'released' });

    expect(await activeCalls()).toBe(0);
    expect(await counter('twilio', '', 'call_ended')).toBe(1);
    expect(await counter('plivo', '', 'call_ended')).toBe(1);
    expect(await counter('exotel', '', 'call_ended')).toBe(1);
  });
});

describe('configuration', () => {
  test('with verification on and no secret, the provider answers 503 naming what to set, and says so at start', async () => {
    await start({ twilioAuthToken: undefined, exotelApiKey: undefined });
    const res = await server().request('POST', '/api/v1/twilio/allocate', { body: 'CallSid=CA1', headers: FORM });
    expect(res.status).toBe(503);
    expect(res.body.error).toMatch(/^twilio is not configured: set TWILIO_AUTH_TOKEN/);
    expect((await server().post('/api/v1/exotel/allocate', { CallSid: 'e' }, exotelAuth)).status).toBe(503);
    expect(await activeCalls()).toBe(0);
    expect(logs.filter((l) => l.message === 'provider not configured: its webhooks answer 503').map((l) => l.provider)).toEqual(['twilio', 'exotel']);
    // Plivo, configured, still works.
    expect(expectXml(await plivo('/api/v1/plivo/allocate', { CallUUID: 'p-ok' })).children[0]!.name).toBe('Stream');
  });

  test('with verification explicitly off, unsigned requests are served, with a warning at start', async () => {
    await start({ verifySignatures: false, twilioAuthToken: undefined, plivoAuthToken: undefined, exotelApiKey: undefined, exotelApiToken: undefined });
    expect(logs.some((l) => l.level === 'warn' && String(l.message).startsWith('provider signature verification is OFF'))).toBe(true);
    const res = await server().request('POST', '/api/v1/twilio/allocate', { body: 'CallSid=CAopen', headers: FORM });
    expect(expectXml(res).children[0]!.name).toBe('Connect');
    expect(parseXml((await server().request('POST', '/api/v1/plivo/allocate', { body: 'CallUUID=p-open', headers: FORM })).text).children[0]!.name).toBe('Stream');
    expect((await server().post('/api/v1/exotel/allocate', { CallSid: 'e-open' })).status).toBe(200);
    expect((await server().request('POST', '/api/v1/twilio/status', { body: 'CallSid=CAopen&CallStatus=completed', headers: FORM })).body.released).toBe(true);
  });

  test('without PUBLIC_URL the signed URL is rebuilt from the forwarded protocol and host', async () => {
    await start({ publicUrl: undefined });
    const path = '/api/v1/twilio/allocate?merchant_id=merchant-gold-1';
    const signed = twilioRequest(TWILIO_TOKEN, `https://public.example.test${path}`, { CallSid: 'CAproxy' });
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example.test' };
    expect(expectXml(await server().request('POST', path, { ...signed, headers: { ...signed.headers, ...forwarded } })).children[0]!.name).toBe('Connect');
    // The same signature reaching the router under another public name is refused.
    const elsewhere = { ...forwarded, 'x-forwarded-host': 'other.example.test' };
    expect((await server().request('POST', path, { ...signed, headers: { ...signed.headers, ...elsewhere } })).status).toBe(403);
  });

  test('X-Forwarded-* from a peer TRUST_PROXY does not name is not believed', async () => {
    await start({ publicUrl: undefined }, isolatedStore(redis), ['10.0.0.0/8']); // the test client is 127.0.0.1
    const path = '/api/v1/twilio/allocate';
    const signed = twilioRequest(TWILIO_TOKEN, `https://public.example.test${path}`, { CallSid: 'CAspoof' });
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example.test' };
    expect((await server().request('POST', path, { ...signed, headers: { ...signed.headers, ...forwarded } })).status).toBe(403);
  });

  test('PUBLIC_URL may carry a path prefix and a trailing slash; Twilio may sign with the standard port', async () => {
    await start({ publicUrl: 'https://edge.example.test/router/' });
    const path = '/api/v1/twilio/allocate';
    const prefixed = twilioRequest(TWILIO_TOKEN, `https://edge.example.test/router${path}`, { CallSid: 'CAprefix' });
    expect(expectXml(await server().request('POST', path, prefixed)).children[0]!.name).toBe('Connect');
    const withPort = twilioRequest(TWILIO_TOKEN, `https://edge.example.test:443/router${path}`, { CallSid: 'CAport' });
    expect(expectXml(await server().request('POST', path, withPort)).children[0]!.name).toBe('Connect');
  });
});

describe('with Redis down', () => {
  test('Twilio and Plivo still get markup they can play, Exotel a 503, and status callbacks a 503', async () => {
    const redisServer = await launchRedis({ appendonly: false });
    const client = createRedisClient(redisServer.url, 300, silentLogger());
    try {
      await connectRedis(client, 5000);
      await start({}, new RoutingStore(client, 'tel-outage'));
      await redisServer.stop();
      expectSpokenFailure(await twilio('/api/v1/twilio/allocate', { CallSid: 'CAdown' }), 'Say');
      expectSpokenFailure(await plivo('/api/v1/plivo/allocate', { CallUUID: 'p-down' }), 'Speak');
      expect(await server().post('/api/v1/exotel/allocate', { CallSid: 'e-down' }, exotelAuth)).toMatchObject({ status: 503, body: { error: 'routing store unavailable' } });
      const status = await twilio('/api/v1/twilio/status', { CallSid: 'CAdown', CallStatus: 'completed' });
      expect(status.status).toBe(503);
      expect(await counter('twilio', '', 'refused')).toBe(1);
    } finally {
      await http?.close();
      http = undefined;
      client.disconnect();
      await redisServer.destroy();
    }
  });
});

test('the signed URL covers the query Twilio was configured with, so routing hints cannot be forged', async () => {
  await start();
  const configured = `${PUBLIC}/api/v1/twilio/allocate?merchant_id=merchant-gold-1`;
  const signature = twilioSign(TWILIO_TOKEN, configured, { CallSid: 'CAgold' });
  const res = await server().request('POST', '/api/v1/twilio/allocate?merchant_id=merchant-gold-1', {
    body: 'CallSid=CAgold',
    headers: { ...FORM, 'x-twilio-signature': signature },
  });
  expect(parseXml(res.text).children[0]!.children[0]!.attributes.url).toContain('/twilio/voice-agent-0/CAgold');
});
