// The built-in autoscaler on the local control plane: the controller-manager's
// Deployment, ReplicaSet and StatefulSet controllers add and remove the pods,
// kwok runs them, and the operator sizes the workload to keep a buffer of free
// call slots, removing only idle pods.
import type { RouterProcess } from '../../test/support/router-process.js';
import { api, apply, condition, eventsFor, kubectl, kubectlJson, listPods, operatorEnv, waitFor, waitForEvent, waitForStatus, type OperatorEnv } from './support.js';

let env: OperatorEnv;
let op: RouterProcess;
const ns = () => env.namespace;

/** A Deployment of voice agents; kwok runs its pods without an image. */
export function voiceAgentDeployment(name: string, replicas: number, labels: Record<string, string>): string {
  const labelYaml = Object.entries(labels).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ');
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { ${labelYaml} } }
  template:
    metadata: { labels: { ${labelYaml} } }
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{ name: agent, image: voice-agent:test }]
`;
}

const autoscaledPool = (name: string, workload: string, kind: string, app: string) => `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: ${name} }
spec:
  tier: ${name}
  exclusive: true
  replicas: 1
  selector: { matchLabels: { app: ${app} } }
  autoscaling: { workloadRef: { kind: ${kind}, name: ${workload} }, bufferSlots: 2, minReplicas: 2, maxReplicas: 8, scaleDownDelaySeconds: 3 }
`;

const workloadReplicas = async (kind: string, name: string) => (await kubectlJson<{ spec: { replicas: number } }>(['get', kind, name], ns())).spec.replicas;
const allocate = async (sid: string, tier: string) => (await api(op, '/api/v1/allocate', { call_sid: sid, tier })).body as { success: boolean; pod_name: string };
const release = (sid: string) => api(op, '/api/v1/release', { call_sid: sid });

beforeAll(async () => {
  env = await operatorEnv('e2e-autoscale');
  await apply(voiceAgentDeployment('agent', 1, { app: 'agent' }), ns());
  await apply(autoscaledPool('standard', 'agent', 'Deployment', 'agent'), ns());
  // The buffer alone (no lead for the rise of calls): the sizes asserted below are the buffer's; the lead has its unit tests and the bench.
  op = await env.startOperator({ AUTOSCALE_INTERVAL_MS: '300', AUTOSCALE_RATE_WINDOW_SECONDS: '0', DEFAULT_TIER: 'standard' });
}, 120_000);
afterAll(async () => {
  await env?.teardown();
}, 60_000);

test('a Deployment grows ahead of the calls, then shrinks by idle pods only after the delay', async () => {
  // Nothing busy: the buffer of 2 (and minReplicas 2) asks for 2 pods.
  await waitFor('the workload at 2', async () => (await workloadReplicas('deployment', 'agent')) === 2);
  await waitForStatus(ns(), 'standard', 'two pods serving', (s) => s.replicas === 2 && s.readyPods === 2 && condition(s, 'Autoscaled')?.status === 'True');

  // Three calls: each one that breaches the buffer grows the workload before the next is asked for.
  const held: { sid: string; pod: string }[] = [];
  for (let i = 0; i < 3; i++) {
    const sid = `grow-${i}`;
    const got = await waitFor(`a pod for ${sid}`, async () => {
      const r = await allocate(sid, 'standard');
      return r.success ? r : undefined;
    });
    held.push({ sid, pod: got.pod_name });
  }
  await waitFor('the workload at 5 (3 busy + 2 free)', async () => (await workloadReplicas('deployment', 'agent')) === 5);
  const grown = await waitForStatus(ns(), 'standard', 'five pods, 2 free slots', (s) => s.replicas === 5 && s.freeSlots === 2 && s.autoscaling?.currentReplicas === 5);
  expect(grown.autoscaling).toMatchObject({ workload: 'Deployment/agent', wantedReplicas: 5, currentReplicas: 5 });
  expect((await kubectlJson<{ spec: { replicas: number } }>(['get', 'vap', 'standard'], ns())).spec.replicas).toBe(5);
  await waitForEvent(ns(), 'standard', 'ScaledUp', /Deployment\/agent \d -> \d/);

  // Two calls end: 1 busy + 2 free wants 3 pods; after the 3 s delay two idle pods go, never the busy one.
  const keep = held[2]!;
  await release(held[0]!.sid);
  await release(held[1]!.sid);
  await waitFor('the workload at 3', async () => (await workloadReplicas('deployment', 'agent')) === 3, 60_000);
  // One step or two (a loaded machine may see one release before the other): never naming the busy pod.
  await waitForEvent(ns(), 'standard', 'ScaledDown', /Deployment\/agent [45] -> 3, removing idle pod\(s\)/);
  for (const e of (await eventsFor(ns(), 'standard')).filter((x) => x.reason === 'ScaledDown')) expect(e.message).not.toContain(keep.pod);
  await waitFor('3 pods left', async () => (await listPods(ns(), 'app=agent')).filter((p) => !p.deleting).length === 3);
  const left = await listPods(ns(), 'app=agent');
  expect(left.map((p) => p.name)).toContain(keep.pod);
  expect((await env.store.call(keep.sid))?.pod).toBe(keep.pod);
  expect((await eventsFor(ns(), 'standard')).filter((e) => e.reason === 'UnexpectedPodRemoved')).toEqual([]);
  await waitForStatus(ns(), 'standard', 'settled at 3', (s) => s.autoscaling?.currentReplicas === 3 && condition(s, 'Autoscaled')?.reason === 'AsWanted');
  await release(keep.sid);
}, 180_000);

test('a StatefulSet shrinks only while its highest ordinals are idle, and the pool says why it waits', async () => {
  await apply(
    `apiVersion: v1
kind: Service
metadata: { name: sts-agent }
spec: { clusterIP: None, selector: { app: sts-agent }, ports: [{ name: ws, port: 8080 }] }
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: sts-agent }
spec:
  serviceName: sts-agent
  replicas: 5
  podManagementPolicy: Parallel
  selector: { matchLabels: { app: sts-agent } }
  template:
    metadata: { labels: { app: sts-agent } }
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{ name: agent, image: voice-agent:test }]
`,
    ns(),
  );
  await waitFor('5 StatefulSet pods Ready', async () => (await listPods(ns(), 'app=sts-agent')).filter((p) => p.ready).length === 5);
  // Holds every pod at first, so a call can be placed on the highest ordinal.
  // A longer delay than the Deployment's: the call must land before the first scale-down is due.
  await apply(
    `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: sts }
spec:
  tier: sts
  exclusive: true
  replicas: 5
  selector: { matchLabels: { app: sts-agent } }
  autoscaling: { workloadRef: { kind: StatefulSet, name: sts-agent }, bufferSlots: 2, minReplicas: 2, maxReplicas: 8, scaleDownDelaySeconds: 15 }
`,
    ns(),
  );
  await waitForStatus(ns(), 'sts', 'five pods', (s) => s.replicas === 5 && s.readyPods === 5);
  // Drain every ordinal but the highest so the call lands there.
  for (let i = 0; i < 4; i++) await kubectl(['annotate', 'pod', `sts-agent-${i}`, 'smartrouter.io/drain=true'], { namespace: ns() });
  await waitForStatus(ns(), 'sts', '4 drained', (s) => s.drainingPods === 4);
  const call = await allocate('sts-call', 'sts');
  expect(call).toMatchObject({ success: true, pod_name: 'sts-agent-4' });
  for (let i = 0; i < 4; i++) await kubectl(['annotate', 'pod', `sts-agent-${i}`, 'smartrouter.io/drain-'], { namespace: ns() });

  // 1 busy + 2 free wants 3, but ordinal 4 holds the call: the StatefulSet stays at 5 and the pool says why.
  const blocked = await waitForStatus(ns(), 'sts', 'scale-down blocked', (s) => condition(s, 'Autoscaled')?.reason === 'ScaleDownBlocked', 60_000);
  expect(condition(blocked, 'Autoscaled')).toMatchObject({ status: 'False', message: expect.stringContaining('pod sts-agent-4 holds calls, and a StatefulSet removes its highest ordinals first') });
  expect(await workloadReplicas('statefulset', 'sts-agent')).toBe(5);

  // The call ends: ordinals 4 and 3 go.
  await release('sts-call');
  await waitFor('the StatefulSet at 3', async () => (await workloadReplicas('statefulset', 'sts-agent')) === 3, 60_000);
  await waitFor('ordinals 0..2 left', async () => JSON.stringify((await listPods(ns(), 'app=sts-agent')).filter((p) => !p.deleting).map((p) => p.name).sort()) === JSON.stringify(['sts-agent-0', 'sts-agent-1', 'sts-agent-2']));
}, 180_000);
