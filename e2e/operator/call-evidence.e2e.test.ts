// Ending calls rests on evidence: only the agent container's restarts count
// (a sidecar restart keeps the calls), and routing that knows more than the
// operator's cache (a later incarnation recorded by a leader with a fresher
// view) is never overruled: the API server is asked, and incarnations only
// move forward.
import { simulatePod } from '../support/cluster.js';
import type { RouterProcess } from '../../test/support/router-process.js';
import { api, apply, countBy, kubectlJson, metric, operatorEnv, waitFor, waitForLabels, type OperatorEnv } from './support.js';

let env: OperatorEnv;
let op: RouterProcess;
const ns = () => env.namespace;

/** Voice agents with a sidecar next to the agent container (kwok reports a status for each). */
const agentsWithSidecar = (replicas: number) => `apiVersion: apps/v1
kind: StatefulSet
metadata: { name: voice-agent }
spec:
  serviceName: voice-agent
  replicas: ${replicas}
  podManagementPolicy: Parallel
  selector: { matchLabels: { app: voice-agent } }
  template:
    metadata: { labels: { app: voice-agent, e2e-namespace: ${env.namespace} } }
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - { name: agent, image: "voice-agent:test" }
        - { name: proxy, image: "proxy:test" }
`;

beforeAll(async () => {
  env = await operatorEnv('e2e-evidence');
  await apply(`apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: standard }
spec: { tier: standard, exclusive: true, replicas: 2, selector: { matchLabels: { app: voice-agent } } }
`, ns());
  await apply(agentsWithSidecar(2), ns());
  // Routing rewritten in full every 2 s: every pod's incarnation is judged again and again.
  op = await env.startOperator({ FULL_RESYNC_SECONDS: '2' });
  await waitForLabels(ns(), 'pools assigned', (l) => countBy(l).standard === 2);
  await waitFor('both containers report', async () => {
    const pods = await kubectlJson<{ items: { status?: { containerStatuses?: unknown[] } }[] }>(['get', 'pods', '-l', 'app=voice-agent'], ns());
    return pods.items.length === 2 && pods.items.every((p) => p.status?.containerStatuses?.length === 2);
  });
}, 120_000);
afterAll(async () => {
  await env?.teardown();
}, 60_000);

const okRuns = () => metric(op, 'smart_router_reconciles_total', { result: 'ok' });
/** Waits until the leader has reconciled `n` more times, full rewrites included. */
async function reconciledAgain(n: number): Promise<void> {
  const start = await okRuns();
  await waitFor(`${n} more reconciles`, async () => (await okRuns()) >= start + n, 60_000, 250);
}
const restartsOf = async (pod: string, container: string) => {
  const p = await kubectlJson<{ status: { containerStatuses: { name: string; restartCount: number }[] } }>(['get', 'pod', pod], ns());
  return p.status.containerStatuses.find((c) => c.name === container)?.restartCount ?? 0;
};

test('both watches are reported up', async () => {
  expect(await metric(op, 'smart_router_informer_watch_up', { resource: 'pods' })).toBe(1);
  expect(await metric(op, 'smart_router_informer_watch_up', { resource: 'voiceagentpools' })).toBe(1);
});

test('a sidecar restart keeps the pod’s calls; a restart of the agent container ends them', async () => {
  const call = await api(op, '/api/v1/allocate', { call_sid: 'sidecar-call' });
  const pod = call.body.pod_name as string;
  await simulatePod('restart', pod, ns(), 'proxy');
  expect(await restartsOf(pod, 'proxy')).toBe(1);
  await reconciledAgain(4);
  expect(await env.store.call('sidecar-call')).toMatchObject({ pod });
  expect((await env.store.podState(pod))?.calls).toEqual(['sidecar-call']);

  await simulatePod('restart', pod, ns(), 'agent');
  await waitFor('call ended by the agent restart', async () => (await env.store.call('sidecar-call')) === null);
  expect(await env.store.endedCall('sidecar-call')).toMatchObject({ reason: 'pod_restarted', pod });
});

test('a cache behind routing never ends a live call, and the incarnation never moves back', async () => {
  const call = await api(op, '/api/v1/allocate', { call_sid: 'ahead-call' });
  const pod = call.body.pod_name as string;
  const recorded = (await env.store.podState(pod))!.incarnation;
  const [uid, restarts] = recorded.split(':');
  // As a leader with a fresher view would have left it: more restarts than this operator's cache (and the API server) show.
  const ahead = `${uid}:${Number(restarts) + 5}`;
  await env.redis.hset(env.store.keys.pod(pod), 'incarnation', ahead);
  await reconciledAgain(4);
  expect(await env.store.podState(pod)).toMatchObject({ incarnation: ahead, calls: ['ahead-call'] });
  expect(await env.store.call('ahead-call')).toMatchObject({ pod });
  expect((await api(op, '/api/v1/release', { call_sid: 'ahead-call' })).status).toBe(200);
});
