import { ConfigError, loadConfig } from '../../../core/config.js';
import { parseRedisAddresses } from '../../../core/redis-target.js';

const target = (env: Record<string, string>, argv: string[] = []) => loadConfig(argv, env).redis;

describe('the Redis target', () => {
  test('REDIS_SENTINELS with a master name finds a Sentinel-managed Redis; TLS and credentials are their own settings', () => {
    expect(target({ REDIS_SENTINELS: 's1:26379, s2:26380,[::1]:26381', REDIS_SENTINEL_MASTER: 'routing' })).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      masterName: 'routing',
      auth: { username: undefined, password: undefined },
      tls: false,
      sentinelAuth: { username: undefined, password: undefined },
      sentinelTls: false,
    });
    const secured = target({
      REDIS_SENTINELS: 's1:26379',
      REDIS_SENTINEL_MASTER: 'routing',
      REDIS_USERNAME: 'router',
      REDIS_PASSWORD: 'p1',
      REDIS_SENTINEL_PASSWORD: 'p2',
      REDIS_TLS: 'true',
      REDIS_TLS_CA_FILE: '/ca.crt',
    });
    // Sentinels speak TLS when the data nodes do, unless told otherwise.
    expect(secured).toMatchObject({ auth: { username: 'router', password: 'p1' }, tls: true, sentinelAuth: { password: 'p2' }, sentinelTls: true });
    expect(target({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_MASTER: 'm', REDIS_TLS: 'true', REDIS_SENTINEL_TLS: 'false' })).toMatchObject({ tls: true, sentinelTls: false });
  });

  test('REDIS_CLUSTER_NODES lists seed nodes of a Redis Cluster', () => {
    expect(target({ REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7000', REDIS_PASSWORD: 'p' })).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7000 },
      ],
      auth: { username: undefined, password: 'p' },
      tls: false,
    });
  });

  test.each([
    [{ REDIS_URL: 'redis://r:1', REDIS_SENTINELS: 's:1', REDIS_SENTINEL_MASTER: 'm' }, [], 'REDIS_URL and REDIS_SENTINELS exclude each other'],
    [{ REDIS_SENTINELS: 's:1', REDIS_SENTINEL_MASTER: 'm' }, ['--redis-url', 'redis://r:1'], '--redis-url and REDIS_SENTINELS exclude each other'],
    [{ REDIS_SENTINELS: 's:1', REDIS_CLUSTER_NODES: 'c:1' }, [], 'REDIS_SENTINELS and REDIS_CLUSTER_NODES exclude each other'],
    [{ REDIS_URL: 'redis://r:1', REDIS_CLUSTER_NODES: 'c:1' }, [], 'REDIS_URL and REDIS_CLUSTER_NODES exclude each other'],
    [{ REDIS_SENTINELS: 's:1' }, [], 'REDIS_SENTINELS needs REDIS_SENTINEL_MASTER'],
    [{ REDIS_SENTINEL_MASTER: 'm' }, [], 'REDIS_SENTINEL_MASTER is for Sentinel: set REDIS_SENTINELS too'],
    [{ REDIS_CLUSTER_NODES: 'c:1', REDIS_SENTINEL_PASSWORD: 'x' }, [], 'REDIS_SENTINEL_PASSWORD is for Sentinel'],
    [{ REDIS_PASSWORD: 'p' }, [], 'REDIS_PASSWORD: with REDIS_URL, credentials and TLS go in the URL'],
    [{ REDIS_URL: 'redis://r:1', REDIS_TLS: 'true' }, [], 'REDIS_TLS: with REDIS_URL, credentials and TLS go in the URL'],
    [{ REDIS_CLUSTER_NODES: 'c:1', REDIS_TLS_CA_FILE: '/ca.crt' }, [], 'REDIS_TLS_* settings need REDIS_TLS=true'],
    [{ REDIS_CLUSTER_NODES: 'c:1', REDIS_TLS: 'maybe' }, [], 'REDIS_TLS must be true or false, got "maybe"'],
    [{ REDIS_CLUSTER_NODES: 'c:1', REDIS_USERNAME: 'u' }, [], 'REDIS_USERNAME needs REDIS_PASSWORD'],
    [{ REDIS_CLUSTER_NODES: 'c' }, [], 'REDIS_CLUSTER_NODES must be a comma-separated list of host:port (IPv6 as [addr]:port), got "c"'],
    [{ REDIS_SENTINELS: 's:99999', REDIS_SENTINEL_MASTER: 'm' }, [], 'REDIS_SENTINELS must be a comma-separated list of host:port'],
  ])('%j %j stops the start naming the setting', (env, argv, message) => {
    expect(() => target(env as Record<string, string>, argv)).toThrow(ConfigError);
    expect(() => target(env as Record<string, string>, argv)).toThrow(message);
  });

  test('addresses: names, IPv4, bracketed IPv6; a port is required', () => {
    expect(parseRedisAddresses('X', 'redis-0.redis:6379')).toEqual([{ host: 'redis-0.redis', port: 6379 }]);
    expect(() => parseRedisAddresses('X', '::1:6379')).toThrow('X must be a comma-separated list');
    expect(() => parseRedisAddresses('X', ' , ')).toThrow('X must list at least one host:port');
  });
});
