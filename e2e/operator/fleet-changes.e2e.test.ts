// Platform engineers change the fleet with kubectl; the operator turns each
// change into labels, Redis membership, status and Events.
import { simulatePod } from '../support/cluster.js';
import type { RouterProcess } from '../../test/support/router-process.js';
import { api, apply, countBy, deployAgents, eventsFor, kubectl, listPods, operatorEnv, poolStatus, waitFor, waitForLabels, type OperatorEnv } from './support.js';

let env: OperatorEnv;
let op: RouterProcess;
const ns = () => env.namespace;

const pool = (name: string, spec: string) => `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: ${name} }
spec: ${spec}
`;

beforeAll(async () => {
  env = await operatorEnv('e2e-fleet');
  await apply(pool('standard', '{ tier: standard, exclusive: true, replicas: 3, priority: 10, selector: { matchLabels: { app: voice-agent } }, fallback: [basic] }'), ns());
  await apply(pool('basic', '{ tier: basic, capacity: 3, replicas: 2, selector: { matchLabels: { app: voice-agent } } }'), ns());
  await deployAgents(ns(), 5);
  op = await env.startOperator();
  await waitForLabels(ns(), 'initial assignment', (l) => countBy(l).standard === 3 && countBy(l).basic === 2);
}, 120_000);
afterAll(async () => {
  await env?.teardown();
}, 60_000);

const members = async (p: string) => (await env.store.poolMembers(p)).sort();
const labelled = (labels: Record<string, string>, p: string) => Object.keys(labels).filter((k) => labels[k] === p).sort();

test('scaling the StatefulSet up fills nothing new; scaling down takes pods out of Redis', async () => {
  await kubectl(['scale', 'statefulset/voice-agent', '--replicas=7'], { namespace: ns() });
  const up = await waitForLabels(ns(), '7 pods, 2 free', (l) => Object.keys(l).length === 7 && (countBy(l)[''] ?? 0) === 2);
  expect(countBy(up)).toMatchObject({ standard: 3, basic: 2 });
  await kubectl(['scale', 'statefulset/voice-agent', '--replicas=4'], { namespace: ns() });
  // The StatefulSet removes the highest ordinals; the pools refill from what is left.
  const down = await waitForLabels(ns(), '4 pods', (l) => Object.keys(l).length === 4 && (countBy(l)[''] ?? 0) === 0);
  expect(countBy(down)).toEqual({ standard: 3, basic: 1 });
  await waitFor('redis membership follows', async () => JSON.stringify(await members('basic')) === JSON.stringify(labelled(down, 'basic')));
  const status = await waitFor('basic degraded', async () => {
    const s = await poolStatus(ns(), 'basic');
    return s.conditions?.find((c: { type: string }) => c.type === 'Degraded')?.status === 'True' ? s : undefined;
  });
  expect(status.conditions.find((c: { type: string }) => c.type === 'Degraded')).toMatchObject({ reason: 'NotEnoughEligiblePods' });
  expect((await eventsFor(ns(), 'basic')).map((e) => e.reason)).toContain('Degraded');
  await kubectl(['scale', 'statefulset/voice-agent', '--replicas=5'], { namespace: ns() });
  await waitForLabels(ns(), 'back to 5', (l) => countBy(l).standard === 3 && countBy(l).basic === 2);
}, 120_000);

test("changing a pool's replicas: a shrink drains the least-loaded pods, busy ones keep their calls until released", async () => {
  const call = await api(op, '/api/v1/allocate', { call_sid: 'shrink-call' });
  const busy = call.body.pod_name as string;
  await apply(pool('standard', '{ tier: standard, exclusive: true, replicas: 1, priority: 10, selector: { matchLabels: { app: voice-agent } }, fallback: [basic] }'), ns());
  const labels = await waitForLabels(ns(), 'standard shrunk to its busy pod', (l) => countBy(l).standard === 1 && l[busy] === 'standard');
  expect(labels[busy]).toBe('standard');
  expect(await members('standard')).toEqual([busy]);
  // The freed pods went to basic (replicas 2 already) or stay free.
  await apply(pool('standard', '{ tier: standard, exclusive: true, replicas: 0, priority: 10, selector: { matchLabels: { app: voice-agent } }, fallback: [basic] }'), ns());
  await waitFor('busy pod draining in Redis', async () => (await env.store.podState(busy))?.draining);
  const pod = await env.store.podState(busy);
  expect(pod).toMatchObject({ pool: 'standard', draining: true, calls: ['shrink-call'] });
  expect((await api(op, '/api/v1/release', { call_sid: 'shrink-call' })).body).toMatchObject({ was_draining: true, released_to_pool: 'pool:standard' });
  await waitForLabels(ns(), 'idle pod unlabelled', (l) => l[busy] !== 'standard');
  expect((await eventsFor(ns(), busy)).map((e) => e.reason)).toEqual(expect.arrayContaining(['PodDraining', 'PodReleased']));
  await apply(pool('standard', '{ tier: standard, exclusive: true, replicas: 3, priority: 10, selector: { matchLabels: { app: voice-agent } }, fallback: [basic] }'), ns());
  await waitForLabels(ns(), 'standard back to 3', (l) => countBy(l).standard === 3);
}, 120_000);

test('changing a selector moves pods; changing priority decides who gets scarce pods; deleting a pool frees its pods', async () => {
  await kubectl(['label', 'pod', 'voice-agent-4', 'lang=hi', '--overwrite'], { namespace: ns() });
  await apply(pool('basic', '{ tier: basic, capacity: 3, replicas: 2, selector: { matchLabels: { lang: hi } } }'), ns());
  const l1 = await waitForLabels(ns(), 'basic only on lang=hi', (l) => l['voice-agent-4'] === 'basic' && countBy(l).basic === 1);
  expect(await members('basic')).toEqual(['voice-agent-4']);
  expect(l1['voice-agent-4']).toBe('basic');

  await kubectl(['delete', 'vap', 'basic'], { namespace: ns() });
  await waitFor('basic gone from redis', async () => !(await env.store.poolsSnapshot()).pools.some((p) => p.name === 'basic'));
  await waitForLabels(ns(), 'basic labels removed', (l) => !Object.values(l).includes('basic'));

  // A new high-priority pool gets the free pods before a low-priority one.
  await apply(pool('vip', '{ tier: vip, replicas: 2, priority: 100, selector: { matchLabels: { app: voice-agent } } }'), ns());
  await apply(pool('low', '{ tier: low, replicas: 2, priority: -5, selector: { matchLabels: { app: voice-agent } } }'), ns());
  const l2 = await waitForLabels(ns(), 'vip served', (l) => countBy(l).vip === 2);
  expect(countBy(l2).low ?? 0).toBe(0);
  await kubectl(['delete', 'vap', 'vip', 'low'], { namespace: ns() });
  await waitForLabels(ns(), 'only standard left', (l) => Object.values(l).every((v) => v === 'standard' || v === ''));
}, 120_000);

test('kubectl annotate drains and undrains a pod; a drained pod is backfilled', async () => {
  const labels = await waitForLabels(ns(), 'standard', (l) => countBy(l).standard === 3);
  const pod = labelled(labels, 'standard')[0]!;
  await kubectl(['annotate', 'pod', pod, 'smartrouter.io/drain=true'], { namespace: ns() });
  await waitFor('draining in redis', async () => (await env.store.podState(pod))?.draining);
  await waitFor('a free pod backfills standard', async () => (await members('standard')).length === 4);
  const res = await api(op, '/api/v1/pod/' + pod);
  expect(res.body).toMatchObject({ draining: true, pool: 'pool:standard' });
  await kubectl(['annotate', 'pod', pod, 'smartrouter.io/drain-'], { namespace: ns() });
  await waitFor('undrained', async () => (await env.store.podState(pod))?.draining === false || (await env.store.podState(pod)) === null);
  await waitForLabels(ns(), 'standard back to 3', (l) => countBy(l).standard === 3);
}, 120_000);

test('a pod not Ready keeps its calls; a restarted pod loses them, counted; a deleted pod loses them', async () => {
  const a = await api(op, '/api/v1/allocate', { call_sid: 'notready-call' });
  const pod = a.body.pod_name as string;
  await simulatePod('notready', pod, ns());
  await waitFor('not ready in redis', async () => (await env.store.podState(pod))?.ready === false);
  expect((await env.store.podState(pod))?.calls).toEqual(['notready-call']);
  await simulatePod('ready', pod, ns());
  await waitFor('ready again', async () => (await env.store.podState(pod))?.ready === true);

  await simulatePod('restart', pod, ns());
  await waitFor('call reaped after restart', async () => (await env.store.call('notready-call')) === null);
  expect((await eventsFor(ns(), pod)).map((e) => e.reason)).toContain('CallsReaped');
  const metrics = await (await fetch(`${op.url}/metrics`)).text();
  expect(metrics).toMatch(/smart_router_calls_reaped_total\{pool="standard",reason="pod_restarted"\} 1/);

  const b = await api(op, '/api/v1/allocate', { call_sid: 'deleted-call' });
  await kubectl(['delete', 'pod', b.body.pod_name, '--wait=false'], { namespace: ns() });
  await waitFor('call reaped after delete', async () => (await env.store.call('deleted-call')) === null);
  await waitForLabels(ns(), 'replacement pod joins', (l) => countBy(l).standard === 3);
}, 120_000);

test('kubectl drain of a node: its pods stop taking calls at once, replacements join elsewhere', async () => {
  const labels = await waitForLabels(ns(), 'standard', (l) => countBy(l).standard === 3);
  const pods = await listPods(ns());
  const node = pods.find((p) => labels[p.name] === 'standard')!.node;
  const call = await api(op, '/api/v1/allocate', { call_sid: 'drain-node-call' });
  expect(call.status).toBe(200);
  await kubectl(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=90s']);
  try {
    const after = await waitFor('standard pods all off the drained node', async () => {
      const now = await listPods(ns());
      const l = Object.fromEntries(now.filter((p) => !p.deleting).map((p) => [p.name, p]));
      const std = Object.values(l).filter((p) => p.labels['smartrouter.io/pool'] === 'standard');
      return std.length === 3 && std.every((p) => p.node !== node && p.ready) ? std : undefined;
    }, 90_000);
    expect(after).toHaveLength(3);
    const alloc = await api(op, '/api/v1/allocate', { call_sid: 'after-node-drain' });
    expect(alloc.status).toBe(200);
    expect((await listPods(ns())).find((p) => p.name === alloc.body.pod_name)?.node).not.toBe(node);
    // The call on an evicted pod either finished on it or was reaped with it: never left dangling.
    const record = await env.store.call('drain-node-call');
    if (record) expect((await listPods(ns())).some((p) => p.name === record.pod)).toBe(true);
  } finally {
    await kubectl(['uncordon', node]);
  }
}, 180_000);

test('a mass assignment is one Event on the pool, not one per pod', async () => {
  await deployAgents(ns(), 12, 'bulk-agent', { app: 'bulk-agent' });
  // All twelve exist and are Ready first, so one reconcile assigns them together.
  await waitFor('12 Ready bulk pods', async () => (await listPods(ns(), 'app=bulk-agent')).filter((p) => p.ready).length === 12);
  await apply(pool('bulk', '{ tier: bulk, replicas: 12, selector: { matchLabels: { app: bulk-agent } } }'), ns());
  await waitForLabels(ns(), 'bulk assigned', (l) => countBy(l).bulk === 12);
  const events = await waitFor('pool event', async () => {
    const e = (await eventsFor(ns(), 'bulk')).filter((x) => x.reason === 'PodAssigned');
    return e.length ? e : undefined;
  });
  expect(events).toHaveLength(1);
  expect(events[0]!.message).toMatch(/^12 pods: serving pool bulk \(bulk-agent-0, .* and 2 more\)$/);
  expect((await eventsFor(ns(), 'bulk-agent-0')).filter((x) => x.reason === 'PodAssigned')).toEqual([]);
  await kubectl(['delete', 'vap', 'bulk'], { namespace: ns() });
  await kubectl(['delete', 'statefulset', 'bulk-agent'], { namespace: ns() });
}, 120_000);

test('Redis flushed: the next reconcile rebuilds membership', async () => {
  // Every key of this installation, as FLUSHALL would (other suites share the server).
  const keys = await env.redis.keys(`${env.store.keys.base}*`);
  expect(keys.length).toBeGreaterThan(0);
  await env.redis.del(...keys);
  await waitFor('membership rebuilt', async () => (await members('standard')).length === 3, 30_000);
  const res = await api(op, '/api/v1/allocate', { call_sid: 'after-flush' });
  expect(res.body).toMatchObject({ success: true, source_pool: 'pool:standard' });
}, 60_000);
