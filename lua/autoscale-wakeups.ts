import type { Redis } from 'ioredis';
import type { Logger } from '../core/logger.js';

/**
 * Listens on the autoscale channel, where an allocation that brought a
 * pool to its grow point (lua/set-grow-point-2.lua) publishes the pool's
 * name, and calls `onPool` for each: the leader grows the workload without
 * waiting for its next pass. Its own connection, since a subscribed one runs
 * no other command; ioredis subscribes again after a reconnect. A message
 * lost meanwhile costs one pass interval, nothing more. Returns a function
 * that closes the connection.
 */
export async function listenForAutoscaleWakeups(redis: Redis, channel: string, onPool: (pool: string) => void, logger: Logger): Promise<() => Promise<void>> {
  const subscriber = redis.duplicate();
  subscriber.on('error', (err: Error) => logger.warn('autoscale wake-up connection failed; passes still run on their interval', { error: err.message }));
  subscriber.on('message', (from: string, pool: string) => {
    if (from === channel) onPool(pool);
  });
  await subscriber.subscribe(channel);
  return async () => {
    await subscriber.quit().catch(() => subscriber.disconnect());
  };
}
