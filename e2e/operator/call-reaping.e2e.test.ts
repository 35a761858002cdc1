// What happens to calls when pods misbehave: a readiness flap keeps them, a
// container restart or a deleted pod ends them (reaped, counted, told), and
// calls never released are reaped after the pool's max call duration.
import { simulatePod } from '../support/cluster.js';
import type { RouterProcess } from '../../test/support/router-process.js';
import { api, apply, condition, countBy, deployAgents, kubectl, labelled, metric, operatorEnv, waitFor, waitForEvent, waitForLabels, waitForStatus, type OperatorEnv } from './support.js';

let env: OperatorEnv;
let op: RouterProcess;
const ns = () => env.namespace;

const pool = (name: string, spec: string) => `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: ${name} }
spec: ${spec}
`;

beforeAll(async () => {
  env = await operatorEnv('e2e-reap');
  await apply(pool('standard', '{ tier: standard, exclusive: true, replicas: 3, priority: 10, selector: { matchLabels: { app: voice-agent } } }'), ns());
  await apply(pool('short', '{ tier: short, replicas: 1, merchants: [short-calls], maxCallDurationSeconds: 2, selector: { matchLabels: { app: voice-agent } } }'), ns());
  await deployAgents(ns(), 5);
  op = await env.startOperator();
  await waitForLabels(ns(), 'pools assigned', (l) => countBy(l).standard === 3 && countBy(l).short === 1);
}, 120_000);
afterAll(async () => {
  await env?.teardown();
}, 60_000);

const reaped = (reason: string) => metric(op, 'smart_router_calls_reaped_total', { reason });
// The call leaves Redis inside the script; the operator counts it a moment later, once the script answered.
const waitForReaped = (reason: string, count: number, labels: Record<string, string> = {}) =>
  waitFor(`${count} calls reaped (${reason})`, async () => (await metric(op, 'smart_router_calls_reaped_total', { reason, ...labels })) === count);

test('a pod that is not Ready takes no new calls and keeps the ones it has', async () => {
  const a = await api(op, '/api/v1/allocate', { call_sid: 'notready-call' });
  const pod = a.body.pod_name as string;
  await simulatePod('notready', pod, ns());
  await waitFor('not ready in redis', async () => (await env.store.podState(pod))?.ready === false);
  expect((await env.store.podState(pod))?.calls).toEqual(['notready-call']);
  const status = await waitForStatus(ns(), 'standard', 'not Ready', (s) => condition(s, 'Ready')?.status === 'False');
  expect(condition(status, 'Ready')).toMatchObject({ reason: 'PodsNotReady', message: '2/3 pods serving and Ready' });
  expect(status.readyPods).toBe(2);
  for (let i = 0; i < 2; i++) {
    const other = await api(op, '/api/v1/allocate', { call_sid: `while-notready-${i}` });
    expect(other.body.pod_name).not.toBe(pod);
  }
  await simulatePod('ready', pod, ns());
  await waitFor('ready again', async () => (await env.store.podState(pod))?.ready === true);
  expect((await env.store.podState(pod))?.calls).toEqual(['notready-call']);
  await waitForStatus(ns(), 'standard', 'Ready again', (s) => condition(s, 'Ready')?.status === 'True');
  expect((await api(op, '/api/v1/release', { call_sid: 'notready-call' })).body).toMatchObject({ success: true, pod_name: pod });
  for (let i = 0; i < 2; i++) await api(op, '/api/v1/release', { call_sid: `while-notready-${i}` });
});

test('a container restart ends the pod’s calls: reaped, counted, told on the pod; the pod keeps serving', async () => {
  const before = await reaped('pod_restarted');
  const a = await api(op, '/api/v1/allocate', { call_sid: 'restart-call' });
  const pod = a.body.pod_name as string;
  await simulatePod('restart', pod, ns());
  await waitFor('call reaped after restart', async () => (await env.store.call('restart-call')) === null);
  await waitForReaped('pod_restarted', before + 1);
  await waitForEvent(ns(), pod, 'CallsReaped', /1 call\(s\) ended because the containers of pod .* restarted: restart-call/);
  expect(await env.store.podState(pod)).toMatchObject({ pool: 'standard', calls: [] });
  expect((await api(op, '/api/v1/release', { call_sid: 'restart-call' })).status).toBe(404);
  await waitForStatus(ns(), 'standard', 'no calls', (s) => s.activeCalls === 0);
});

test('a deleted pod’s calls are reaped and told on its pool; a replacement joins', async () => {
  const before = await reaped('pod_gone');
  const b = await api(op, '/api/v1/allocate', { call_sid: 'deleted-call' });
  const pod = b.body.pod_name as string;
  await kubectl(['delete', 'pod', pod, '--wait=false'], { namespace: ns() });
  await waitFor('call reaped after delete', async () => (await env.store.call('deleted-call')) === null);
  await waitForReaped('pod_gone', before + 1);
  await waitForEvent(ns(), 'standard', 'CallsReaped', new RegExp(`pod ${pod} is gone: deleted-call`));
  await waitForLabels(ns(), 'replacement pod joins', (l) => countBy(l).standard === 3);
});

test('calls never released are reaped after the pool’s maxCallDurationSeconds by the leader', async () => {
  const before = await reaped('expired');
  const call = await api(op, '/api/v1/allocate', { call_sid: 'zombie-call', merchant_id: 'short-calls' });
  expect(call.body.source_pool).toBe('pool:short');
  await waitFor('zombie reaped', async () => (await env.store.call('zombie-call')) === null, 20_000);
  await waitForReaped('expired', before + 1, { pool: 'short' });
  await waitForEvent(ns(), 'short', 'CallsReaped', /never released within maxCallDurationSeconds.*zombie-call/);
  expect((await api(op, '/api/v1/status')).body.pools.short).toMatchObject({ active_calls: 0 });
});

test('a pod that outlived its deleted pool keeps its call; deleted, the call is reaped, not leaked', async () => {
  await apply(pool('temp', '{ tier: temp, replicas: 1, priority: 50, merchants: [temp-merchant], selector: { matchLabels: { app: voice-agent } } }'), ns());
  const l = await waitForLabels(ns(), 'temp served', (x) => countBy(x).temp === 1);
  const pod = labelled(l, 'temp')[0]!;
  const call = await api(op, '/api/v1/allocate', { call_sid: 'orphan-call', merchant_id: 'temp-merchant' });
  expect(call.body).toMatchObject({ pod_name: pod, source_pool: 'pool:temp' });
  await kubectl(['delete', 'vap', 'temp'], { namespace: ns() });
  await waitFor('temp gone from routing', async () => !(await env.store.poolsSnapshot()).pools.some((p) => p.name === 'temp'));
  expect(await env.store.podState(pod)).toMatchObject({ pool: null, draining: true, calls: ['orphan-call'] });
  await waitForEvent(ns(), pod, 'PodDraining', /its pool was deleted/);

  const before = await reaped('pod_gone');
  await kubectl(['delete', 'pod', pod, '--wait=false'], { namespace: ns() });
  await waitFor('orphan call reaped', async () => (await env.store.call('orphan-call')) === null);
  await waitForReaped('pod_gone', before + 1);
  expect(await env.store.knownPods()).not.toContain(pod);
  await waitForLabels(ns(), 'replacement back', (x) => Object.keys(x).length === 5 && !Object.values(x).includes('temp'));
});
