import { readFileSync } from 'node:fs';
import { redisDrainControl } from '../api/pod-control.js';
import type { Config } from '../core/config.js';
import { standaloneInstallation } from '../core/installation.js';
import type { Logger } from '../core/logger.js';
import { planPoolAssignments } from '../core/planner.js';
import { parseFleetFile } from '../core/standalone-file.js';
import { CallReaper } from '../lua/call-reaper.js';
import { syncFleet } from '../lua/pool-membership.js';
import { telephonyRoutesFor } from './telephony.js';
import { onShutdown, openRouterRuntime, serveRouter } from './router-runtime.js';

/**
 * Standalone mode: pools and pods from a YAML file, no Kubernetes. The file
 * is validated like kubectl apply would, planned, written to Redis, served.
 */
export async function runStandalone(config: Config, logger: Logger): Promise<void> {
  const file = config.standalone.configFile as string;
  const fleet = parseFleetFile(readFileSync(file, 'utf8'), file);
  const runtime = await openRouterRuntime(config, standaloneInstallation(config, file), logger);
  const plan = planPoolAssignments({ pools: fleet.pools, pods: fleet.pods, current: new Map(), calls: new Map() });
  await syncFleet(runtime.store, fleet.pools, fleet.pods, plan);
  for (const [pool, p] of plan.pools) {
    logger.info('pool synced', { pool, desired: p.desired, pods: p.serving, drained: p.drained, shortfall: p.shortfall });
  }

  const reaper = new CallReaper(runtime.store, config.reapIntervalMs, logger.child({ component: 'reaper' }), {
    onReaped: (calls) => calls.forEach((c) => runtime.metrics.reaped.inc({ pool: c.pool, reason: 'expired' })),
  });
  reaper.start();
  const server = await serveRouter(runtime, config, logger, {
    drain: redisDrainControl(runtime.store),
    isLeader: () => true,
    providerRoutes: telephonyRoutesFor(config, runtime, logger),
  });
  onShutdown(logger, async () => {
    await server.close(config.shutdownTimeoutMs);
    await reaper.stop();
    await runtime.redis.quit();
  });
}
