// Three operator replicas: every one serves the API, exactly one reconciles;
// when the leader dies another takes over within the lease duration, and
// allocations keep succeeding throughout.
import type { RouterProcess } from '../../test/support/router-process.js';
import { api, apply, countBy, deployAgents, examplePools, kubectlJson, operatorEnv, waitFor, waitForLabels, type OperatorEnv } from './support.js';

let env: OperatorEnv;
let ops: RouterProcess[];

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

const leaders = async (procs: RouterProcess[]) => {
  const flags = await Promise.all(procs.map(async (p) => (await api(p, '/api/v1/status')).body.is_leader as boolean));
  return procs.filter((_, i) => flags[i]);
};

test('exactly one replica leads, and the Lease names it', async () => {
  const [leader, ...rest] = await waitFor('one leader', async () => {
    const l = await leaders(ops);
    return l.length === 1 ? l : undefined;
  });
  expect(rest).toEqual([]);
  const lease = await kubectlJson<{ spec: { holderIdentity: string } }>(['get', 'lease', 'smart-router-leader'], env.namespace);
  expect(lease.spec.holderIdentity).toBe(`router-${ops.indexOf(leader!)}`);
});

test('killing the leader: another takes over within the lease duration; allocations never stop', async () => {
  const [leader] = await leaders(ops);
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
  const [next] = await waitFor('a new leader', async () => {
    const l = await leaders(survivors);
    return l.length === 1 ? l : undefined;
  }, 15_000, 200);
  expect(survivors).toContain(next);
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
  const alive = ops.filter((o) => o.child.exitCode === null && o.child.signalCode === null);
  const [leader] = await leaders(alive);
  expect(await leader!.stop('SIGTERM')).toBe(0);
  const rest = alive.filter((o) => o !== leader);
  await waitFor('the last replica leads', async () => (await leaders(rest)).length === 1, 10_000, 200);
}, 30_000);
