import type { RouterMetrics } from '../api/metrics.js';
import type { Logger } from '../core/logger.js';
import type { RoutingStore } from '../lua/routing-store.js';
import type { EventRecorder } from './events.js';
import { readFleetView, type FleetView } from './fleet-view.js';
import type { FleetInformers } from './informers.js';
import type { KubeClients } from './kube-client.js';
import { PodLabeler } from './pod-labels.js';
import { podTransitions, type PodBefore } from './pod-transitions.js';
import { PoolStatusWriter } from './pool-status-writer.js';
import { RunAbandoned, type RunResult } from './reconcile-loop.js';
import { reportEndedCalls, reportPodTransitions } from './reconcile-reports.js';
import { RoutingSync } from './routing-sync.js';

export interface ReconcilerOptions {
  namespace: string;
  /** Rewrite all routing state in Redis at least this often, changed or not. */
  fullResyncMs: number;
  /** A change of call counts alone reaches a pool's status at most this often. */
  statusCountsIntervalMs: number;
  /** Label patches in flight at once. */
  patchConcurrency: number;
}

export interface ReconcilerDeps {
  clients: KubeClients;
  informers: FleetInformers;
  store: RoutingStore;
  metrics: RouterMetrics;
  events: EventRecorder;
  logger: Logger;
  isLeader(): boolean;
}

/**
 * One reconcile of the whole namespace, level-based, in four steps with a
 * module each: read and plan (fleet-view), make Redis match the plan
 * (routing-sync, which alone ends calls, through call-endings), label the
 * pods (pod-labels), write the pools' status (pool-status-writer). Running it
 * again with nothing changed writes nothing. Routing comes first: Redis is
 * what allocations read.
 */
export class FleetReconciler {
  private readonly routing: RoutingSync;
  private readonly labeler: PodLabeler;
  private readonly status: PoolStatusWriter;

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly options: ReconcilerOptions,
  ) {
    this.routing = new RoutingSync(deps.store, deps.logger, { fullResyncMs: options.fullResyncMs });
    this.labeler = new PodLabeler(deps.clients, deps.logger, options);
    this.status = new PoolStatusWriter(deps.clients, deps.store, deps.events, deps.logger, options);
  }

  /** Forgets everything remembered: the next run rewrites Redis in full (a new term of leadership). */
  reset(): void {
    this.routing.reset();
    this.labeler.reset();
    this.status.reset();
  }

  private readonly ensureLeading = (): void => {
    if (!this.deps.isLeader()) throw new RunAbandoned('this replica no longer holds the lease');
  };

  async reconcile(): Promise<RunResult> {
    // Before the first complete list a missing pod is not a gone pod: reaping on a partial cache would end live calls.
    if (!this.deps.informers.synced()) throw new RunAbandoned('informer caches not synced yet');
    this.ensureLeading();
    const { informers, store, logger, namespace } = { ...this.deps, ...this.options };
    const view = await readFleetView({ informers, store, logger, namespace, labelOf: (pod) => this.labeler.labelOf(pod) });
    this.labeler.forgetGone(view.facts);
    this.status.forgetGone(view.poolObjects);

    reportEndedCalls(this.deps, await this.routing.sync(view, this.ensureLeading));

    const transitions = podTransitions(podsBefore(view), view.plan, new Map(view.pools.map((p) => [p.name, p])));
    const labelled = new Set<string>();
    let labelFailure: unknown;
    try {
      await this.labeler.apply(view, this.ensureLeading, labelled);
    } catch (err) {
      labelFailure = err;
    }
    // A label transition is told once its patch went through; the rest are already true in Redis.
    reportPodTransitions(this.deps, transitions.filter((t) => !t.viaLabel || labelled.has(t.pod)));
    if (labelFailure) throw labelFailure;

    return this.status.write(view, this.ensureLeading);
  }
}

/** Each pod as it was before this reconcile wrote anything. */
function podsBefore(view: FleetView): PodBefore[] {
  return view.podObjects.map((p) => {
    const name = p.metadata!.name!;
    const f = view.facts.get(name)!;
    return { name, uid: p.metadata?.uid, labels: f.labels, label: view.labels.get(name) ?? null, routing: view.routing.get(name), deleting: f.deleting, drainRequested: f.drainRequested };
  });
}
