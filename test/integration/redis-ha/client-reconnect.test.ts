// ioredis gives a client up for good ('end') when a reconnect's connect step
// fails, whatever its retry strategy says. Through Sentinel a failover does
// it: the old connection's failover detector closes the connector while the
// reconnect asks the sentinels for the new master, and the router answered
// 503 until restarted (sentinel-failover.test.ts saw it under load). Here the
// connector is closed the same way during a reconnect of a real client to a
// real Redis: the client must connect again by itself; one this process
// closed must stay closed.
import { silentLogger } from '../../../core/logger.js';
import { connectRedis, createRedisClient } from '../../../lua/redis-client.js';
import { testRedisUrl } from '../../support/routing.js';

const until = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
};

/** Reconnects the client and closes its connector while the next connect step runs, as Sentinel's failover detector does. */
function closeConnectorDuringReconnect(redis: ReturnType<typeof createRedisClient>): void {
  type Connector = { connect(...args: unknown[]): Promise<unknown>; disconnect(): void };
  const connector = (redis as unknown as { connector: Connector }).connector;
  const connect = connector.connect.bind(connector);
  connector.connect = (...args: unknown[]) => {
    connector.connect = connect;
    const connecting = connect(...args);
    connector.disconnect();
    return connecting;
  };
  redis.disconnect(true);
}

test('a client ioredis gave up on without being closed connects again', async () => {
  const redis = createRedisClient(testRedisUrl(), 1000, silentLogger());
  try {
    await connectRedis(redis, 10_000);
    let ended = false;
    redis.once('end', () => (ended = true));
    closeConnectorDuringReconnect(redis);
    await until('the client given up', () => ended);
    await until('the client ready again', () => redis.status === 'ready');
    expect(await redis.ping()).toBe('PONG');
  } finally {
    redis.disconnect();
  }
});

test('a client this process closed stays closed', async () => {
  const redis = createRedisClient(testRedisUrl(), 1000, silentLogger());
  await connectRedis(redis, 10_000);
  await redis.quit();
  await new Promise((r) => setTimeout(r, 500));
  expect(redis.status).toBe('end');
});
