// What the operator benchmarks share: a namespace of their own on the local
// control plane with the CRDs in place, a redis-server of their own, the
// built router started in operator mode against both, and the teardown.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { packageRoot } from '../core/paths.js';
import { RoutingStore } from '../lua/routing-store.js';
import { freePort, launchRedis, type LocalRedis } from '../tools/local-redis.js';
import { KUBECONFIG, kubectl, requireCluster, waitFor } from '../tools/kubectl.js';

export interface OperatorBench {
  ns: string;
  redisServer: LocalRedis;
  redis: Redis;
  /** The routing state under the key prefix the operator writes (`bench`). */
  store: RoutingStore;
  /** The operator's HTTP API, once started. */
  url: string;
  /** Starts the built router in operator mode on the namespace and Redis, and waits until it leads. */
  startOperator(env?: Record<string, string>): Promise<ChildProcess>;
  /** Stops the operator and waits for the namespace to go, so a following benchmark measures a quiet API server. */
  teardown(): Promise<void>;
}

export async function operatorBench(namePrefix: string, redisOptions: { appendonly: boolean }): Promise<OperatorBench> {
  requireCluster();
  const ns = `${namePrefix}-${Math.random().toString(36).slice(2, 7)}`;
  const redisServer = await launchRedis(redisOptions);
  const redis = new Redis(redisServer.url);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let operator: ChildProcess | undefined;
  const bench: OperatorBench = {
    ns,
    redisServer,
    redis,
    store: new RoutingStore(redis, 'bench'),
    url,
    async startOperator(env = {}) {
      operator = spawn(process.execPath, [join(packageRoot, 'dist/cli/main.js'), 'operator', '--kubeconfig', KUBECONFIG, '--namespace', ns, '--port', String(port)], {
        env: { ...process.env, HOST: '127.0.0.1', REDIS_URL: redisServer.url, KEY_PREFIX: 'bench', LOG_LEVEL: 'error', ...env },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      await waitFor('operator leading', async () => ((await (await fetch(`${url}/api/v1/status`)).json()) as { is_leader: boolean }).is_leader, 60_000, 100);
      return operator;
    },
    async teardown() {
      operator?.kill('SIGTERM');
      await kubectl(['delete', 'namespace', ns, '--timeout=180s']).catch(() => undefined);
      await redis.quit();
      await redisServer.destroy();
    },
  };
  try {
    await kubectl(['apply', '-f', join(packageRoot, 'crds')]);
    await kubectl(['wait', '--for=condition=Established', 'crd/voiceagentpools.smartrouter.io', '--timeout=60s']);
    await kubectl(['create', 'namespace', ns]);
  } catch (err) {
    await bench.teardown();
    throw err;
  }
  return bench;
}
