// Redis that lost or drifted from the routing state heals on its own: the
// leader notices a flushed Redis within a state check (the owner record is
// gone) and rewrites everything, and rewrites it all on a full resync even
// when nothing announces the drift. This file has a redis-server of its own,
// so it can FLUSHALL.
import type { RouterProcess } from '../../test/support/router-process.js';
import { api, labelled, metric, operatorEnv, startExampleFleet, waitFor, type OperatorEnv } from './support.js';

let env: OperatorEnv;
let op: RouterProcess;
let labels: Record<string, string>;

beforeAll(async () => {
  env = await operatorEnv('e2e-heal', { ownRedis: true });
  ({ op, labels } = await startExampleFleet(env, { FULL_RESYNC_SECONDS: '3' }));
}, 120_000);
afterAll(async () => {
  await env?.teardown();
}, 60_000);

const routingMatchesLabels = async () => {
  for (const pool of ['gold', 'standard', 'basic']) {
    if (JSON.stringify(await env.store.poolMembers(pool)) !== JSON.stringify(labelled(labels, pool))) return false;
  }
  return (await env.store.poolsSnapshot()).pools.length === 3;
};

test('FLUSHALL: the next resync rebuilds pools and membership, and allocation works again', async () => {
  await waitFor('routing in place', routingMatchesLabels);
  await env.redis.flushall();
  expect((await env.store.poolsSnapshot()).pools).toEqual([]);
  await waitFor('routing rebuilt', routingMatchesLabels, 30_000);
  const res = await api(op, '/api/v1/allocate', { call_sid: 'after-flush' });
  expect(res.body).toMatchObject({ success: true, source_pool: 'pool:standard' });
  expect((await api(op, '/api/v1/status')).body.pools.standard).toMatchObject({ pods: 3, ready: 3, active_calls: 1 });
  expect(op.output()).toMatch(/routing state lost in Redis|routing state in Redis changed behind the operator/);
  await api(op, '/api/v1/release', { call_sid: 'after-flush' });
});

test('drift nothing announces (a pool lost a member, a pod its state) is rewritten by the full resync', async () => {
  const [pod] = labelled(labels, 'standard') as [string];
  // As a crash between two writes could leave it: the version key is intact, so only the full resync sees it.
  await env.redis.srem(env.store.keys.poolMembers('standard'), pod);
  await env.redis.del(env.store.keys.pod(pod));
  expect(await env.store.podState(pod)).toBeNull();
  await waitFor('drift rewritten', async () => (await routingMatchesLabels()) && (await env.store.podState(pod))?.pool === 'standard', 30_000);
  expect(await env.store.podState(pod)).toMatchObject({ pool: 'standard', ready: true, draining: false });
});

test('pool counters that drifted are repaired by the exact recount of the full resync, logged and counted', async () => {
  await waitFor('routing in place', routingMatchesLabels);
  const exact = (await api(op, '/api/v1/status')).body.pools.basic;
  await env.redis.hincrby(env.store.keys.poolCounts('basic'), 'free', 5);
  await env.redis.hincrby(env.store.keys.poolCounts('basic'), 'ready', -1);
  await waitFor('counters repaired', async () => {
    const now = (await api(op, '/api/v1/status')).body.pools.basic;
    return now.free_slots === exact.free_slots && now.ready === exact.ready;
  }, 30_000);
  const logged = op.output().split('\n').filter((line) => line.includes('pool counter drifted') && line.includes('"pool":"basic"'));
  expect(logged.map((line) => JSON.parse(line).counter)).toEqual(expect.arrayContaining(['free', 'ready']));
  expect(await metric(op, 'smart_router_pool_count_drift_total', { pool: 'basic', counter: 'free' })).toBeGreaterThanOrEqual(1);
});
