// Platform engineers change the fleet with kubectl; the operator turns each
// change into labels, Redis membership, status and Events.
import type { RouterProcess } from '../../test/support/router-process.js';
import {
  api,
  apply,
  condition,
  countBy,
  deployAgents,
  eventsFor,
  holdPod,
  kubectl,
  labelled,
  listPods,
  operatorEnv,
  releasePod,
  waitFor,
  waitForEvent,
  waitForLabels,
  waitForStatus,
  type OperatorEnv,
} from './support.js';

let env: OperatorEnv;
let op: RouterProcess;
const ns = () => env.namespace;

const pool = (name: string, spec: string) => `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: ${name} }
spec: ${spec}
`;
const standard = (replicas: number) => pool('standard', `{ tier: standard, exclusive: true, replicas: ${replicas}, priority: 10, selector: { matchLabels: { app: voice-agent } }, fallback: [basic] }`);

beforeAll(async () => {
  env = await operatorEnv('e2e-fleet');
  await apply(standard(3), ns());
  await apply(pool('basic', '{ tier: basic, capacity: 3, replicas: 2, selector: { matchLabels: { app: voice-agent } } }'), ns());
  await deployAgents(ns(), 5);
  op = await env.startOperator();
  await waitForLabels(ns(), 'initial assignment', (l) => countBy(l).standard === 3 && countBy(l).basic === 2);
}, 120_000);
afterAll(async () => {
  await env?.teardown();
}, 60_000);

const members = async (p: string) => (await env.store.poolMembers(p)).sort();
const countEvents = async (object: string, reason: string) => (await eventsFor(ns(), object)).filter((e) => e.reason === reason).length;
const sameMembers = async (labels: Record<string, string>, p: string) => JSON.stringify(await members(p)) === JSON.stringify(labelled(labels, p));

test('scaling the StatefulSet: new pods stay free when the pools are full; scaling down degrades a pool, scaling back recovers it', async () => {
  const degradedEvents = await countEvents('basic', 'Degraded');
  const recoveredEvents = await countEvents('basic', 'Recovered');
  await kubectl(['scale', 'statefulset/voice-agent', '--replicas=7'], { namespace: ns() });
  const up = await waitForLabels(ns(), '7 pods, 2 free', (l) => Object.keys(l).length === 7 && (countBy(l)[''] ?? 0) === 2);
  expect(countBy(up)).toMatchObject({ standard: 3, basic: 2 });
  expect(await sameMembers(up, 'standard')).toBe(true);

  await kubectl(['scale', 'statefulset/voice-agent', '--replicas=4'], { namespace: ns() });
  // The StatefulSet removes the highest ordinals; the pools refill from what is left, by priority.
  const down = await waitForLabels(ns(), '4 pods', (l) => Object.keys(l).length === 4 && (countBy(l)[''] ?? 0) === 0);
  expect(countBy(down)).toEqual({ standard: 3, basic: 1 });
  await waitFor('redis membership follows', async () => (await sameMembers(down, 'basic')) && (await sameMembers(down, 'standard')));
  const degraded = await waitForStatus(ns(), 'basic', 'Degraded', (s) => condition(s, 'Degraded')?.status === 'True');
  expect(condition(degraded, 'Degraded')).toMatchObject({ reason: 'NotEnoughEligiblePods', message: '1 of 2 pods missing: not enough pods match the selector and are free' });
  expect(degraded).toMatchObject({ pods: 1, readyPods: 1 });
  await waitFor('one Degraded Event', async () => (await countEvents('basic', 'Degraded')) === degradedEvents + 1);
  expect((await eventsFor(ns(), 'basic')).find((e) => e.reason === 'Degraded')).toMatchObject({ type: 'Warning', reportingComponent: 'smartrouter.io/operator' });

  await kubectl(['scale', 'statefulset/voice-agent', '--replicas=5'], { namespace: ns() });
  await waitForLabels(ns(), 'back to 5', (l) => countBy(l).standard === 3 && countBy(l).basic === 2);
  const recovered = await waitForStatus(ns(), 'basic', 'recovered', (s) => condition(s, 'Degraded')?.status === 'False' && condition(s, 'Ready')?.status === 'True');
  expect(recovered).toMatchObject({ pods: 2, readyPods: 2, freeSlots: 6 });
  await waitFor('one Recovered Event', async () => (await countEvents('basic', 'Recovered')) === recoveredEvents + 1);
  // One Event per transition, not one per reconcile or resync.
  await new Promise((r) => setTimeout(r, 3_000));
  expect(await countEvents('basic', 'Degraded')).toBe(degradedEvents + 1);
  expect(await countEvents('basic', 'Recovered')).toBe(recoveredEvents + 1);
}, 120_000);

test("shrinking a pool's replicas: idle pods leave at once, a busy pod drains and keeps its call until released", async () => {
  const call = await api(op, '/api/v1/allocate', { call_sid: 'shrink-call' });
  const busy = call.body.pod_name as string;
  expect(call.body.source_pool).toBe('pool:standard');
  await apply(standard(1), ns());
  const labels = await waitForLabels(ns(), 'standard shrunk to its busy pod', (l) => countBy(l).standard === 1 && l[busy] === 'standard');
  expect(labels[busy]).toBe('standard');
  expect(await members('standard')).toEqual([busy]);

  await apply(standard(0), ns());
  await waitFor('busy pod draining in Redis', async () => (await env.store.podState(busy))?.draining);
  expect(await env.store.podState(busy)).toMatchObject({ pool: 'standard', draining: true, calls: ['shrink-call'] });
  const status = await waitForStatus(ns(), 'standard', 'one draining pod', (s) => s.drainingPods === 1 && s.observedGeneration === 3);
  expect(status).toMatchObject({ pods: 1, drainingPods: 1, activeCalls: 1, freeSlots: 0 });
  expect(condition(status, 'Ready')).toMatchObject({ status: 'True', observedGeneration: 3 }); // 0 wanted, 0 needed
  await waitForEvent(ns(), busy, 'PodDraining', /the pool needs fewer pods; keeps its 1 call/);
  // Allocations never land on it.
  for (let i = 0; i < 3; i++) {
    const other = await api(op, '/api/v1/allocate', { call_sid: `shrink-other-${i}` });
    expect(other.body.pod_name).not.toBe(busy);
    await api(op, '/api/v1/release', { call_sid: `shrink-other-${i}` });
  }

  expect((await api(op, '/api/v1/release', { call_sid: 'shrink-call' })).body).toMatchObject({ was_draining: true, released_to_pool: 'pool:standard' });
  await waitForLabels(ns(), 'idle pod unlabelled', (l) => l[busy] !== 'standard');
  await waitForEvent(ns(), busy, 'PodReleased', /left pool standard: idle, unlabelled/);
  expect(await env.store.podState(busy).then((s) => s?.pool ?? null)).not.toBe('standard');
  await apply(standard(3), ns());
  await waitForLabels(ns(), 'standard back to 3', (l) => countBy(l).standard === 3);
}, 120_000);

test('a selector change moves pods; a priority change decides who gets scarce pods; deleting a pool frees its pods', async () => {
  const l0 = await waitForLabels(ns(), 'basic full', (l) => countBy(l).basic === 2);
  const [hindi, other] = labelled(l0, 'basic') as [string, string];
  const released = await countEvents(other, 'PodReleased');
  await kubectl(['label', 'pod', hindi, 'lang=hi', '--overwrite'], { namespace: ns() });
  await apply(pool('basic', '{ tier: basic, capacity: 3, replicas: 2, selector: { matchLabels: { lang: hi } } }'), ns());
  const l1 = await waitForLabels(ns(), 'basic only on lang=hi', (l) => l[hindi] === 'basic' && countBy(l).basic === 1);
  expect(l1[other]).toBe('');
  expect(await members('basic')).toEqual([hindi]);
  await waitFor('PodReleased on the pod that left', async () => (await countEvents(other, 'PodReleased')) === released + 1);
  expect(condition(await waitForStatus(ns(), 'basic', 'Degraded', (s) => s.observedGeneration === 2), 'Degraded')?.status).toBe('True');

  await kubectl(['delete', 'vap', 'basic'], { namespace: ns() });
  await waitFor('basic gone from redis', async () => !(await env.store.poolsSnapshot()).pools.some((p) => p.name === 'basic'));
  await waitForLabels(ns(), 'basic labels removed', (l) => !Object.values(l).includes('basic'));

  // Two free pods, two pools wanting two each: the higher priority takes both.
  await apply(pool('vip', '{ tier: vip, replicas: 2, priority: 100, selector: { matchLabels: { app: voice-agent } } }'), ns());
  await apply(pool('low', '{ tier: low, replicas: 2, priority: -5, selector: { matchLabels: { app: voice-agent } } }'), ns());
  const l2 = await waitForLabels(ns(), 'vip served', (l) => countBy(l).vip === 2);
  expect(countBy(l2).low ?? 0).toBe(0);
  await waitForStatus(ns(), 'low', 'Degraded', (s) => condition(s, 'Degraded')?.status === 'True');

  // Raise low above vip, then free a pod: it goes to low now. Existing members never move.
  await kubectl(['patch', 'vap', 'low', '--type=merge', '-p', '{"spec":{"priority":200}}'], { namespace: ns() });
  await waitForStatus(ns(), 'low', 'generation 2 observed', (s) => s.observedGeneration === 2);
  const victim = labelled(l2, 'vip')[0]!;
  await kubectl(['delete', 'pod', victim, '--wait=false'], { namespace: ns() });
  const l3 = await waitForLabels(ns(), 'the replacement pod goes to low', (l) => countBy(l).low === 1 && countBy(l).vip === 1);
  expect(l3[victim]).toBe('low');
  await waitFor('redis follows', async () => (await sameMembers(l3, 'low')) && (await sameMembers(l3, 'vip')));

  await kubectl(['delete', 'vap', 'vip'], { namespace: ns() });
  await waitForLabels(ns(), "vip's pod freed and taken by low", (l) => countBy(l).low === 2 && !Object.values(l).includes('vip'));
  await kubectl(['delete', 'vap', 'low'], { namespace: ns() });
  await waitForLabels(ns(), 'only standard left', (l) => Object.values(l).every((v) => v === 'standard' || v === ''));
  await waitFor('only standard in redis', async () => (await env.store.poolsSnapshot()).pools.map((p) => p.name).join() === 'standard');
}, 120_000);

test('kubectl annotate drains and undrains a pod; a drained pod is backfilled and keeps its place', async () => {
  const labels = await waitForLabels(ns(), 'standard', (l) => countBy(l).standard === 3);
  const pod = labelled(labels, 'standard')[0]!;
  const drainEvents = await countEvents(pod, 'PodDraining');
  await kubectl(['annotate', 'pod', pod, 'smartrouter.io/drain=true'], { namespace: ns() });
  await waitFor('draining in redis', async () => (await env.store.podState(pod))?.draining);
  await waitFor('a free pod backfills standard', async () => (await members('standard')).length === 4);
  expect((await api(op, '/api/v1/pod/' + pod)).body).toMatchObject({ draining: true, pool: 'pool:standard' });
  const status = await waitForStatus(ns(), 'standard', 'drained pod counted', (s) => s.drainingPods === 1);
  expect(status).toMatchObject({ pods: 4, readyPods: 4, drainingPods: 1 });
  expect(condition(status, 'Ready')?.status).toBe('True');
  await waitFor('one PodDraining Event', async () => (await countEvents(pod, 'PodDraining')) === drainEvents + 1);
  expect((await eventsFor(ns(), pod)).some((e) => e.reason === 'PodDraining' && /drain requested/.test(e.message))).toBe(true);

  await kubectl(['annotate', 'pod', pod, 'smartrouter.io/drain-'], { namespace: ns() });
  await waitFor('undrained', async () => (await env.store.podState(pod))?.draining === false || (await env.store.podState(pod)) === null);
  await waitForLabels(ns(), 'standard back to 3', (l) => countBy(l).standard === 3);
  await waitForStatus(ns(), 'standard', 'nothing draining', (s) => s.drainingPods === 0 && s.pods === 3);
  expect(await countEvents(pod, 'PodDraining')).toBe(drainEvents + 1);
}, 120_000);

test('kubectl drain of a node with a call in progress: the pod drains at once, the call finishes on it, a replacement joins elsewhere', async () => {
  await waitForLabels(ns(), 'standard', (l) => countBy(l).standard === 3);
  const call = await api(op, '/api/v1/allocate', { call_sid: 'drain-node-call' });
  expect(call.status).toBe(200);
  const busy = call.body.pod_name as string;
  const node = (await listPods(ns())).find((p) => p.name === busy)!.node;
  // The pod stays Terminating while its call runs, as a voice agent with a long grace period would.
  await holdPod(ns(), busy);
  const drain = kubectl(['drain', node, '--pod-selector', `e2e-namespace=${ns()}`, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=120s']);
  try {
    await waitFor('the evicted pod draining in redis, its call kept', async () => {
      const state = await env.store.podState(busy);
      return state?.draining && state.calls.includes('drain-node-call');
    }, 30_000, 100);
    expect((await listPods(ns())).find((p) => p.name === busy)?.deleting).toBe(true);
    await waitForEvent(ns(), busy, 'PodDraining', /the pod is being deleted/);
    for (let i = 0; i < 2; i++) {
      const other = await api(op, '/api/v1/allocate', { call_sid: `during-drain-${i}` });
      if (other.status === 200) expect(other.body.pod_name).not.toBe(busy);
      await api(op, '/api/v1/release', { call_sid: `during-drain-${i}` });
    }
    expect((await api(op, '/api/v1/release', { call_sid: 'drain-node-call' })).body).toMatchObject({ pod_name: busy, was_draining: true });
    await waitFor('the idle terminating pod out of routing', async () => (await env.store.podState(busy)) === null);
    await releasePod(ns(), busy);
    await drain;
    const after = await waitFor('standard has 3 Ready pods, none on the drained node', async () => {
      const pods = (await listPods(ns())).filter((p) => !p.deleting && p.labels['smartrouter.io/pool'] === 'standard');
      return pods.length === 3 && pods.every((p) => p.node !== node && p.ready) ? pods : undefined;
    }, 90_000);
    await waitFor('redis matches', async () => JSON.stringify(await members('standard')) === JSON.stringify(after.map((p) => p.name).sort()));
    const alloc = await api(op, '/api/v1/allocate', { call_sid: 'after-node-drain' });
    expect(alloc.status).toBe(200);
    expect((await listPods(ns())).find((p) => p.name === alloc.body.pod_name)?.node).not.toBe(node);
    await api(op, '/api/v1/release', { call_sid: 'after-node-drain' });
  } finally {
    await releasePod(ns(), busy);
    await drain.catch(() => undefined);
    await kubectl(['uncordon', node]);
  }
}, 180_000);

test('a mass assignment is one Event on the pool, not one per pod', async () => {
  await deployAgents(ns(), 12, 'bulk-agent', { app: 'bulk-agent' });
  // All twelve exist and are Ready first, so one reconcile assigns them together.
  await waitFor('12 Ready bulk pods', async () => (await listPods(ns(), 'app=bulk-agent')).filter((p) => p.ready).length === 12);
  await apply(pool('bulk', '{ tier: bulk, replicas: 12, selector: { matchLabels: { app: bulk-agent } } }'), ns());
  await waitForLabels(ns(), 'bulk assigned', (l) => countBy(l).bulk === 12);
  const events = await waitForEvent(ns(), 'bulk', 'PodAssigned');
  expect(events).toHaveLength(1);
  expect(events[0]!.message).toMatch(/^12 pods: serving pool bulk \(bulk-agent-0, .* and 2 more\)$/);
  expect((await eventsFor(ns(), 'bulk-agent-0')).filter((x) => x.reason === 'PodAssigned')).toEqual([]);
  await kubectl(['delete', 'vap', 'bulk'], { namespace: ns() });
  await kubectl(['delete', 'statefulset', 'bulk-agent'], { namespace: ns() });
}, 120_000);
