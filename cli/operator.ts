import { KubeConfig } from '@kubernetes/client-node';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { CallReaper } from '../lua/call-reaper.js';
import { kubernetesDrainControl } from '../operator/drain-control.js';
import { EventRecorder } from '../operator/events.js';
import { FleetReconciler } from '../operator/fleet-reconciler.js';
import { fleetInformers } from '../operator/informers.js';
import { kubeRequestCounter } from '../operator/kube-metrics.js';
import { LeaderElector } from '../operator/leader-election.js';
import { ReconcileLoop } from '../operator/reconcile-loop.js';
import { onShutdown, openRouterRuntime, serveRouter } from './router-runtime.js';
import { telephonyRoutesFor } from './telephony.js';

/**
 * Operator mode: every replica serves the allocator and keeps warm caches of
 * pods and pools; only the replica holding the Lease reconciles and reaps.
 */
export async function runOperator(config: Config, logger: Logger): Promise<void> {
  const kc = new KubeConfig();
  if (config.operator.kubeconfig) kc.loadFromFile(config.operator.kubeconfig);
  else kc.loadFromDefault();
  const namespace = config.operator.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const log = logger.child({ namespace });

  const runtime = await openRouterRuntime(config, log);
  const count = kubeRequestCounter(runtime.metrics.registry);
  const events = new EventRecorder(kc, namespace, config.operator.identity, log.child({ component: 'events' }), count);
  let reconciler: FleetReconciler | undefined;
  let loop: ReconcileLoop | undefined;
  const informers = fleetInformers(kc, namespace, log.child({ component: 'informer' }), (kind, verb, obj) => {
    if (kind === 'Pod' && verb === 'delete' && elector.isLeader()) {
      reconciler?.podDeleted(obj).catch((err: Error) => log.warn('reaping a deleted pod failed', { pod: obj.metadata?.name, error: err.message }));
    }
    loop?.enqueue();
  }, count);
  reconciler = new FleetReconciler(kc, namespace, informers.pods, informers.pools, runtime.store, runtime.metrics, events, log.child({ component: 'reconciler' }), count);
  const fleet = reconciler;
  loop = new ReconcileLoop(() => fleet.reconcile(), { baseDelayMs: 200, maxDelayMs: 30_000, resyncMs: config.operator.resyncSeconds * 1000 }, log.child({ component: 'reconciler' }));
  const reaper = new CallReaper(runtime.store, config.reapIntervalMs, log.child({ component: 'reaper' }), {
    onReaped: (calls) => calls.forEach((c) => runtime.metrics.reaped.inc({ pool: c.pool, reason: 'expired' })),
  });

  const reconcileLoop = loop;
  const elector = new LeaderElector(kc, namespace, config.operator.leaseName, config.operator.identity, config.operator, {
    onStartedLeading: () => {
      reconcileLoop.start();
      reaper.start();
    },
    onStoppedLeading: () => {
      void reconcileLoop.stop();
      void reaper.stop();
    },
  }, log.child({ component: 'leader-election' }), count);

  await informers.start();
  elector.start();
  const server = await serveRouter(runtime, config, log, {
    drain: kubernetesDrainControl(kc, namespace, runtime.store),
    isLeader: () => elector.isLeader(),
    providerRoutes: telephonyRoutesFor(config, runtime, log),
  });
  onShutdown(log, async () => {
    await elector.stop();
    await reconcileLoop.stop();
    await reaper.stop();
    await informers.stop();
    await server.close(config.shutdownTimeoutMs);
    await runtime.redis.quit();
  });
}
