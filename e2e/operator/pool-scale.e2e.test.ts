// A VoiceAgentPool is scalable like a Deployment: kubectl scale and a
// HorizontalPodAutoscaler act on spec.replicas through the scale subresource,
// and the operator publishes the current replicas and the pods' selector.
import type { RouterProcess } from '../../test/support/router-process.js';
import { apply, countBy, deployAgents, kubectl, kubectlJson, operatorEnv, waitFor, waitForLabels, waitForStatus, type OperatorEnv } from './support.js';

let env: OperatorEnv;
let op: RouterProcess;
const ns = () => env.namespace;

/** An HPA on the VoiceAgentPool `pool`, 50% CPU utilization as its target. */
const cpuHpa = (pool: string, minReplicas: number, maxReplicas: number) => `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: ${pool} }
spec:
  scaleTargetRef: { apiVersion: smartrouter.io/v1alpha1, kind: VoiceAgentPool, name: ${pool} }
  minReplicas: ${minReplicas}
  maxReplicas: ${maxReplicas}
  metrics:
    - type: Resource
      resource: { name: cpu, target: { type: Utilization, averageUtilization: 50 } }
`;

const standard = (replicas: number) => `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: standard }
spec: { tier: standard, exclusive: true, replicas: ${replicas}, selector: { matchLabels: { app: voice-agent } } }
`;

interface Scale {
  spec: { replicas: number };
  status: { replicas: number; selector?: string };
}

beforeAll(async () => {
  env = await operatorEnv('e2e-pool-scale');
  await apply(standard(2), ns());
  await deployAgents(ns(), 6);
  op = await env.startOperator();
  await waitForLabels(ns(), 'initial assignment', (l) => countBy(l).standard === 2);
}, 120_000);
afterAll(async () => {
  await env?.teardown();
}, 60_000);

test('kubectl scale vap: the pool claims the new count, and the scale subresource shows it with the selector of its pods', async () => {
  expect(op.url).toBeTruthy();
  const out = await kubectl(['scale', 'vap/standard', '--replicas=5'], { namespace: ns() });
  expect(out).toMatch(/scaled/);
  const labels = await waitForLabels(ns(), '5 pods in standard', (l) => countBy(l).standard === 5);
  expect(countBy(labels)).toMatchObject({ standard: 5, '': 1 });
  await waitForStatus(ns(), 'standard', 'replicas 5', (s) => s.replicas === 5 && s.selector === 'smartrouter.io/pool=standard');

  const scale = await kubectlJson<Scale>(['get', '--subresource=scale', 'vap/standard'], ns());
  expect(scale.spec.replicas).toBe(5);
  expect(scale.status).toEqual({ replicas: 5, selector: 'smartrouter.io/pool=standard' });
  // The selector is the pods' own: it lists exactly the pool's pods.
  const selected = JSON.parse(await kubectl(['get', 'pods', '-l', scale.status.selector!, '-o', 'json'], { namespace: ns() })) as { items: unknown[] };
  expect(selected.items).toHaveLength(5);

  await kubectl(['scale', 'vap/standard', '--replicas=3'], { namespace: ns() });
  await waitForLabels(ns(), 'back to 3', (l) => countBy(l).standard === 3);
  await waitForStatus(ns(), 'standard', 'replicas 3', (s) => s.replicas === 3);
}, 120_000);

test('an HPA targets a pool: it reads the scale subresource and its selector, and its minReplicas scales the pool', async () => {
  await apply(
    cpuHpa('standard', 4, 6),
    ns(),
  );
  // The pool holds 3: below minReplicas, the HPA controller scales it through the subresource (no metrics needed for that).
  const hpa = await waitFor(
    'the HPA to read the pool and scale it to its minimum',
    async () => {
      const h = await kubectlJson<{ status?: { currentReplicas?: number; desiredReplicas?: number; conditions?: { type: string; status: string; reason: string }[] } }>(['get', 'hpa', 'standard'], ns());
      const able = h.status?.conditions?.find((c) => c.type === 'AbleToScale');
      return able?.status === 'True' && h.status?.desiredReplicas === 4 ? h : undefined;
    },
    120_000,
    1_000,
  );
  expect(hpa.status?.currentReplicas).toBeGreaterThanOrEqual(3);
  await waitForLabels(ns(), '4 pods in standard', (l) => countBy(l).standard === 4);
  await waitForStatus(ns(), 'standard', 'replicas 4', (s) => s.replicas === 4);
  const described = await kubectl(['describe', 'hpa', 'standard'], { namespace: ns() });
  expect(described).toMatch(/Reference:\s+VoiceAgentPool\/standard/);
  await kubectl(['delete', 'hpa', 'standard'], { namespace: ns() });
}, 180_000);

// The cluster runs metrics-server, which scrapes the kubelet resource metrics
// kwok emulates for each pod from its kwok.x-k8s.io/usage-cpu annotation: the
// HPA controller reads the pool's scale subresource, lists the pods of its
// status.selector, gets their CPU from metrics.k8s.io and scales the pool.
test('an HPA on CPU scales a pool from its pods\' metrics, found through the scale subresource\'s selector', async () => {
  await apply(
    `apiVersion: apps/v1
kind: StatefulSet
metadata: { name: cpu-agent }
spec:
  serviceName: cpu-agent
  replicas: 5
  podManagementPolicy: Parallel
  selector: { matchLabels: { app: cpu-agent } }
  template:
    metadata:
      labels: { app: cpu-agent }
      # 90m of a 100m request: 90% for the HPA
      annotations: { kwok.x-k8s.io/usage-cpu: 90m }
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{ name: agent, image: voice-agent:test, resources: { requests: { cpu: 100m } } }]
---
apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: cpu }
spec: { tier: cpu, exclusive: true, replicas: 2, selector: { matchLabels: { app: cpu-agent } } }
---
${cpuHpa('cpu', 1, 4)}`,
    ns(),
  );
  await waitForStatus(ns(), 'cpu', 'two pods serving', (s) => s.replicas === 2 && s.selector === 'smartrouter.io/pool=cpu');
  // 2 pods at 90% against a 50% target: ceil(2 x 90 / 50) = 4, the HPA's maximum.
  const hpa = await waitFor(
    'the HPA to measure the pool\'s CPU and scale it',
    async () => {
      const h = await kubectlJson<{ status?: { desiredReplicas?: number; currentMetrics?: { resource?: { name: string; current: { averageUtilization?: number } } }[]; conditions?: { type: string; status: string; reason: string }[] } }>(['get', 'hpa', 'cpu'], ns());
      return h.status?.desiredReplicas === 4 ? h : undefined;
    },
    150_000,
    2_000,
  );
  // metrics-server derives usage from two samples of a cumulative counter, so
  // kwok's 90m comes back as 89-91%: what must hold is the pods' own metric,
  // in the band where ceil(2 x u / 50) = 4.
  const measured = hpa.status?.currentMetrics?.[0]?.resource;
  expect(measured?.name).toBe('cpu');
  expect(measured?.current.averageUtilization).toBeGreaterThan(75);
  expect(measured?.current.averageUtilization).toBeLessThanOrEqual(100);
  expect(hpa.status?.conditions?.find((c) => c.type === 'ScalingActive')).toMatchObject({ status: 'True', reason: 'ValidMetricFound' });
  await waitForLabels(ns(), '4 pods in cpu', (l) => countBy(l).cpu === 4);
  await waitForStatus(ns(), 'cpu', 'replicas 4', (s) => s.replicas === 4);
  // The metric is the pods' own: metrics.k8s.io lists them under the pool's selector.
  const top = await kubectl(['get', '--raw', `/apis/metrics.k8s.io/v1beta1/namespaces/${ns()}/pods?labelSelector=smartrouter.io%2Fpool%3Dcpu`]);
  expect((JSON.parse(top) as { items: unknown[] }).items.length).toBeGreaterThanOrEqual(2);
}, 180_000);
