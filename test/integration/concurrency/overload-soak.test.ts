// The overload soak, short: three real router processes share one Redis and
// get allocations open loop at 1,000/s, more than this machine serves. Every
// answer is a 200, a 503 or a 409 with a JSON body, and once every call a
// client was answered 200 for is released, no slot is taken anywhere in
// Redis. Correctness only: how fast it answered is for `make bench`.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { httpClient, openLoopOverload } from '../../../bench/load.js';
import { silentLogger } from '../../../core/logger.js';
import { connectRedis, createRedisClient } from '../../../lua/redis-client.js';
import { auditSlots } from '../../../lua/slot-audit.js';
import { launchRedis, type TestRedisServer } from '../../support/redis-server.js';
import { startRouterProcess, type RouterProcess } from '../../support/router-process.js';

const PODS = 20;
const CAPACITY = 50;
/** Far past the routers' 1 s request timeout: a client here never leaves before its answer is sent. */
const CLIENT_PATIENCE_MS = 30_000;

let server: TestRedisServer;
let redis: Redis;
const routers: RouterProcess[] = [];
beforeAll(async () => {
  server = await launchRedis();
  redis = createRedisClient(server.url, 5000, silentLogger());
  await connectRedis(redis, 5000);
});
afterAll(async () => {
  await Promise.all(routers.map((r) => r.stop('SIGKILL')));
  redis.disconnect();
  await server.destroy();
});

function fleetFile(): string {
  const docs = [
    `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: shared }
spec: { tier: standard, exclusive: false, capacity: ${CAPACITY}, replicas: ${PODS}, selector: { matchLabels: { app: agent } } }`,
  ];
  for (let i = 0; i < PODS; i++) docs.push(`kind: Pod\nmetadata: { name: agent-${i}, labels: { app: agent } }`);
  const file = join(mkdtempSync(join(tmpdir(), 'smart-router-soak-')), 'fleet.yaml');
  writeFileSync(file, docs.join('\n---\n'));
  return file;
}

test('1,000 allocations/s over three routers on one Redis: every answer is 200, 503 or 409 JSON, and no slot is left once the known calls are released', async () => {
  const file = fleetFile();
  const env = { REDIS_URL: server.url, KEY_PREFIX: 'soak', REDIS_COMMAND_TIMEOUT_MS: '1000', LOG_LEVEL: 'error' };
  routers.push(...(await Promise.all([0, 1, 2].map(() => startRouterProcess(['standalone', '--config', file], env)))));
  const clients = routers.map((r) => httpClient(r.url, 256));
  const result = await openLoopOverload(clients, { allocate: '/api/v1/allocate', release: '/api/v1/release' }, 1000, 8000, CLIENT_PATIENCE_MS);
  for (const c of clients) c.close();

  const answers = [...result.mix.keys()];
  expect(answers.filter((a) => !/^(200|503 (overloaded|deadline exceeded|routing store unavailable|no pods available)|409 call_ended)$/.test(a))).toEqual([]);
  expect(result.mix.get('200')).toBeGreaterThan(0);
  expect(result.releaseFailures).toBe(0);
  // Whatever a router still had queued has run once every router answers a status read.
  for (const r of routers) expect((await fetch(`${r.url}/api/v1/status`)).status).toBe(200);
  expect(await auditSlots(redis, 'soak')).toEqual({ callRecords: 0, deadlines: 0, poolCalls: 0, poolBusy: 0, poolFreeShort: 0, podCallSets: 0, availScores: 0 });
}, 120_000);
