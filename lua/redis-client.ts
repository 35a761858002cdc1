import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis } from 'ioredis';
import type { Logger } from '../core/logger.js';
import type { RedisTarget } from '../core/redis-target.js';

/** A client of one Redis (direct or through Sentinel) or of a Redis Cluster: the commands the routing store uses are the same. */
export type RedisClient = Redis | Cluster;

/**
 * The one place Redis clients are made. A client fails fast instead of
 * queueing: while Redis is down a request gets a 503 at once (or after
 * commandTimeoutMs when Redis hangs), never waits without bound. It
 * reconnects by itself, with backoff.
 *
 * Every setting serves one rule: no command runs after its request was
 * answered, unless the script itself refuses it (the allocate deadline).
 * - enableOfflineQueue false: while disconnected a command fails at once; a
 *   queue would send it on reconnect, long after the client got its 503.
 * - maxRetriesPerRequest 0: commands in flight when the connection drops
 *   fail at once instead of waiting through reconnect attempts.
 * - autoResendUnfulfilledCommands false: commands sent but unanswered when
 *   the connection dropped are not sent again on the new one (ioredis would,
 *   by default): their requests have been answered already.
 * - commandTimeout: a hung Redis (paused, overloaded) costs a request at most
 *   this; the command stays on the wire, and the allocate script's deadline
 *   (Redis time) is what keeps it from taking a slot when Redis gets to it.
 * - no auto-pipelining and one connection: commands run in the order they
 *   were sent, which an abandoned allocation's undo relies on.
 *
 * Failover (Sentinel): ioredis asks the sentinels for the master at every
 * (re)connect and checks with ROLE that the node is a master, so a promoted
 * replica is found by reconnecting; nothing is queued meanwhile, every
 * request answers 503 until the new master is ready.
 * - failoverDetector: the client also listens to the sentinels'
 *   +switch-master and drops the old master at once, instead of waiting for
 *   its connection to fail (a master that was partitioned away, not killed,
 *   would otherwise keep taking writes a failover will discard).
 * - reconnectOnError on READONLY: an old master that came back as a replica
 *   refuses writes; reconnecting asks the sentinels again. The refused
 *   command is not sent again (1, not 2): its request has been answered.
 * - sentinelRetryStrategy: while no sentinel answers, ask again with the
 *   same short backoff, never give up.
 * - Scripts after a promotion: the new master may not have them. ioredis's
 *   defineCommand sends the first call of a script on each new connection
 *   as EVAL, and answers NOSCRIPT by sending EVAL; a reconnect is a new
 *   connection, so scripts need no reloading step of their own.
 *
 * Cluster: every key of an installation has one hash tag, so every script
 * runs on the one master of that slot. Redirections (MOVED, ASK, TRYAGAIN)
 * were refused, not run, and are followed; a command whose connection
 * closed may have run, so it is not sent again (retryDelayOnFailover 0),
 * and CLUSTERDOWN fails at once (retryDelayOnClusterDown 0): both answer
 * 503 now rather than run later.
 */
export function createRedisClient(url: string, commandTimeoutMs: number, logger: Logger, tls?: ConnectionOptions): Redis;
export function createRedisClient(target: RedisTarget, commandTimeoutMs: number, logger: Logger, tls?: ConnectionOptions): RedisClient;
export function createRedisClient(target: RedisTarget | string, commandTimeoutMs: number, logger: Logger, tls?: ConnectionOptions): RedisClient {
  const t: RedisTarget = typeof target === 'string' ? { kind: 'url', url: target } : target;
  const node = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(commandTimeoutMs, 2000),
    retryStrategy: backoff,
  };
  let redis: RedisClient;
  if (t.kind === 'url') {
    redis = new Redis(t.url, { ...node, ...(tls ? { tls } : {}) });
  } else if (t.kind === 'sentinel') {
    const dataTls = t.tls ? (tls ?? {}) : undefined;
    redis = new Redis({
      ...node,
      sentinels: t.sentinels,
      name: t.masterName,
      role: 'master',
      ...t.auth,
      ...(dataTls ? { tls: dataTls } : {}),
      sentinelUsername: t.sentinelAuth.username,
      sentinelPassword: t.sentinelAuth.password,
      ...(t.sentinelTls ? { enableTLSForSentinelMode: true, sentinelTLS: tls ?? {} } : {}),
      sentinelCommandTimeout: node.connectTimeout,
      sentinelRetryStrategy: backoff,
      failoverDetector: true,
      reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 1 : false),
    });
  } else {
    redis = new Cluster(t.nodes, {
      lazyConnect: true,
      enableOfflineQueue: false,
      scaleReads: 'master',
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      clusterRetryStrategy: backoff,
      slotsRefreshTimeout: node.connectTimeout,
      redisOptions: { ...node, ...t.auth, ...(t.tls ? { tls: tls ?? {} } : {}) },
    });
  }
  let wasReady = false;
  redis.on('ready', () => {
    if (wasReady) logger.info('redis reconnected');
    wasReady = true;
  });
  redis.on('error', (err: Error) => logger.warn('redis error', { error: err.message }));
  if (redis instanceof Redis) reconnectAfterUnaskedEnd(redis, logger);
  return redis;
}

/**
 * ioredis stops reconnecting for good ('end') when a reconnect's connect
 * step fails, whatever the retry strategy says. Through Sentinel that
 * happens on a failover: the previous connection's failover detector is
 * still subscribed, and the +switch-master it hears while the reconnect is
 * asking the sentinels for the master closes the connector under it
 * ("Connection is closed."). The router then answered 503 until restarted.
 * So a client that ended without this process closing it (quit, or
 * disconnect without reconnect) connects again, with the same backoff.
 */
function reconnectAfterUnaskedEnd(redis: Redis, logger: Logger): void {
  let closing = false;
  const quit = redis.quit.bind(redis);
  const disconnect = redis.disconnect.bind(redis);
  redis.quit = ((...args: Parameters<Redis['quit']>) => {
    closing = true;
    return quit(...args);
  }) as Redis['quit'];
  redis.disconnect = (reconnect = false) => {
    if (!reconnect) closing = true;
    disconnect(reconnect);
  };
  let attempts = 0;
  redis.on('ready', () => (attempts = 0));
  redis.on('end', () => {
    if (closing) return;
    const delay = backoff(++attempts);
    logger.warn('redis client stopped reconnecting by itself: connecting again', { retry_in_ms: delay, attempt: attempts });
    setTimeout(() => {
      if (!closing && redis.status === 'end') redis.connect().catch(() => undefined); // a failure ends it again, and comes back here
    }, delay).unref();
  });
}

/** Reconnect backoff: 100 ms doubling to at most 2 s, forever. */
function backoff(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 6), 2000);
}

/** Connects, retrying until Redis answers or the deadline passes. */
export async function connectRedis(redis: RedisClient, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      if (redis.status === 'wait' || redis.status === 'end') await redis.connect();
      // connect() can resolve before the ready check; without an offline
      // queue, commands sent before 'ready' would fail.
      if (redis.status !== 'ready') {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`still ${redis.status}`)), 2000);
          redis.once('ready', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      await redis.ping();
      return;
    } catch (err) {
      if (Date.now() > until) throw new Error(`redis not reachable: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
