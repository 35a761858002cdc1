import { readFileSync } from 'node:fs';
import { redisDrainControl } from '../api/pod-control.js';
import type { Config } from '../core/config.js';
import { standaloneInstallation } from '../core/installation.js';
import type { Logger } from '../core/logger.js';
import { LostStateGrace } from '../core/lost-state-grace.js';
import { planPoolAssignments } from '../core/planner.js';
import { parseFleetFile, type StandaloneFleet } from '../core/standalone-file.js';
import { CallReaper } from '../lua/call-reaper.js';
import { syncFleet } from '../lua/pool-membership.js';
import type { RoutingStore } from '../lua/routing-store.js';
import { StateLossDetector } from '../lua/state-loss-detector.js';
import { telephonyRoutesFor } from './telephony.js';
import { onShutdown, openRouterRuntime, serveRouter } from './router-runtime.js';

/** Plans the file's fleet and writes it to Redis; `held` pods take no new calls (drained). */
async function seedFleet(store: RoutingStore, fleet: StandaloneFleet, held: ReadonlySet<string>, logger: Logger): Promise<void> {
  const pods = fleet.pods.map((p) => (held.has(p.name) ? { ...p, drainRequested: true } : p));
  const plan = planPoolAssignments({ pools: fleet.pools, pods, current: new Map(), calls: new Map() });
  await syncFleet(store, fleet.pools, pods, plan);
  for (const [pool, p] of plan.pools) {
    logger.info('pool synced', { pool, desired: p.desired, pods: p.serving, drained: p.drained, shortfall: p.shortfall });
  }
}

/**
 * Standalone mode: pools and pods from a YAML file, no Kubernetes. The file
 * is validated like kubectl apply would, planned, written to Redis, served.
 * Every replica watches for a loss of the routing state and writes the file
 * again at once, holding out the pods that held calls before the loss.
 */
export async function runStandalone(config: Config, logger: Logger): Promise<void> {
  const file = config.standalone.configFile as string;
  const fleet = parseFleetFile(readFileSync(file, 'utf8'), file);
  const installation = standaloneInstallation(config, file);
  const runtime = await openRouterRuntime(config, installation, logger);
  const { store } = runtime;
  await seedFleet(store, fleet, new Set(), logger);

  const grace = new LostStateGrace(config.lostStateGraceSeconds * 1000);
  const podNames = fleet.pods.map((p) => p.name);
  let holding = false;
  // Which pods hold calls, read every resync: what a loss would hold out. A hold that ended is written back.
  const busyTimer = setInterval(() => {
    void (async () => {
      grace.remember(await store.callCounts(podNames));
      if (holding && grace.heldPods(Date.now()).size === 0) {
        holding = false;
        await seedFleet(store, fleet, new Set(), logger);
        logger.info('pods held after the loss of routing state serve again');
      }
    })().catch((err: Error) => logger.warn('reading call counts failed; will retry', { error: err.message }));
  }, config.operator.resyncSeconds * 1000);
  const detector = new StateLossDetector(store, installation.id, config.stateCheckIntervalMs, async () => {
    runtime.metrics.stateLost.inc();
    const held = grace.stateLost(Date.now());
    holding = held.length > 0;
    await seedFleet(store, fleet, new Set(held), logger);
    logger.warn('routing state rebuilt from the pools file', { held_pods: held, held_for_seconds: config.lostStateGraceSeconds });
  }, logger.child({ component: 'state-check' }));
  detector.start();

  const reaper = new CallReaper(store, config.reapIntervalMs, logger.child({ component: 'reaper' }), {
    onReaped: (calls) => calls.forEach((c) => runtime.metrics.reaped.inc({ pool: c.pool, reason: 'expired' })),
  });
  reaper.start();
  const server = await serveRouter(runtime, config, logger, {
    drain: redisDrainControl(store),
    isLeader: () => true,
    providerRoutes: telephonyRoutesFor(config, runtime, logger),
  });
  onShutdown(logger, async () => {
    await server.close(config.shutdownTimeoutMs);
    clearInterval(busyTimer);
    await Promise.all([reaper.stop(), detector.stop()]);
    await runtime.redis.quit();
  });
}
