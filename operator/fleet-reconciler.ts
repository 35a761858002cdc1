import type { RouterMetrics } from '../api/metrics.js';
import type { Logger } from '../core/logger.js';
import type { RoutingStore } from '../lua/routing-store.js';
import type { LostStateGrace } from '../core/lost-state-grace.js';
import { apiServerEvidence } from './call-endings.js';
import type { EventRecorder } from './events.js';
import { readFleetView, type FleetView } from './fleet-view.js';
import type { FleetInformers } from './informers.js';
import type { KubeClients } from './kube-client.js';
import { LatestJobRunner } from './latest-job-runner.js';
import type { WriteFailureSink } from './operator-metrics.js';
import { PodMetadataWriter } from './pod-metadata-writer.js';
import type { PodWriteObserver } from './pod-change-filter.js';
import { isTerminated, podFacts } from './pod-facts.js';
import type { PodNow } from './pod-lane-writes.js';
import { PodLane, type Plans } from './pod-lane.js';
import { podTransitions, type PodBefore, type PodTransition } from './pod-transitions.js';
import type { PoolObservation } from './pool-status.js';
import { PoolStatusWriter } from './pool-status-writer.js';
import { backoffDelay, RunAbandoned, type RunResult } from './reconcile-loop.js';
import { reportEndedCalls, reportPodTransitions } from './reconcile-reports.js';
import { RoutingSync } from './routing-sync.js';

export interface ReconcilerOptions {
  namespace: string;
  /** Rewrite all routing state in Redis at least this often, changed or not. */
  fullResyncMs: number;
  /** Plan the whole fleet at least this often, whatever the events (readiness flips alone are written without a plan). */
  planEveryMs?: number;
  /** A change of call counts alone reaches a pool's status at most this often. */
  statusCountsIntervalMs: number;
  /** Writes of call counts alone, all pools together, per minute. */
  statusCountWritesPerMinute: number;
  /** The clock of status writes (tests run minutes of traffic in no time). */
  now?: () => number;
  /** Pod patches in flight at once. */
  patchConcurrency: number;
  /** First retry of one object whose API write failed (default 200 ms); doubles up to writeRetryMaxMs (30 s). */
  writeRetryBaseMs?: number;
  writeRetryMaxMs?: number;
}

export interface ReconcilerDeps {
  clients: KubeClients;
  informers: FleetInformers;
  store: RoutingStore;
  metrics: RouterMetrics;
  events: EventRecorder;
  logger: Logger;
  isLeader(): boolean;
  /** Asks for a reconcile after `delayMs` (an object waiting out a failed write, status counts held back). */
  requeue?(delayMs: number): void;
  /** The built-in autoscaler's last decision for a pool, shown in its status. */
  scalingOf?(pool: string): PoolObservation['scaling'];
  /** Pods busy before a loss of routing state, held out for a while. */
  grace?: LostStateGrace;
  /** Counts the pod patches and status writes the API server did not take. */
  writeFailures?: WriteFailureSink;
  /** Hears each pod patch of this replica: before it is sent, and the API server's answer. */
  podWrites?: PodWriteObserver;
  /** Told what each successful run covered: the whole fleet, or single pods' writes alone (see pod-lane.ts). */
  ran?(scope: 'fleet' | 'pod'): void;
}

interface ApiWriteJob {
  view: FleetView;
  /** Transitions that are a label change: told once the patch went through. */
  labelTransitions: PodTransition[];
}

/**
 * One reconcile of the whole namespace, level-based, in steps with a module
 * each: read and plan (fleet-view), make Redis match the plan (routing-sync,
 * which alone ends calls, through call-endings), then the API writes: pod
 * labels and call annotations (pod-metadata-writer) and the pools' status
 * (pool-status-writer). Running it again with nothing changed writes nothing.
 *
 * Redis is what allocations read, so a reconcile ends once Redis holds the
 * plan: the API writes run apart, one pass at a time on the latest plan, so
 * the next change (an eviction, a deletion, a drain annotation) reaches Redis
 * without waiting for any patch, status write or Event. Each object's write
 * fails alone and waits out its own backoff.
 *
 * A pod's news is first written for that pod alone by the pod lane
 * (pod-lane.ts), one small script beside the loop, not after a plan of the
 * whole fleet: its readiness, a drain, a deletion begun, the pod deleted.
 * A readiness flip plans nothing more unless the plan could move because of
 * it (see pod-lane-writes.ts). At 10,000 pods that is what keeps a change's
 * way to Redis short while a hundred pods a second change. Any other news,
 * a failed plan, a new term and every `planEveryMs` plan the whole fleet
 * again, and the pools' status catches up then.
 */
export class FleetReconciler {
  private readonly routing: RoutingSync;
  private readonly podMetadata: PodMetadataWriter;
  private readonly status: PoolStatusWriter;
  private readonly apiWrites: LatestJobRunner<ApiWriteJob>;
  private apiWriteFailures = 0;
  private readonly lane: PodLane;
  /** The last complete plan. */
  private lastView: FleetView | undefined;
  /** Something other than readiness flips happened since the last plan began (or a plan failed). */
  private planNeeded = true;
  private lastPlanMs = 0;
  private plansBegun = 0;
  private planning = false;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly options: ReconcilerOptions,
  ) {
    this.retryBaseMs = options.writeRetryBaseMs ?? 200;
    this.retryMaxMs = options.writeRetryMaxMs ?? 30_000;
    const retry = { retryBaseMs: this.retryBaseMs, retryMaxMs: this.retryMaxMs };
    const evidence = apiServerEvidence(deps.clients.core, options.namespace, () => deps.informers.watchesUp());
    this.routing = new RoutingSync(deps.store, deps.logger, deps.metrics, { fullResyncMs: options.fullResyncMs, grace: deps.grace }, evidence);
    this.podMetadata = new PodMetadataWriter(deps.clients, deps.events, deps.logger, { ...options, ...retry }, deps.writeFailures, deps.podWrites);
    this.status = new PoolStatusWriter(deps.clients, deps.store, deps.events, deps.logger, { ...options, ...retry, scalingOf: deps.scalingOf }, deps.writeFailures);
    this.apiWrites = new LatestJobRunner((job) => this.writeToApi(job));
    const plans: Plans = {
      settled: () => (!this.planNeeded && this.now() - this.lastPlanMs < (options.planEveryMs ?? Infinity) ? this.lastView : undefined),
      begun: () => this.plansBegun,
      inFlight: () => this.planning,
      planAgain: (why) => {
        deps.logger.debug('planning the fleet', { why });
        this.planNeeded = true;
        deps.requeue?.(0);
      },
    };
    this.lane = new PodLane({ store: deps.store, routing: this.routing, plans, podNow: (name) => this.podNow(name), ensureLeading: this.ensureLeading, logger: deps.logger, ran: deps.ran, drained: (t) => reportPodTransitions(deps, t) });
  }

  /** A pod whose readiness alone changed (see pod-change-filter.ts): it may be written without a plan. */
  readinessChanged(pod: string): void {
    this.lane.heard(pod);
  }

  /**
   * A pod changed in more than readiness, or was deleted (`deletedUid`): what
   * Redis can take at once is written for that pod alone, and the next run
   * plans the whole fleet.
   */
  podChanged(pod: string, deletedUid?: string): void {
    this.planNeeded = true;
    this.lane.heard(pod, deletedUid);
  }

  /** The next run plans the whole fleet: a pool or a pod changed in more than readiness, or a watch came back. */
  planAll(): void {
    this.planNeeded = true;
  }

  /** Forgets everything remembered: the next run rewrites Redis in full (a new term of leadership). */
  reset(): void {
    this.planNeeded = true;
    this.routing.reset();
    this.podMetadata.reset();
    this.status.reset();
    this.apiWriteFailures = 0;
    this.apiWrites.start();
    this.lane.start();
  }

  /** Stops the API writes and the pod lane: drops what has not started, waits for what is in flight. */
  async stop(): Promise<void> {
    await Promise.all([this.apiWrites.stop(), this.lane.stop()]);
  }

  /** Resolves once the API writes of the last reconcile and the pod lane's writes are done (for tests and shutdown). */
  async apiWritesSettled(): Promise<void> {
    await Promise.all([this.apiWrites.settled(), this.lane.settled()]);
  }

  private readonly ensureLeading = (): void => {
    if (!this.deps.isLeader()) throw new RunAbandoned('this replica no longer holds the lease');
  };

  async reconcile(): Promise<RunResult> {
    // Before the first complete list a missing pod is not a gone pod: reaping on a partial cache would end live calls.
    if (!this.deps.informers.synced()) throw new RunAbandoned('informer caches not synced yet');
    this.ensureLeading();
    // News arriving while this plan runs sets it again: the plan may have read the caches before it.
    this.planNeeded = false;
    this.planning = true;
    this.plansBegun++;
    try {
      return await this.planFleet();
    } catch (err) {
      this.planNeeded = true;
      throw err;
    } finally {
      this.planning = false;
      this.lane.planEnded();
    }
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private podNow(name: string): PodNow {
    const pod = this.deps.informers.pods.get(name, this.options.namespace);
    return pod && !isTerminated(pod) ? { name, facts: podFacts(pod), label: this.podMetadata.labelOf(pod) } : { name, facts: undefined, label: null };
  }

  private async planFleet(): Promise<RunResult> {
    const startedMs = this.now();
    const { informers, store, logger, namespace } = { ...this.deps, ...this.options };
    // The caches are read in this same turn of the event loop: every event heard so far is in this view.
    const view = await readFleetView({ informers, store, logger, namespace, labelOf: (pod) => this.podMetadata.labelOf(pod) });
    this.podMetadata.forgetGone(view.facts);
    this.status.forgetGone(view.poolObjects);

    reportEndedCalls(this.deps, await this.routing.sync(view, this.ensureLeading));

    const transitions = podTransitions(podsBefore(view), view.plan, new Map(view.pools.map((p) => [p.name, p])));
    // Drains and releases are already true in Redis; a label transition is told once its patch went through.
    reportPodTransitions(this.deps, transitions.filter((t) => !t.viaLabel));
    this.apiWrites.offer({ view, labelTransitions: transitions.filter((t) => t.viaLabel) });
    this.lastView = view;
    this.lastPlanMs = startedMs;
    this.deps.ran?.('fleet');
    return {};
  }

  private async writeToApi(job: ApiWriteJob): Promise<void> {
    try {
      const pods = await this.podMetadata.apply(job.view, this.ensureLeading);
      reportPodTransitions(this.deps, job.labelTransitions.filter((t) => pods.relabelled.has(t.pod)));
      const status = await this.status.write(job.view, this.ensureLeading);
      this.apiWriteFailures = 0;
      const due = [pods.retryAfterMs, status.requeueAfterMs].filter((ms): ms is number => ms !== undefined);
      if (due.length) this.deps.requeue?.(Math.min(...due));
    } catch (err) {
      if (err instanceof RunAbandoned) return;
      // Not one object's failure (those stay per object): Redis did not answer the status read, say.
      this.apiWriteFailures++;
      const delay = backoffDelay(this.apiWriteFailures, this.retryBaseMs, this.retryMaxMs);
      this.deps.logger.warn('API writes failed; retrying', { error: (err as Error).message, retry_in_ms: delay, failures: this.apiWriteFailures });
      this.deps.requeue?.(delay);
    }
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
