import type { Router } from 'express';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { RouterRuntime } from './router-runtime.js';

/** The telephony provider webhooks for this configuration, if any. */
export function telephonyRoutesFor(_config: Config, _runtime: RouterRuntime, _logger: Logger): Router | undefined {
  return undefined;
}
