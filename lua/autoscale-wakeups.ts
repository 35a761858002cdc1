import { Cluster } from 'ioredis';
import type { Logger } from '../core/logger.js';
import type { RedisClient } from './redis-client.js';

export interface AutoscaleWakeups {
  /** Settles once the channel is first subscribed. */
  subscribed: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Listens on the autoscale channel, where an allocation that brought a
 * pool to its grow point (lua/set-grow-point-2.lua) publishes the pool's
 * name, and calls `onPool` for each: the leader grows the workload without
 * waiting for its next pass. Its own connection, since a subscribed one runs
 * no other command; it subscribes each time the connection is (again) ready,
 * so a Redis that is down at start or restarts only delays it. A message
 * lost meanwhile costs one pass interval, nothing more.
 */
export function listenForAutoscaleWakeups(redis: RedisClient, channel: string, onPool: (pool: string) => void, logger: Logger): AutoscaleWakeups {
  // The router's client queues nothing while disconnected (see redis-client.ts); a subscription is no request to answer in time.
  // On a Redis Cluster, PUBLISH reaches every node: a subscription on any of them hears it.
  const subscriber: RedisClient =
    redis instanceof Cluster ? redis.duplicate(undefined, { lazyConnect: false, enableOfflineQueue: true }) : redis.duplicate({ lazyConnect: false, enableOfflineQueue: true, autoResubscribe: false });
  let first: () => void;
  const subscribed = new Promise<void>((resolve) => (first = resolve));
  subscriber.on('error', (err: Error) => logger.warn('autoscale wake-up connection failed; passes still run on their interval', { error: err.message }));
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(
      () => first(),
      (err: Error) => logger.warn('could not subscribe to autoscale wake-ups; passes still run on their interval', { error: err.message }),
    );
  });
  subscriber.on('message', (from: string, pool: string) => {
    if (from === channel) onPool(pool);
  });
  return {
    subscribed,
    stop: async () => {
      await subscriber.quit().catch(() => subscriber.disconnect());
    },
  };
}
