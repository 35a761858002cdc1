import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { ConfigError } from '../core/config.js';
import type { Logger } from '../core/logger.js';

/**
 * A Redis client that fails fast instead of queueing: while Redis is down a
 * request gets a 503 at once (or after commandTimeoutMs when Redis hangs),
 * never waits without bound. It reconnects by itself, with backoff.
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
 */
/**
 * TLS options for rediss:// from files: a private CA (instead of the system's),
 * a client certificate and key. Read once at start; an unreadable file stops
 * the process naming its variable.
 */
export function redisTlsOptions(files: { caFile?: string; certFile?: string; keyFile?: string; servername?: string }): ConnectionOptions | undefined {
  if (!files.caFile && !files.certFile && !files.servername) return undefined;
  const read = (variable: string, file: string | undefined) => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`${variable}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  return {
    ca: read('REDIS_TLS_CA_FILE', files.caFile),
    cert: read('REDIS_TLS_CERT_FILE', files.certFile),
    key: read('REDIS_TLS_KEY_FILE', files.keyFile),
    servername: files.servername,
  };
}

export function createRedisClient(url: string, commandTimeoutMs: number, logger: Logger, tls?: ConnectionOptions): Redis {
  const redis = new Redis(url, {
    ...(tls ? { tls } : {}),
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(commandTimeoutMs, 2000),
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2000),
  });
  let wasReady = false;
  redis.on('ready', () => {
    if (wasReady) logger.info('redis reconnected');
    wasReady = true;
  });
  redis.on('error', (err: Error) => logger.warn('redis error', { error: err.message }));
  return redis;
}

/** Connects, retrying until Redis answers or the deadline passes. */
export async function connectRedis(redis: Redis, deadlineMs: number): Promise<void> {
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
