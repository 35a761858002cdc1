// Real replicated Redis on loopback, for tests and benchmarks: a master with
// a replica watched by three sentinels, and a three-master Redis Cluster.
// Every process runs on a free port in a temp dir and is killed by destroy().
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, launchRedis, type LocalRedis } from './local-redis.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, check: () => Promise<boolean>, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** One short-lived connection for one question. */
async function ask<T>(port: number, question: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000, commandTimeout: 5000 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await question(r);
  } finally {
    r.disconnect();
  }
}

export interface SentinelGroupOptions {
  masterName?: string;
  /** Sentinel's down-after-milliseconds: how long a silent master is given before a failover starts. */
  downAfterMs?: number;
  /** The master refuses writes unless this many replicas are connected with at most minReplicasMaxLag s of lag. */
  minReplicasToWrite?: number;
  minReplicasMaxLag?: number;
  appendonly?: boolean;
}

export interface SentinelGroup {
  masterName: string;
  sentinelPorts: number[];
  /** REDIS_SENTINELS for the router. */
  sentinelsSetting: string;
  nodes: LocalRedis[];
  /** The node the sentinels name as master now. */
  masterPort(): Promise<number>;
  /** Waits until the sentinels name a master other than `oldPort`, and it answers as one. */
  waitForNewMaster(oldPort: number, deadlineMs: number): Promise<number>;
  destroy(): Promise<void>;
}

/**
 * A master and one replica (asynchronous replication, as Redis ships it)
 * and three sentinels with a quorum of two.
 */
export async function launchSentinelGroup(options: SentinelGroupOptions = {}): Promise<SentinelGroup> {
  const masterName = options.masterName ?? 'routing';
  const downAfterMs = options.downAfterMs ?? 1000;
  const writeGuard = options.minReplicasToWrite ? ['--min-replicas-to-write', String(options.minReplicasToWrite), '--min-replicas-max-lag', String(options.minReplicasMaxLag ?? 10)] : [];
  const appendonly = options.appendonly ?? false;
  const nodes: LocalRedis[] = [];
  const sentinels: ChildProcess[] = [];
  const dirs: string[] = [];
  const destroy = async () => {
    for (const s of sentinels) s.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.destroy()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    const master = await launchRedis({ appendonly, args: writeGuard });
    nodes.push(master);
    // The replica carries the same write guard: it applies once it is promoted.
    nodes.push(await launchRedis({ appendonly, args: ['--replicaof', '127.0.0.1', String(master.port), ...writeGuard] }));
    await waitUntil('the replica to sync', () => ask(master.port, async (r) => /connected_slaves:1/.test(await r.info('replication'))), 20_000);
    const sentinelPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'smart-router-sentinel-'));
      dirs.push(dir);
      const conf = join(dir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
          `sentinel failover-timeout ${masterName} 10000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      sentinels.push(spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }));
      sentinelPorts.push(port);
    }
    const masterPort = () => ask(sentinelPorts[0] as number, async (r) => Number(((await r.call('SENTINEL', 'get-master-addr-by-name', masterName)) as string[])[1]));
    // Every sentinel must know the replica and the other sentinels before a failover can be agreed on.
    for (const port of sentinelPorts) {
      await waitUntil(`sentinel ${port} to see the replica and its peers`, () =>
        ask(port, async (r) => {
          const replicas = (await r.call('SENTINEL', 'replicas', masterName)) as string[][];
          const peers = (await r.call('SENTINEL', 'sentinels', masterName)) as string[][];
          return replicas.length === 1 && peers.length === 2;
        }),
      30_000);
    }
    return {
      masterName,
      sentinelPorts,
      sentinelsSetting: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
      nodes,
      masterPort,
      async waitForNewMaster(oldPort, deadlineMs) {
        let port = oldPort;
        await waitUntil('the sentinels to promote a replica', async () => {
          port = await masterPort();
          return port !== oldPort && (await ask(port, async (r) => /role:master/.test(await r.info('replication'))));
        }, deadlineMs);
        return port;
      },
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}

export interface RedisClusterNodes {
  nodes: LocalRedis[];
  /** REDIS_CLUSTER_NODES for the router. */
  nodesSetting: string;
  destroy(): Promise<void>;
}

/** A Redis Cluster of `masters` masters (no replicas), every slot covered, made with redis-cli --cluster create. */
export async function launchRedisCluster(masters = 3): Promise<RedisClusterNodes> {
  const nodes: LocalRedis[] = [];
  const destroy = async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(await launchRedis({ appendonly: false, args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'] }));
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 60_000 });
    for (const n of nodes) {
      await waitUntil(`node ${n.port} to see the cluster ok`, () => ask(n.port, async (r) => /cluster_state:ok/.test((await r.call('CLUSTER', 'INFO')) as string)), 30_000);
    }
    return { nodes, nodesSetting: addresses.join(','), destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}
