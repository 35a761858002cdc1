import { ConfigError } from './config.js';

/** A Redis (or Sentinel) endpoint as host:port. */
export interface RedisAddress {
  host: string;
  port: number;
}

/** Credentials of an ACL user (username) or of `requirepass` (password only). */
export interface RedisCredentials {
  username?: string;
  password?: string;
}

/**
 * Where the routing state lives, one of three shapes that exclude each other:
 * - `url`: one Redis (REDIS_URL; credentials and rediss:// in the URL);
 * - `sentinel`: the master of a Sentinel-managed group, found through the
 *   sentinels (REDIS_SENTINELS, REDIS_SENTINEL_MASTER) and followed when they
 *   promote a replica;
 * - `cluster`: a Redis Cluster (REDIS_CLUSTER_NODES). Every key of an
 *   installation carries the hash tag `{prefix}`, so all of them live in one
 *   slot, on one master.
 * Sentinel and Cluster have no URL: their data nodes' credentials are
 * REDIS_USERNAME/REDIS_PASSWORD and TLS is REDIS_TLS=true (with the same
 * REDIS_TLS_* files a rediss:// URL takes).
 */
export type RedisTarget =
  | { kind: 'url'; url: string }
  | {
      kind: 'sentinel';
      sentinels: RedisAddress[];
      masterName: string;
      auth: RedisCredentials;
      tls: boolean;
      /** The sentinels' own credentials and TLS (REDIS_SENTINEL_*), which may differ from the data nodes'. */
      sentinelAuth: RedisCredentials;
      sentinelTls: boolean;
    }
  | { kind: 'cluster'; nodes: RedisAddress[]; auth: RedisCredentials; tls: boolean };

type Source = Record<string, string | undefined>;

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$/;

/** `host:port,host:port`: at least one, each with a port; IPv6 in brackets. */
export function parseRedisAddresses(name: string, raw: string): RedisAddress[] {
  const entries = raw.split(',').map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0) throw new ConfigError(`${name} must list at least one host:port`);
  return entries.map((entry) => {
    const colon = entry.lastIndexOf(':');
    const host = entry.slice(0, colon);
    const port = entry.slice(colon + 1);
    if (colon <= 0 || !HOST.test(host) || !/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      throw new ConfigError(`${name} must be a comma-separated list of host:port (IPv6 as [addr]:port), got ${JSON.stringify(entry)}`);
    }
    return { host: host.replace(/^\[(.*)\]$/, '$1'), port: Number(port) };
  });
}

function flag(name: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

function credentials(env: Source, user: string, pass: string): RedisCredentials {
  return { username: env[user] || undefined, password: env[pass] || undefined };
}

/**
 * Reads the Redis target. `url` is REDIS_URL or the --redis-url flag as given
 * (undefined when neither is set), `urlName` the name to report it by.
 * Settings that belong to another shape stop the process naming them.
 */
export function redisTargetFrom(url: string | undefined, urlName: string, env: Source): RedisTarget {
  const sentinels = env.REDIS_SENTINELS || undefined;
  const clusterNodes = env.REDIS_CLUSTER_NODES || undefined;
  const given = [url !== undefined && url !== '' ? urlName : undefined, sentinels && 'REDIS_SENTINELS', clusterNodes && 'REDIS_CLUSTER_NODES'].filter(Boolean);
  if (given.length > 1) {
    throw new ConfigError(`${given.join(' and ')} exclude each other: set REDIS_URL for one Redis, REDIS_SENTINELS for a Sentinel-managed Redis, or REDIS_CLUSTER_NODES for a Redis Cluster`);
  }
  const sentinelOnly = ['REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_USERNAME', 'REDIS_SENTINEL_PASSWORD', 'REDIS_SENTINEL_TLS'].filter((v) => env[v]);
  if (!sentinels && sentinelOnly.length > 0) throw new ConfigError(`${sentinelOnly.join(', ')} ${sentinelOnly.length > 1 ? 'are' : 'is'} for Sentinel: set REDIS_SENTINELS too, or remove ${sentinelOnly.length > 1 ? 'them' : 'it'}`);
  const tls = flag('REDIS_TLS', env.REDIS_TLS);
  if (!sentinels && !clusterNodes) {
    const value = url || 'redis://127.0.0.1:6379';
    if (!/^rediss?:\/\//.test(value)) throw new ConfigError(`${urlName} must start with redis:// or rediss://, got ${JSON.stringify(value)}`);
    const urlOnly = ['REDIS_USERNAME', 'REDIS_PASSWORD', 'REDIS_TLS'].filter((v) => env[v]);
    if (urlOnly.length > 0) throw new ConfigError(`${urlOnly.join(', ')}: with REDIS_URL, credentials and TLS go in the URL (rediss://user:password@host:port)`);
    return { kind: 'url', url: value };
  }
  const auth = credentials(env, 'REDIS_USERNAME', 'REDIS_PASSWORD');
  if (auth.username && !auth.password) throw new ConfigError('REDIS_USERNAME needs REDIS_PASSWORD (an ACL user and its password)');
  if (clusterNodes) return { kind: 'cluster', nodes: parseRedisAddresses('REDIS_CLUSTER_NODES', clusterNodes), auth, tls: tls ?? false };
  const masterName = env.REDIS_SENTINEL_MASTER;
  if (!masterName) throw new ConfigError('REDIS_SENTINELS needs REDIS_SENTINEL_MASTER, the name of the master group the sentinels monitor (sentinel monitor <name> ...)');
  if (!/^[\x21-\x7e]{1,200}$/.test(masterName)) throw new ConfigError(`REDIS_SENTINEL_MASTER must be printable characters without spaces, got ${JSON.stringify(masterName)}`);
  const sentinelAuth = credentials(env, 'REDIS_SENTINEL_USERNAME', 'REDIS_SENTINEL_PASSWORD');
  if (sentinelAuth.username && !sentinelAuth.password) throw new ConfigError('REDIS_SENTINEL_USERNAME needs REDIS_SENTINEL_PASSWORD');
  return {
    kind: 'sentinel',
    sentinels: parseRedisAddresses('REDIS_SENTINELS', sentinels as string),
    masterName,
    auth,
    tls: tls ?? false,
    sentinelAuth,
    // Sentinels usually speak what the data nodes speak.
    sentinelTls: flag('REDIS_SENTINEL_TLS', env.REDIS_SENTINEL_TLS) ?? tls ?? false,
  };
}

/** Whether the target speaks TLS to its data nodes: what the REDIS_TLS_* files are for. */
export function redisTargetUsesTls(target: RedisTarget): boolean {
  return target.kind === 'url' ? target.url.startsWith('rediss://') : target.tls || (target.kind === 'sentinel' && target.sentinelTls);
}
