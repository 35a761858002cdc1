// Three operator replicas: every one serves the API, exactly one reconciles;
// when the leader dies another takes over within the lease duration, and
// allocations keep succeeding throughout.
import type { RouterProcess } from '../../test/support/router-process.js';
import { api, apply, countBy, deployAgents, examplePools, kubectl, kubectlJson, metric, operatorEnv, waitFor, waitForLabels, type OperatorEnv } from './support.js';

let env: OperatorEnv;
let ops: RouterProcess[];
// The settings operatorEnv starts replicas with: a lease of 4 s, renewed every 1 s.
const LEASE_MS = 4_000;
const RETRY_MS = 1_000;

beforeAll(async () => {
  env = await operatorEnv('e2e-leader');
  await apply(examplePools(), env.namespace);
  await deployAgents(env.namespace, 5);
  ops = await Promise.all([0, 1, 2].map((i) => env.startOperator({ POD_NAME: `router-${i}` })));
  await waitForLabels(env.namespace, 'assigned', (l) => countBy(l).standard === 3);
}, 120_000);
afterAll(async () => {
  await env?.teardown();
}, 60_000);

const alive = () => ops.filter((o) => o.child.exitCode === null && o.child.signalCode === null);
const leaders = async (procs: RouterProcess[]) => {
  const flags = await Promise.all(procs.map(async (p) => (await api(p, '/api/v1/status')).body.is_leader as boolean));
  return procs.filter((_, i) => flags[i]);
};
const lease = () => kubectlJson<{ spec: { holderIdentity?: string; leaseTransitions?: number } }>(['get', 'lease', 'smart-router-leader'], env.namespace);
/** Writes to the Kubernetes API this replica made (patches, status, events), as its own metrics count them. */
const writes = async (op: RouterProcess) => (await metric(op, 'smart_router_kube_requests_total', { verb: 'patch' })) + (await metric(op, 'smart_router_kube_requests_total', { verb: 'create', resource: 'events' }));

test('exactly one replica leads, the Lease names it, and only it writes', async () => {
  const [leader, ...rest] = await waitFor('one leader', async () => {
    const l = await leaders(ops);
    return l.length === 1 ? l : undefined;
  });
  expect(rest).toEqual([]);
  expect((await lease()).spec.holderIdentity).toBe(`router-${ops.indexOf(leader!)}`);
  for (const op of ops) expect(await metric(op, 'smart_router_leader')).toBe(op === leader ? 1 : 0);
  // A change is carried out by the leader alone.
  await kubectl(['annotate', 'pod', 'voice-agent-0', 'smartrouter.io/drain=true'], { namespace: env.namespace });
  await waitFor('drain reconciled', async () => (await env.store.podState('voice-agent-0'))?.draining);
  await kubectl(['annotate', 'pod', 'voice-agent-0', 'smartrouter.io/drain-'], { namespace: env.namespace });
  await waitFor('undrain reconciled', async () => (await env.store.podState('voice-agent-0'))?.draining !== true);
  for (const op of ops.filter((o) => o !== leader)) expect(await writes(op)).toBe(0);
  expect(await writes(leader!)).toBeGreaterThan(0);
});

test('a leader whose lease is taken stops reconciling at once and keeps serving the API', async () => {
  const [leader] = await leaders(ops);
  // Another holder appears (as if this replica had been cut off while the lease ran out).
  const now = new Date().toISOString().replace('Z', '000Z'); // a MicroTime
  await kubectl(['patch', 'lease', 'smart-router-leader', '--type=merge', '-p', JSON.stringify({ spec: { holderIdentity: 'intruder', renewTime: now, leaseDurationSeconds: LEASE_MS / 1000 } })], { namespace: env.namespace });
  await waitFor('old leader steps down', async () => (await api(leader!, '/api/v1/status')).body.is_leader === false, 3 * RETRY_MS + 2_000, 100);
  const call = await api(leader!, '/api/v1/allocate', { call_sid: 'served-by-follower' });
  expect(call.status).toBe(200);
  await api(leader!, '/api/v1/release', { call_sid: 'served-by-follower' });
  // The intruder never renews: once its lease runs out, some replica takes over again.
  await waitFor('a replica leads again', async () => (await leaders(ops)).length === 1, LEASE_MS + 4 * RETRY_MS + 5_000, 200);
  expect((await lease()).spec.holderIdentity).toMatch(/^router-\d$/);
}, 60_000);

test('killing the leader: another takes over within the lease duration; allocations never stop', async () => {
  const [leader] = await waitFor('one leader', async () => {
    const l = await leaders(ops);
    return l.length === 1 ? l : undefined;
  });
  const transitions = (await lease()).spec.leaseTransitions ?? 0;
  const survivors = ops.filter((o) => o !== leader);
  let failures = 0;
  let served = 0;
  let running = true;
  const traffic = (async () => {
    for (let i = 0; running; i++) {
      const target = survivors[i % survivors.length]!;
      const res = await api(target, '/api/v1/allocate', { call_sid: `failover-${i}` });
      if (res.status === 200) {
        served++;
        await api(target, '/api/v1/release', { call_sid: `failover-${i}` });
      } else failures++;
    }
  })();
  await leader!.stop('SIGKILL');
  // Bounded by the lease duration plus a couple of retry periods: the waits never time a test, they only cap it.
  const [next] = await waitFor('a new leader', async () => {
    const l = await leaders(survivors);
    return l.length === 1 ? l : undefined;
  }, LEASE_MS + 3 * RETRY_MS + 5_000, 200);
  expect(survivors).toContain(next);
  expect((await lease()).spec.leaseTransitions).toBeGreaterThan(transitions);
  // The new leader reconciles: a change made now reaches the labels.
  await apply(examplePools().replace('replicas: 3', 'replicas: 2'), env.namespace);
  await waitForLabels(env.namespace, 'standard shrunk by the new leader', (l) => countBy(l).standard === 2);
  running = false;
  await traffic;
  expect(served).toBeGreaterThan(0);
  expect(failures).toBe(0);
  expect(await leaders(survivors)).toHaveLength(1);
}, 60_000);

test('a replica that stops cleanly hands the lease over at once', async () => {
  const [leader] = await leaders(alive());
  const identity = `router-${ops.indexOf(leader!)}`;
  expect(await leader!.stop('SIGTERM')).toBe(0);
  expect(leader!.output()).toMatch(/lease released/);
  expect((await lease()).spec.holderIdentity).not.toBe(identity);
  const rest = alive();
  // A released lease is taken on the next retry, without waiting out the lease duration.
  await waitFor('the last replica leads', async () => (await leaders(rest)).length === 1, 2 * RETRY_MS + 2_000, 100);
}, 30_000);
