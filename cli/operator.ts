import { KubeConfig } from '@kubernetes/client-node';
import type { Config } from '../core/config.js';
import { operatorInstallation } from '../core/installation.js';
import type { Logger } from '../core/logger.js';
import { tracedRoot } from '../core/tracing.js';
import { FencedWriteError, type EndedCall } from '../lua/routing-store.js';
import { CallReaper } from '../lua/call-reaper.js';
import { kubernetesDrainControl } from '../operator/drain-control.js';
import { EventRecorder } from '../operator/events.js';
import { FleetReconciler } from '../operator/fleet-reconciler.js';
import { POD_PATCHES_IN_FLIGHT } from '../operator/pod-metadata-writer.js';
import { fleetInformers } from '../operator/informers.js';
import { kubeClients } from '../operator/kube-client.js';
import { LeaderElector } from '../operator/leader-election.js';
import { OperatorMetrics } from '../operator/operator-metrics.js';
import { PodChangeFilter } from '../operator/pod-change-filter.js';
import { ReconcileLoop, RunAbandoned } from '../operator/reconcile-loop.js';
import { beginLeaderTerm } from '../operator/leader-term.js';
import { WorkloadAutoscaler } from '../operator/workload-autoscaler.js';
import { LostStateGrace } from '../core/lost-state-grace.js';
import { StateLossDetector } from '../lua/state-loss-detector.js';
import { listenForAutoscaleWakeups } from '../lua/autoscale-wakeups.js';
import { startEvictionGuard } from './eviction-guard.js';
import { onShutdown, openRouterRuntime, serveRouter } from './router-runtime.js';
import { telephonyRoutesFor } from './telephony.js';

/** Requests other than lease renewals: a list of a large namespace may take a while. */
const REQUEST_TIMEOUT_MS = 30_000;

export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault(); // KUBECONFIG, ~/.kube/config, or the pod's ServiceAccount in cluster
  return kc;
}

/**
 * Operator mode: every replica serves the allocator and keeps warm caches of
 * pods and pools; only the replica holding the Lease reconciles and reaps.
 */
export async function runOperator(config: Config, logger: Logger): Promise<void> {
  const kc = loadKubeConfig(config.operator.kubeconfig);
  // In cluster, client-node sets the context's namespace from the ServiceAccount's.
  const namespace = config.operator.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const installation = operatorInstallation(config, namespace, config.operator.leaseName);
  const log = logger.child({ namespace });

  const runtime = await openRouterRuntime(config, installation, log);
  const metrics = new OperatorMetrics(runtime.metrics.registry);
  const clients = kubeClients(kc, metrics, REQUEST_TIMEOUT_MS);
  // A lease request that outlives the renew deadline is worthless: give up on it then.
  const leaseClients = kubeClients(kc, metrics, config.operator.renewDeadlineSeconds * 1000);
  const events = new EventRecorder(clients.core, namespace, config.operator.identity, log.child({ component: 'events' }), metrics);

  let elector: LeaderElector | undefined;
  let loop: ReconcileLoop | undefined;
  let autoscaleLoop: ReconcileLoop | undefined;
  // The echo of the operator's own patches and updates that change nothing it reads start no reconcile.
  const podChanges = new PodChangeFilter();
  let planner: FleetReconciler | undefined;
  const informers = fleetInformers(kc, clients, namespace, log.child({ component: 'informer' }), (kind, pod) => {
    // A pod's news is written for that pod alone, beside the loop; anything but a readiness flip also plans the fleet.
    if (pod?.news === 'readiness') return planner?.readinessChanged(pod.name);
    if (pod) planner?.podChanged(pod.name, pod.deletedUid);
    else planner?.planAll();
    loop?.enqueue();
    if (kind === 'VoiceAgentPool') autoscaleLoop?.enqueue();
  }, (kind, up) => {
    metrics.watchUp.set({ resource: kind === 'Pod' ? 'pods' : 'voiceagentpools' }, up ? 1 : 0);
    if (up) {
      // Calls kept while it was down are judged again, over the whole fleet.
      planner?.planAll();
      loop?.enqueue();
    }
  }, (verb, pod) => {
    const news = podChanges.classify(verb, pod);
    metrics.podEvents.inc({ news });
    return news;
  });
  const grace = new LostStateGrace(config.lostStateGraceSeconds * 1000);
  const isLeader = () => elector?.isLeader() ?? false;
  const autoscaler = new WorkloadAutoscaler(
    { clients, informers, store: runtime.store, events, metrics, logger: log.child({ component: 'autoscaler' }), isLeader, onScalingChange: () => loop?.enqueue() },
    namespace,
    { intervalMs: config.operator.autoscaleIntervalMs, rateWindowMs: config.operator.autoscaleRateWindowSeconds * 1000 },
  );
  metrics.readPoolStatusesFrom(() => informers.pools.list().map((p) => ({ name: p.metadata?.name ?? '', status: p.status })));
  const reconciler = new FleetReconciler(
    { clients, informers, store: runtime.store, metrics: runtime.metrics, events, logger: log.child({ component: 'reconciler' }), isLeader, requeue: (ms) => loop?.enqueueAfter(ms), scalingOf: (pool) => autoscaler.scalingOf(pool), grace, writeFailures: metrics, podWrites: podChanges, ran: (scope) => metrics.reconcileRuns.inc({ scope }) },
    { namespace, fullResyncMs: config.operator.fullResyncSeconds * 1000, planEveryMs: config.operator.resyncSeconds * 1000, statusCountsIntervalMs: config.operator.statusCountsIntervalSeconds * 1000, statusCountWritesPerMinute: config.operator.statusCountWritesPerMinute, patchConcurrency: POD_PATCHES_IN_FLIGHT },
  );
  planner = reconciler;
  // A write refused for its term means another replica leads: stop at once, without waiting for the Lease to tell.
  // Told even when the lease already ended it: the refusal is the proof that a stale write reached Redis and changed nothing.
  const resignIfFenced = (err: unknown) => {
    if (!(err instanceof FencedWriteError)) return;
    metrics.fencedWrites.inc();
    log.warn('Redis refused a write of an older leader term: another replica leads', { error: err.message, leading: elector?.isLeader() ?? false });
    void elector?.resign(`Redis refused a write: ${err.message}`);
  };
  const reconcileLoop = new ReconcileLoop(
    // Each reconcile is a trace of its own: its Kubernetes requests and Redis scripts are its children.
    () =>
      tracedRoot('reconcile', { 'k8s.namespace.name': namespace }, async () => {
        try {
          return await reconciler.reconcile();
        } catch (err) {
          resignIfFenced(err);
          throw err instanceof FencedWriteError ? new RunAbandoned(err.message) : err;
        }
      }),
    // Under a stream of changes a plan of a big fleet runs at most half the time: the pod lane, the
    // API writes and the watches get the rest of the process (each change is in Redis before its plan).
    { baseDelayMs: 200, maxDelayMs: 30_000, resyncMs: config.operator.resyncSeconds * 1000, restShare: 1 },
    log.child({ component: 'reconciler' }),
    (outcome, seconds) => {
      metrics.reconciles.inc({ result: outcome });
      if (outcome === 'ok') {
        metrics.reconcileSeconds.observe(seconds);
        metrics.lastReconcileSuccess.setToCurrentTime();
      }
    },
  );
  loop = reconcileLoop;
  // Its own loop: a buffer breach shows in Redis, which no informer event announces.
  autoscaleLoop = new ReconcileLoop(
    async () => {
      try {
        return await autoscaler.run();
      } catch (err) {
        resignIfFenced(err);
        throw err instanceof FencedWriteError ? new RunAbandoned(err.message) : err;
      }
    },
    { baseDelayMs: 500, maxDelayMs: 30_000, resyncMs: config.operator.autoscaleIntervalMs },
    log.child({ component: 'autoscaler' }),
  );
  // A breach seen by an allocation, on any replica, starts a pass at once (a no-op unless this replica leads).
  const wakeups = listenForAutoscaleWakeups(runtime.redis, runtime.store.keys.autoscaleChannel, () => autoscaleLoop?.enqueue(), log.child({ component: 'autoscaler' }));
  const reaper = new CallReaper(runtime.store, config.reapIntervalMs, log.child({ component: 'reaper' }), {
    onReaped: (calls) => reportExpired(calls, runtime.metrics.reaped, events),
    onFailed: resignIfFenced,
  });
  // The leader notices a loss of the routing state within a check interval and rebuilds at once.
  const stateCheck = new StateLossDetector(runtime.store, installation.id, config.stateCheckIntervalMs, async () => {
    runtime.metrics.stateLost.inc();
    const held = grace.stateLost(Date.now());
    reconciler.reset();
    reconcileLoop.enqueue();
    const heldNote = held.length
      ? ` ${held.length} pod(s) that held calls before the loss take no new call for ${config.lostStateGraceSeconds} s (their agents may still be streaming): ${held.slice(0, 10).join(', ')}${held.length > 10 ? ', ...' : ''}.`
      : '';
    log.warn('routing state lost in Redis: rebuilding from the cluster', { held_pods: held.length, held_for_seconds: config.lostStateGraceSeconds });
    for (const pool of informers.pools.list(namespace)) {
      const message = `Redis lost the routing state (flushed, or restarted without AOF): rebuilt from the cluster; calls in flight at the loss are no longer known to routing.${heldNote}`;
      void events.record({ kind: 'VoiceAgentPool', name: pool.metadata!.name!, uid: pool.metadata?.uid }, 'Warning', 'RoutingStateLost', message);
    }
  }, log.child({ component: 'state-check' }));
  // Counts terms of leadership on this replica, so a term begun after its leadership ended starts nothing.
  let terms = 0;

  const leader = new LeaderElector(
    leaseClients.coordination,
    namespace,
    config.operator.leaseName,
    config.operator.identity,
    config.operator,
    {
      onStartedLeading: ({ transitions }) => {
        metrics.leader.set(1);
        const mine = ++terms;
        const stillLeading = () => mine === terms && (elector?.isLeader() ?? false);
        void beginLeaderTerm(runtime.store, transitions, stillLeading, log.child({ component: 'leader-election' })).then((term) => {
          if (term === undefined) return;
          reconciler.reset();
          autoscaler.reset();
          reconcileLoop.start();
          autoscaleLoop?.start();
          reaper.start();
          stateCheck.start();
        });
      },
      onStoppedLeading: async () => {
        terms++;
        metrics.leader.set(0);
        await Promise.all([reconcileLoop.stop(), autoscaleLoop?.stop(), reaper.stop(), reconciler.stop(), stateCheck.stop()]);
      },
    },
    log.child({ component: 'leader-election' }),
  );
  elector = leader;

  // Caches are warm before this replica may lead, so a new leader starts from a full picture.
  await informers.start();
  leader.start();
  const evictionGuard = config.webhook.port === undefined
    ? undefined
    : await startEvictionGuard(config.webhook, config.host, {
        clients,
        namespace,
        pods: informers.pods,
        store: runtime.store,
        events,
        metrics,
        logger: log.child({ component: 'eviction-guard' }),
      });
  const server = await serveRouter(runtime, config, log, {
    drain: kubernetesDrainControl(clients.core, namespace, runtime.store),
    isLeader: () => leader.isLeader(),
    providerRoutes: telephonyRoutesFor(config, runtime, log),
  });
  onShutdown(log, async () => {
    await leader.stop(); // stops reconciling and reaping, then hands the lease back
    await informers.stop();
    await Promise.all([server.close(config.shutdownTimeoutMs), evictionGuard?.stop(), wakeups.stop()]);
    await runtime.redis.quit();
  });
}

/** Zombie calls: counted per pool, and one Event per pool per reaping pass. */
function reportExpired(calls: EndedCall[], reaped: { inc(labels: { pool: string; reason: string }): void }, events: EventRecorder): void {
  const byPool = new Map<string, string[]>();
  for (const call of calls) {
    reaped.inc({ pool: call.pool, reason: 'expired' });
    byPool.set(call.pool, [...(byPool.get(call.pool) ?? []), call.callSid]);
  }
  for (const [pool, sids] of byPool) {
    const listed = `${sids.slice(0, 10).join(', ')}${sids.length > 10 ? ', ...' : ''}`;
    void events.record({ kind: 'VoiceAgentPool', name: pool }, 'Warning', 'CallsReaped', `${sids.length} call(s) never released within maxCallDurationSeconds were ended: ${listed}`);
  }
}
