// A leader frozen with its write already sent cannot land it after another
// replica took over. Two real operator processes, one real redis-server, the
// local control plane: the leader's write of a pool's spec is held on its way
// to Redis (the network delaying it), the leader is stopped (SIGSTOP) past its
// lease, the other replica takes the Lease and writes a newer spec; then the
// old write arrives. Redis refuses it for its term and keeps the new leader's
// spec; the old leader says so, counts it and no longer leads.
import type { RouterProcess } from '../../test/support/router-process.js';
import { delayingProxy, type DelayingProxy } from '../../test/support/delaying-proxy.js';
import { api, apply, examplePools, kubectl, kubectlJson, metric, operatorEnv, waitFor, type OperatorEnv } from './support.js';

let env: OperatorEnv;
let proxy: DelayingProxy;
let frozen: RouterProcess | undefined;

beforeAll(async () => {
  env = await operatorEnv('e2e-fencing', { ownRedis: true });
  proxy = await delayingProxy(env.redisServer!.port);
  await apply(examplePools(), env.namespace);
}, 60_000);
afterAll(async () => {
  frozen?.child.kill('SIGCONT');
  await env?.teardown();
  await proxy?.close();
}, 60_000);

const lease = () => kubectlJson<{ spec: { holderIdentity?: string } }>(['get', 'lease', 'smart-router-leader'], env.namespace);
const goldSpec = async () => JSON.parse((await env.redis.hget(`{${env.prefix}}:pools`, 'gold')) ?? 'null') as { merchants?: string[] } | null;
const term = async () => Number((await env.redis.get(`{${env.prefix}}:leader:term`)) ?? 0);
const setGoldMerchants = (merchants: string[]) =>
  kubectl(['patch', 'voiceagentpool', 'gold', '--type=merge', '-p', JSON.stringify({ spec: { merchants } })], { namespace: env.namespace });

test('a leader stopped past its lease with a write on the wire: Redis refuses the write and keeps the new leader’s spec', async () => {
  // The old leader talks to Redis through the proxy. Its command timeout is long so
  // that Redis's answer to the held write reaches the code that sent it.
  const old = await env.startOperator({ POD_NAME: 'router-old', REDIS_URL: proxy.url('redis'), REDIS_COMMAND_TIMEOUT_MS: '30000' });
  await waitFor('router-old leads and wrote the pools', async () => (await lease()).spec.holderIdentity === 'router-old' && (await goldSpec()) !== null);
  const oldTerm = await term();
  expect(oldTerm).toBeGreaterThan(0);
  const next = await env.startOperator({ POD_NAME: 'router-new' });

  // The leader's write of the changed spec leaves it and is held on the way.
  proxy.holdFrom('merchant-stale');
  await setGoldMerchants(['merchant-stale']);
  await waitFor('the old leader sent its write of the changed spec', async () => proxy.holding(), 30_000, 50);
  frozen = old;
  old.child.kill('SIGSTOP');

  // The other replica takes the Lease once it runs out, begins a later term and writes.
  await waitFor('router-new takes the Lease', async () => (await lease()).spec.holderIdentity === 'router-new', 30_000, 200);
  await waitFor('router-new begins a later term', async () => (await term()) > oldTerm, 30_000, 100);
  await setGoldMerchants(['merchant-current']);
  await waitFor('router-new wrote the newer spec', async () => (await goldSpec())?.merchants?.includes('merchant-current'), 30_000, 100);

  // The held write arrives, and the old leader runs again.
  proxy.release();
  old.child.kill('SIGCONT');
  frozen = undefined;
  const seen: string[][] = [];
  await waitFor(
    'Redis answered the held write and the old leader told the refusal',
    async () => {
      seen.push((await goldSpec())?.merchants ?? []);
      return proxy.answeredSinceRelease() > 0 && /Redis refused a write of an older leader term/.test(old.output());
    },
    15_000,
    20,
  ).catch((err: Error) => err);
  // Redis never held the stale spec, not even for a moment.
  expect(seen.filter((m) => m.includes('merchant-stale'))).toEqual([]);
  expect((await goldSpec())?.merchants).toEqual(['merchant-current']);
  expect(proxy.answeredSinceRelease()).toBeGreaterThan(0);
  expect(old.output()).toMatch(/"error":"FENCED write of leader term \d+ refused: term \d+ has taken over[^\n]*"message":"Redis refused a write of an older leader term: another replica leads"/);
  expect(await metric(old, 'smart_router_fenced_writes_total')).toBeGreaterThanOrEqual(1);
  expect(await metric(old, 'smart_router_leader')).toBe(0);
  expect((await api(old, '/api/v1/status')).body.is_leader).toBe(false);
  // The new leader still leads and still writes.
  expect((await lease()).spec.holderIdentity).toBe('router-new');
  expect(await metric(next, 'smart_router_leader')).toBe(1);
  await setGoldMerchants(['merchant-after']);
  await waitFor('router-new keeps writing', async () => (await goldSpec())?.merchants?.includes('merchant-after'), 30_000, 100);
}, 120_000);
