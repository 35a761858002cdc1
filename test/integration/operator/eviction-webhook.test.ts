// The eviction guard as the API server reaches it: AdmissionReviews over
// HTTPS, answered from a real Redis; certificates swapped live.
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { Registry } from 'prom-client';
import { silentLogger } from '../../../core/logger.js';
import type { RoutingStore } from '../../../lua/routing-store.js';
import { issueCa, issueServing, type KeyPair } from '../../../operator/eviction-guard/certificates.js';
import { EvictionGuard, type CachedPod } from '../../../operator/eviction-guard/eviction-guard.js';
import { EVICTION_WEBHOOK_PATH, WebhookServer } from '../../../operator/eviction-guard/webhook-server.js';
import { OperatorMetrics } from '../../../operator/operator-metrics.js';
import { isolatedStore, pool, sharedTestRedis } from '../../support/routing.js';

const redis = sharedTestRedis();
let store: RoutingStore;
let server: WebhookServer;
let ca: KeyPair;
let metrics: OperatorMetrics;
const pods = new Map<string, CachedPod>();
const marked: { pod: string; at: Date }[] = [];
const events: { reason: string; message: string }[] = [];

const member = (pod: string) => ({ pod, ready: true, draining: false, incarnation: `${pod}:0` });

beforeAll(async () => {
  ca = await issueCa('test ca', new Date(), 3600_000);
});

beforeEach(async () => {
  store = isolatedStore(redis);
  pods.clear();
  marked.length = 0;
  events.length = 0;
  metrics = new OperatorMetrics(new Registry());
  await store.syncPool(pool('standard', { exclusive: true, replicas: 2, drain: { maxDrainSeconds: 600 } }), [member('agent-0'), member('agent-1')]);
  const guard = new EvictionGuard({
    store,
    namespace: 'calls',
    pod: (name) => pods.get(name),
    marker: {
      async markDraining(pod, at) {
        marked.push({ pod, at });
        const cached = pods.get(pod) ?? { annotations: {} };
        pods.set(pod, { ...cached, annotations: { ...cached.annotations, 'smartrouter.io/drain': 'true', 'smartrouter.io/drain-started-at': at.toISOString() } });
        return at;
      },
    },
    events: { record: async (_target, _type, reason, message) => void events.push({ reason, message }) },
    metrics,
    logger: silentLogger(),
  });
  server = await WebhookServer.listen('127.0.0.1', 0, await issueServing(ca, ['localhost'], ['127.0.0.1'], new Date(), 3600_000), guard, silentLogger());
});

afterEach(async () => {
  await server.close();
});

interface Reply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  peer: X509Certificate;
}

function post(body: unknown, path = EVICTION_WEBHOOK_PATH, trust: string | string[] = ca.cert): Promise<Reply> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method: 'POST', ca: trust, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      const peer = new X509Certificate((res.socket as TLSSocket).getPeerCertificate().raw);
      let data = '';
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data), peer }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

const review = (pod: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: { uid: `uid-${pod}`, resource: { group: '', version: 'v1', resource: 'pods' }, subResource: 'eviction', operation: 'CREATE', name: pod, namespace: 'calls', ...extra },
});

const allocate = async (sid: string) => store.allocate(sid, ['standard'], await store.poolsVersion());

test('a pod with a call is drained at the first attempt, held back with 429 while the call lasts, and let go when it ends', async () => {
  const first = await allocate('call-1');
  expect(first).toMatchObject({ kind: 'allocated' });
  const busy = (first as { pod: string }).pod;
  const idle = busy === 'agent-0' ? 'agent-1' : 'agent-0';

  const denied = await post(review(busy));
  expect(denied.status).toBe(200);
  expect(denied.body.response).toMatchObject({ uid: `uid-${busy}`, allowed: false, status: { code: 429, reason: 'TooManyRequests' } });
  expect(denied.body.response.status.message).toMatch(new RegExp(`^pod ${busy} has 1 active call; smart-router drains it \\(no new calls\\) and allows the eviction when they end \\(deadline \\d{4}-\\d\\d-\\d\\dT[\\d:]+Z\\)$`));
  expect(await store.podState(busy)).toMatchObject({ draining: true, calls: ['call-1'] });
  expect(marked.map((m) => m.pod)).toEqual([busy]);
  expect(events.map((e) => e.reason)).toEqual(['EvictionHeld']);

  // No new call lands on the draining pod: the next one goes to the other pod, then none is left.
  expect(await allocate('call-2')).toMatchObject({ kind: 'allocated', pod: idle });
  expect(await allocate('call-3')).toEqual({ kind: 'none' });

  // A retry keeps the first drain start and records nothing new.
  expect((await post(review(busy))).body.response.allowed).toBe(false);
  expect(marked).toHaveLength(1);
  expect(events).toHaveLength(1);

  await store.release('call-1');
  const allowed = await post(review(busy));
  expect(allowed.body.response).toEqual({ uid: `uid-${busy}`, allowed: true });
  expect(await metrics.evictionReviews.get()).toMatchObject({
    values: expect.arrayContaining([
      expect.objectContaining({ labels: { result: 'denied', reason: 'calls-active' }, value: 2 }),
      expect.objectContaining({ labels: { result: 'allowed', reason: 'idle' }, value: 1 }),
    ]),
  });
});

test('an idle pod is allowed at once and drained before the answer; a pod routing does not know is allowed untouched', async () => {
  expect((await post(review('agent-0'))).body.response.allowed).toBe(true);
  expect(await store.podState('agent-0')).toMatchObject({ draining: true });
  expect((await post(review('not-in-a-pool'))).body.response.allowed).toBe(true);
  expect(marked.map((m) => m.pod)).toEqual(['agent-0']);
});

test('a dry run is answered the same and changes nothing', async () => {
  const { pod } = (await allocate('call-1')) as { pod: string };
  const dry = await post(review(pod, { dryRun: true }));
  expect(dry.body.response).toMatchObject({ allowed: false, status: { code: 429 } });
  expect(await store.podState(pod)).toMatchObject({ draining: false });
  expect(marked).toEqual([]);
  expect(events).toEqual([]);
  expect((await post(review(pod === 'agent-0' ? 'agent-1' : 'agent-0', { dryRun: true }))).body.response.allowed).toBe(true);
  expect(await store.podState('agent-1')).toMatchObject({ draining: false });
});

test('force and a passed deadline let a pod go with its calls, with an Event and a metric', async () => {
  const { pod } = (await allocate('call-1')) as { pod: string };
  pods.set(pod, { annotations: { 'smartrouter.io/force-eviction': 'true' } });
  const forced = await post(review(pod));
  expect(forced.body.response).toEqual({ uid: `uid-${pod}`, allowed: true, warnings: [`pod ${pod} evicted with 1 active call: smartrouter.io/force-eviction=true`] });
  expect(events.map((e) => e.reason)).toEqual(['EvictedWithCalls']);

  const other = pod === 'agent-0' ? 'agent-1' : 'agent-0';
  await store.syncPool(pool('standard', { exclusive: true, replicas: 2 }), [member('agent-0'), member('agent-1')]);
  expect(await allocate('call-2')).toMatchObject({ pod: other });
  pods.set(other, { annotations: { 'smartrouter.io/drain': 'true', 'smartrouter.io/drain-started-at': new Date(Date.now() - 120_000).toISOString(), 'smartrouter.io/max-drain-seconds': '60' } });
  const late = await post(review(other));
  expect(late.body.response.allowed).toBe(true);
  expect(late.body.response.warnings[0]).toMatch(/its drain deadline .* passed \(maxDrainSeconds 60, from smartrouter.io\/max-drain-seconds\)/);
  expect((await metrics.evictionsWithCalls.get()).values.map((v) => [v.labels.reason, v.value]).sort()).toEqual([['deadline', 1], ['forced', 1]]);
});

test('a drain start left from an undrained drain does not count: the deadline starts again', async () => {
  const { pod } = (await allocate('call-1')) as { pod: string };
  pods.set(pod, { annotations: { 'smartrouter.io/drain-started-at': new Date(Date.now() - 3600_000).toISOString() } });
  const answer = await post(review(pod));
  expect(answer.body.response.allowed).toBe(false);
  expect(marked.map((m) => m.pod)).toEqual([pod]);
});

test('one read gives the pool spec with its drain deadline, the calls and when they expire, also after the pod left its pool', async () => {
  expect(await store.podEvictionState('agent-0')).toEqual({ pool: 'standard', draining: false, poolSpec: expect.objectContaining({ drain: { maxDrainSeconds: 600 } }), calls: 0, callsExpireMs: null });
  expect(await store.podEvictionState('nobody')).toBeNull();
  const { pod } = (await allocate('call-1')) as { pod: string };
  const before = Date.now();
  await store.deletePool('standard');
  const state = await store.podEvictionState(pod);
  expect(state).toMatchObject({ pool: '', poolSpec: null, calls: 1 });
  // 14400 s after the call started, as the pool's maxCallDurationSeconds said.
  expect(state!.callsExpireMs).toBeGreaterThan(before + 14_300_000);
  expect(state!.callsExpireMs).toBeLessThan(before + 14_500_000);
});

test('what is not a review gets a clear 4xx, never a 500', async () => {
  expect(await post('{not json')).toMatchObject({ status: 400, body: { error: 'body is not JSON' } });
  expect(await post({ kind: 'Pod' })).toMatchObject({ status: 400, body: { error: 'body must be an admission.k8s.io/v1 AdmissionReview' } });
  expect(await post(review('agent-0'), '/elsewhere')).toMatchObject({ status: 404 });
  expect(await post('x'.repeat(2 * 1024 * 1024))).toMatchObject({ status: 413 });
  // Another namespace is not this installation's: allowed untouched.
  expect((await post(review('agent-0', { namespace: 'other' }))).body.response.allowed).toBe(true);
  expect(await store.podState('agent-0')).toMatchObject({ draining: false });
});

test('a new serving certificate is served from the next connection on, without a restart', async () => {
  const before = (await post(review('nobody'))).peer.fingerprint256;
  const ca2 = await issueCa('second ca', new Date(), 3600_000);
  server.reload(await issueServing(ca2, ['localhost'], ['127.0.0.1'], new Date(), 3600_000));
  const after = await post(review('nobody'), EVICTION_WEBHOOK_PATH, [ca.cert, ca2.cert]);
  expect(after.status).toBe(200);
  expect(after.peer.fingerprint256).not.toBe(before);
  await expect(post(review('nobody'), EVICTION_WEBHOOK_PATH, ca.cert)).rejects.toThrow(/certificate/);
});
