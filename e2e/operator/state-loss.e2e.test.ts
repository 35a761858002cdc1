// Redis loses its data (FLUSHALL) under 50 live calls: the leader notices at
// once (the owner record is gone), rebuilds routing from the cluster without
// waiting for a resync, records an Event and a metric, and holds the pods
// that were busy out of allocation (their agents may still be streaming), so
// no pod ever gets more calls than it can take. Prints how long allocations
// failed. This file has a redis-server of its own, so it can FLUSHALL.
import type { RouterProcess } from '../../test/support/router-process.js';
import { api, apply, deployAgents, metric, operatorEnv, waitFor, waitForEvent, waitForLabels, waitForStatus, countBy, type OperatorEnv } from './support.js';

const PODS = 60;
const LIVE_CALLS = 50;
let env: OperatorEnv;
let op: RouterProcess;

beforeAll(async () => {
  env = await operatorEnv('e2e-loss', { ownRedis: true });
  await apply(`apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: standard }
spec: { tier: standard, exclusive: true, replicas: ${PODS}, selector: { matchLabels: { app: voice-agent } } }
`, env.namespace);
  await deployAgents(env.namespace, PODS);
  op = await env.startOperator({ LOST_STATE_GRACE_SECONDS: '600' });
  await waitForLabels(env.namespace, 'pools assigned', (l) => countBy(l).standard === PODS, 180_000);
  await waitForStatus(env.namespace, 'standard', 'all pods ready', (s) => s.readyPods === PODS, 120_000);
}, 300_000);
afterAll(async () => {
  await env?.teardown();
}, 60_000);

test(`FLUSHALL with ${LIVE_CALLS} live calls: allocations work again at once, busy pods are held out, no pod over capacity`, async () => {
  const live = new Map<string, string>(); // call -> pod
  for (let i = 0; i < LIVE_CALLS; i++) {
    const res = await api(op, '/api/v1/allocate', { call_sid: `live-${i}` });
    expect(res.status).toBe(200);
    live.set(`live-${i}`, res.body.pod_name as string);
  }
  // The leader has read the calls (it writes them into the pool's status after reading them).
  await waitForStatus(env.namespace, 'standard', `${LIVE_CALLS} active calls`, (s) => s.activeCalls === LIVE_CALLS);

  await env.redis.flushall();
  const flushedAt = performance.now();
  const after = new Map<string, string>();
  let firstOkMs: number | undefined;
  let refused = 0;
  for (let i = 0; firstOkMs === undefined && i < 3000; i++) {
    const res = await api(op, '/api/v1/allocate', { call_sid: `after-${i}` });
    if (res.status === 200) {
      firstOkMs = performance.now() - flushedAt;
      after.set(`after-${i}`, res.body.pod_name as string);
    } else {
      expect(res.status).toBe(503);
      refused++;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  console.log(`operator: first allocation after FLUSHALL succeeded ${firstOkMs?.toFixed(0)} ms after the flush (${refused} refused with 503 before)`);
  expect(firstOkMs).toBeDefined();
  // Everything that can be taken is taken: only the pods that were idle before the loss.
  for (let i = 0; ; i++) {
    const res = await api(op, '/api/v1/allocate', { call_sid: `fill-${i}` });
    if (res.status !== 200) break;
    after.set(`fill-${i}`, res.body.pod_name as string);
  }
  expect(after.size).toBe(PODS - LIVE_CALLS);
  const perPod = new Map<string, number>();
  for (const pod of [...live.values(), ...after.values()]) perPod.set(pod, (perPod.get(pod) ?? 0) + 1);
  expect(Math.max(...perPod.values())).toBe(1);

  expect(await metric(op, 'smart_router_routing_state_lost_total')).toBe(1);
  await waitForEvent(env.namespace, 'standard', 'RoutingStateLost', new RegExp(`${LIVE_CALLS} pod\\(s\\) that held calls before the loss take no new call for 600 s`));
  await waitFor('status shows the held pods draining', async () => (await api(op, '/api/v1/status')).body.pools.standard?.draining === LIVE_CALLS);
});
