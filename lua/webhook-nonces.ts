import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-client.js';
import type { RoutingKeys } from './keys.js';

/**
 * Nonces of signed webhooks, remembered in Redis for a window so that every
 * replica refuses a request it or another replica has already seen. One
 * SET NX EX per request: the first use wins atomically, the key expires by
 * itself. Only requests whose signature already verified get here, so no
 * one can fill Redis with made-up nonces.
 */
export class WebhookNonces {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RoutingKeys,
  ) {}

  /** True the first time a nonce is presented within ttlSeconds, false for a replay. */
  async firstUse(provider: string, nonce: string, ttlSeconds: number): Promise<boolean> {
    // Hashed: the nonce is the caller's text; the key stays short and printable whatever it holds.
    const digest = createHash('sha256').update(nonce, 'utf8').digest('hex');
    const set = await this.redis.set(this.keys.webhookNonce(provider, digest), '1', 'EX', ttlSeconds, 'NX');
    return set === 'OK';
  }
}
