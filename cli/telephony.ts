import type { Router } from 'express';
import { telephonyRoutes } from '../api/telephony/provider-routes.js';
import type { Config } from '../core/config.js';
import { WebhookNonces } from '../lua/webhook-nonces.js';
import type { Logger } from '../core/logger.js';
import type { RouterRuntime } from './router-runtime.js';

/** The telephony provider webhooks, under /api/v1/{twilio,plivo,exotel}/. */
export function telephonyRoutesFor(config: Config, runtime: RouterRuntime, logger: Logger): Router {
  return telephonyRoutes(runtime.router, { ...config.telephony, credentials: runtime.credentials, nonces: new WebhookNonces(runtime.redis, runtime.store.keys) }, runtime.metrics.registry, logger.child({ component: 'telephony' }));
}
