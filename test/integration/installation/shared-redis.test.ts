// Two installations on one Redis: each owns its key prefix, and a second
// installation on a prefix that is taken refuses to start instead of ending
// the first one's calls.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { RoutingStore } from '../../../lua/routing-store.js';
import { runRouterToExit, startRouterProcess, type RouterProcess } from '../../support/router-process.js';
import { sharedTestRedis, testRedisUrl } from '../../support/routing.js';

const redis: Redis = sharedTestRedis();
let routers: RouterProcess[] = [];
afterEach(async () => {
  await Promise.all(routers.map((r) => r.stop()));
  routers = [];
});

/** A fleet of one exclusive pool with `pods` pods named `<name>-<i>`. */
function fleetFile(name: string, pods: number): string {
  const docs = [
    `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: ${name} }
spec: { tier: standard, exclusive: true, replicas: ${pods}, selector: { matchLabels: { fleet: ${name} } } }`,
  ];
  for (let i = 0; i < pods; i++) docs.push(`kind: Pod\nmetadata: { name: ${name}-${i}, labels: { fleet: ${name} } }`);
  const file = join(mkdtempSync(join(tmpdir(), 'smart-router-install-')), `${name}.yaml`);
  writeFileSync(file, docs.join('\n---\n'));
  return file;
}

const allocate = async (router: RouterProcess, sid: string) => {
  const res = await fetch(`${router.url}/api/v1/allocate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ call_sid: sid }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

test('a second installation on a taken prefix refuses to start, says what to change, and leaves the first exact', async () => {
  const prefix = `inst-${randomUUID().slice(0, 8)}`;
  const env = { REDIS_URL: testRedisUrl(), KEY_PREFIX: prefix };
  const first = await startRouterProcess(['standalone', '--config', fleetFile('alpha', 2)], env);
  routers.push(first);
  expect((await allocate(first, 'a-1')).body).toMatchObject({ pod_name: expect.stringMatching(/^alpha-/) });

  const second = await runRouterToExit(['standalone', '--config', fleetFile('beta', 3)], env);
  expect(second.code).toBe(2);
  expect(second.output).toContain(`Redis key prefix "${prefix}" belongs to installation "standalone:`);
  expect(second.output).toContain('KEY_PREFIX');

  // The first installation's pools, pods and call are untouched.
  const store = new RoutingStore(redis, prefix);
  expect((await store.poolsSnapshot()).pools.map((p) => p.name)).toEqual(['alpha']);
  expect(await store.knownPods()).toEqual(['alpha-0', 'alpha-1']);
  expect(await store.call('a-1')).toMatchObject({ pod: expect.stringMatching(/^alpha-/) });
  expect((await allocate(first, 'a-2')).status).toBe(200);
  expect((await allocate(first, 'a-3')).status).toBe(503);
});

test('two installations on two prefixes of one Redis both stay exact', async () => {
  const [pa, pb] = [`inst-${randomUUID().slice(0, 8)}`, `inst-${randomUUID().slice(0, 8)}`];
  const a = await startRouterProcess(['standalone', '--config', fleetFile('alpha', 2)], { REDIS_URL: testRedisUrl(), KEY_PREFIX: pa });
  const b = await startRouterProcess(['standalone', '--config', fleetFile('beta', 3)], { REDIS_URL: testRedisUrl(), KEY_PREFIX: pb });
  routers.push(a, b);
  const fromA = await Promise.all([1, 2, 3].map((i) => allocate(a, `call-${i}`)));
  const fromB = await Promise.all([1, 2, 3, 4].map((i) => allocate(b, `call-${i}`)));
  expect(fromA.map((r) => r.status).sort()).toEqual([200, 200, 503]);
  expect(fromB.map((r) => r.status).sort()).toEqual([200, 200, 200, 503]);
  expect(fromA.filter((r) => r.status === 200).every((r) => String(r.body.pod_name).startsWith('alpha-'))).toBe(true);
  expect(fromB.filter((r) => r.status === 200).every((r) => String(r.body.pod_name).startsWith('beta-'))).toBe(true);
  expect((await new RoutingStore(redis, pa).status()).active_calls).toBe(2);
  expect((await new RoutingStore(redis, pb).status()).active_calls).toBe(3);
});

test('replicas of one installation share its prefix: all start', async () => {
  const prefix = `inst-${randomUUID().slice(0, 8)}`;
  const file = fleetFile('alpha', 2);
  routers = await Promise.all([0, 1].map(() => startRouterProcess(['standalone', '--config', file], { REDIS_URL: testRedisUrl(), KEY_PREFIX: prefix })));
  expect(await redis.hget(`{${prefix}}:owner`, 'installation')).toBe(`standalone:${file}`);
});
