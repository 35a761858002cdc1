// kubectl drain against the eviction guard, on the local control plane: the
// API server calls smart-router's webhook over TLS for every eviction.
import { api, apply, eventsFor, kubectl, listPods, metric, operatorEnv, waitFor, waitForEvent, type OperatorEnv } from './support.js';
import { createOwnNode, deleteNode, drainNode, evict, pinnedWorkload } from './eviction-support.js';
import type { RouterProcess } from '../../test/support/router-process.js';

let env: OperatorEnv;
let op: RouterProcess;
const nodes: string[] = [];
const ns = () => env.namespace;

const POOLS = `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: standard }
spec: { tier: standard, exclusive: true, replicas: 20, selector: { matchLabels: { app: voice-agent } } }
---
apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: quick }
spec: { tier: quick, exclusive: true, replicas: 5, merchants: [m-quick], selector: { matchLabels: { app: quick-agent } }, drain: { maxDrainSeconds: 4 } }
`;

beforeAll(async () => {
  env = await operatorEnv('evict');
  await apply(POOLS, ns());
  op = await env.startOperator({ WEBHOOK_PORT: '0', LOG_LEVEL: 'info' });
  await waitFor('webhook registered', async () => (await kubectl(['get', 'validatingwebhookconfiguration', `smart-router-${ns()}`, '-o', 'name']).catch(() => '')).trim());
}, 120_000);

afterAll(async () => {
  await kubectl(['delete', 'validatingwebhookconfiguration', `smart-router-${ns()}`, '--ignore-not-found']).catch(() => undefined);
  await Promise.all(nodes.map(deleteNode));
  await env?.teardown();
});

async function ownNode(tag: string): Promise<string> {
  const name = `${ns()}-${tag}`;
  nodes.push(name);
  await createOwnNode(name);
  return name;
}

/** The pool's pods on `node`, once the operator has labelled all `count` of them. */
async function pooledPodsOn(node: string, pool: string, count: number): Promise<string[]> {
  return waitFor(`${count} ${pool} pods on ${node}`, async () => {
    const pods = (await listPods(ns())).filter((p) => p.node === node && !p.deleting && p.ready && p.labels['smartrouter.io/pool'] === pool);
    // Allocatable in Redis, not only labelled: Ready, in the pool, not draining.
    const inRedis = await Promise.all(pods.map(async (p) => {
      const state = await env.store.podState(p.name);
      return state?.pool === pool && state.ready && !state.draining;
    }));
    return pods.length === count && inRedis.every(Boolean) ? pods.map((p) => p.name).sort() : undefined;
  });
}

async function allocate(sid: string, merchant?: string): Promise<string | null> {
  const res = await api(op, '/api/v1/allocate', { call_sid: sid, ...(merchant ? { merchant_id: merchant } : {}) });
  return res.status === 200 ? (res.body.pod_name as string) : null;
}

const gone = async (pod: string, uidBefore: string) => !(await listPods(ns())).some((p) => p.name === pod && p.uid === uidBefore && !p.deleting);

test('kubectl drain waits for the calls on a node: idle and unpooled pods go at once, busy ones are held with the guard\'s message and no new call, and go when their calls end', async () => {
  const node = await ownNode('calls');
  await apply(pinnedWorkload('StatefulSet', 'agent', 3, node, { app: 'voice-agent' }), ns());
  await apply(pinnedWorkload('Deployment', 'outsider', 1, node, { app: 'not-a-voice-agent' }), ns());
  const agents = await pooledPodsOn(node, 'standard', 3);
  const busy = [(await allocate('drain-call-1')) as string, (await allocate('drain-call-2')) as string];
  expect(busy.every((p) => agents.includes(p))).toBe(true);
  const idle = agents.find((p) => !busy.includes(p)) as string;
  const uids = Object.fromEntries((await listPods(ns())).map((p) => [p.name, p.uid]));
  const outsider = (await listPods(ns(), 'app=not-a-voice-agent'))[0]!.name;

  const drain = drainNode(node);
  // Every eviction of a busy pod is answered 429 with the guard's message; kubectl says it retries.
  for (const pod of busy) {
    await waitFor(`drain told to retry ${pod}`, async () =>
      drain.output().includes(`error when evicting pods/"${pod}" -n "${ns()}" (will retry after 5s): admission webhook "evictions.smartrouter.io" denied the request: pod ${pod} has 1 active call; smart-router drains it (no new calls) and allows the eviction when they end (deadline `),
    );
  }
  // From the first attempt the busy pods are drained in Redis and annotated, so the drain outlives the attempt.
  for (const pod of busy) {
    expect(await env.store.podState(pod)).toMatchObject({ draining: true, calls: [busy[0] === pod ? 'drain-call-1' : 'drain-call-2'] });
    const annotations = (await listPods(ns())).find((p) => p.name === pod)!.annotations;
    expect(annotations).toMatchObject({ 'smartrouter.io/drain': 'true', 'smartrouter.io/drain-started-at': expect.stringMatching(/^\d{4}-/) });
  }
  // The idle pod and the pod outside any pool were evicted at once.
  await waitFor('idle and unpooled pods evicted', async () => drain.output().includes(`pod/${idle} evicted`) && drain.output().includes(`pod/${outsider} evicted`));
  // No new call lands on the held pods while the drain retries.
  for (let i = 0; i < 10; i++) {
    const pod = await allocate(`during-drain-${i}`);
    expect(busy).not.toContain(pod);
    await new Promise((r) => setTimeout(r, 300));
  }
  expect(drain.exitedAt()).toBeUndefined();
  await waitForEvent(ns(), busy[0]!, 'EvictionHeld', /has 1 active call/);

  expect((await api(op, '/api/v1/release', { call_sid: 'drain-call-1' })).body).toMatchObject({ was_draining: true });
  await waitFor(`${busy[0]} evicted once its call ended`, () => gone(busy[0]!, uids[busy[0]!]!), 30_000);
  expect(drain.exitedAt()).toBeUndefined();
  const releasedAt = Date.now();
  expect((await api(op, '/api/v1/release', { call_sid: 'drain-call-2' })).body).toMatchObject({ was_draining: true });
  expect(await drain.done).toBe(0);
  // Shown, not asserted: kubectl retries every 5 s, so this is about 5 s on an idle machine.
  console.log(`drain completed ${(drain.exitedAt()! - releasedAt) / 1000} s after the last call was released\n--- kubectl drain output ---\n${drain.output()}`);
  expect(drain.output()).toContain(`node/${node} drained`);
  expect(await metric(op, 'smart_router_eviction_reviews_total', { result: 'denied', reason: 'calls-active' })).toBeGreaterThanOrEqual(2);
  expect(await metric(op, 'smart_router_evictions_with_calls_total')).toBe(0);
});

test("a pool's drain deadline lets the eviction go with the calls left, recorded as an Event and a metric", async () => {
  const node = await ownNode('deadline');
  await apply(pinnedWorkload('StatefulSet', 'quick', 1, node, { app: 'quick-agent' }), ns());
  const [pod] = await pooledPodsOn(node, 'quick', 1);
  expect(await allocate('quick-call', 'm-quick')).toBe(pod);
  const drain = drainNode(node);
  await waitFor('first denial', async () => drain.output().includes(`denied the request: pod ${pod} has 1 active call`));
  expect(await drain.done).toBe(0);
  expect(drain.output()).toContain(`pod/${pod} evicted`);
  const [event] = await waitForEvent(ns(), pod!, 'EvictedWithCalls');
  expect(event!.message).toMatch(new RegExp(`^pod ${pod} evicted with 1 active call: its drain deadline .* passed \\(maxDrainSeconds 4\\)$`));
  expect(await metric(op, 'smart_router_evictions_with_calls_total', { reason: 'deadline' })).toBe(1);
});

test('smartrouter.io/force-eviction lets a held eviction go at once', async () => {
  const node = await ownNode('force');
  await apply(pinnedWorkload('StatefulSet', 'forced', 1, node, { app: 'voice-agent' }), ns());
  const [pod] = await pooledPodsOn(node, 'standard', 1);
  // The first drain's pods left the pool; this pod is the only one with a free slot.
  expect(await allocate('forced-call')).toBe(pod);
  const drain = drainNode(node);
  await waitFor('held', async () => drain.output().includes(`denied the request: pod ${pod} has 1 active call`));
  await kubectl(['annotate', 'pod', pod!, 'smartrouter.io/force-eviction=true'], { namespace: ns() });
  expect(await drain.done).toBe(0);
  await waitForEvent(ns(), pod!, 'EvictedWithCalls', /smartrouter.io\/force-eviction=true/);
  expect(await metric(op, 'smart_router_evictions_with_calls_total', { reason: 'forced' })).toBe(1);
});

test('a dry-run eviction is answered like a real one and changes nothing', async () => {
  const node = await ownNode('dry');
  await apply(pinnedWorkload('StatefulSet', 'dry', 1, node, { app: 'voice-agent' }), ns());
  const [pod] = await pooledPodsOn(node, 'standard', 1);
  expect(await allocate('dry-call')).toBe(pod);
  expect(await evict(ns(), pod!, { dryRun: true })).toMatch(/TooManyRequests|has 1 active call/);
  expect(await env.store.podState(pod!)).toMatchObject({ draining: false });
  expect((await listPods(ns())).find((p) => p.name === pod)!.annotations['smartrouter.io/drain']).toBeUndefined();
  expect((await eventsFor(ns(), pod!)).filter((e) => e.reason === 'EvictionHeld')).toEqual([]);
  await api(op, '/api/v1/release', { call_sid: 'dry-call' });
  await kubectl(['delete', 'statefulset', 'dry', '--wait=false'], { namespace: ns() });
  await waitFor('dry pod gone from routing', async () => (await env.store.podState(pod!)) === null);
});

test('with every smart-router replica stopped, evictions proceed (failurePolicy Ignore)', async () => {
  const node = await ownNode('outage');
  await apply(pinnedWorkload('StatefulSet', 'orphan', 1, node, { app: 'voice-agent' }), ns());
  const [pod] = await pooledPodsOn(node, 'standard', 1);
  expect(await allocate('outage-call')).toBe(pod);
  await Promise.all(env.operators.map((o) => o.stop('SIGKILL')));
  const drain = drainNode(node, ['--timeout=60s']);
  expect(await drain.done).toBe(0);
  expect(drain.output()).toContain(`pod/${pod} evicted`);
  expect(drain.output()).not.toContain('will retry');
});
