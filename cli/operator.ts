import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';

/** Operator mode: reconciles VoiceAgentPools and pods into Redis (leader) and serves the allocator (every replica). */
export async function runOperator(_config: Config, logger: Logger): Promise<void> {
  logger.error('operator mode is not available in this build; use "smart-router standalone --config FILE"');
  process.exit(2);
}
