import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PoolStatus } from '../core/pool-types.js';
import { failureReason } from './kube-client.js';

/** What a failed write of one object was writing: a pod's metadata, a pool's status, an Event. */
export type ObjectWriteKind = 'pod' | 'pool_status' | 'event';

/** Where a writer reports an object it could not write. */
export interface WriteFailureSink {
  writeFailed(kind: ObjectWriteKind, err: unknown): void;
}

/** The pools as this replica's cache holds them, for the condition gauge. */
export type PoolStatusSource = () => Array<{ name: string; status: PoolStatus | undefined }>;

/** The operator's own metrics, on the router's registry so one /metrics shows both. */
export class OperatorMetrics implements WriteFailureSink {
  readonly kubeRequests: Counter<'verb' | 'resource'>;
  readonly reconciles: Counter<'result'>;
  readonly reconcileSeconds: Histogram;
  readonly lastReconcileSuccess: Gauge;
  readonly leader: Gauge;
  readonly fencedWrites: Counter;
  readonly writeFailures: Counter<'kind' | 'reason'>;
  readonly watchUp: Gauge<'resource'>;
  readonly podEvents: Counter<'news'>;
  readonly reconcileRuns: Counter<'scope'>;
  readonly evictionReviews: Counter<'result' | 'reason'>;
  readonly evictionsWithCalls: Counter<'reason'>;
  readonly evictionReviewSeconds: Histogram;
  readonly scaleDecisions: Counter<'pool' | 'direction' | 'reason'>;
  readonly wantedReplicas: Gauge<'pool'>;
  readonly workloadReplicas: Gauge<'pool'>;
  readonly retiredPods: Counter<'pool'>;
  readonly unexpectedRemovals: Counter<'pool'>;
  private poolStatuses: PoolStatusSource = () => [];

  constructor(registry: Registry) {
    this.kubeRequests = new Counter({
      name: 'smart_router_kube_requests_total',
      help: 'Requests this replica made to the Kubernetes API (lists, patches, status, events, lease; not watches), by verb and resource.',
      labelNames: ['verb', 'resource'] as const,
      registers: [registry],
    });
    this.reconciles = new Counter({
      name: 'smart_router_reconciles_total',
      help: 'Reconciles of the fleet by result: ok, error (retried with backoff), abandoned (leadership lost or caches not synced).',
      labelNames: ['result'] as const,
      registers: [registry],
    });
    this.podEvents = new Counter({
      name: 'smart_router_pod_events_total',
      help: "Pod watch events by what they mean to a reconcile: change (the fleet is planned again), readiness (only that pod's readiness is written), none (nothing a reconcile reads changed, such as the echo of the operator's own patch).",
      labelNames: ['news'] as const,
      registers: [registry],
    });
    this.reconcileRuns = new Counter({
      name: 'smart_router_reconcile_runs_total',
      help: "Successful reconciles by what they covered: fleet (every pod planned), pod (single pods' news written without a plan: readiness, drains, deletions).",
      labelNames: ['scope'] as const,
      registers: [registry],
    });
    this.reconcileSeconds = new Histogram({
      name: 'smart_router_reconcile_duration_seconds',
      help: 'Time one reconcile of the whole namespace takes.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.scaleDecisions = new Counter({
      name: 'smart_router_autoscaler_decisions_total',
      help: 'Decisions of the built-in autoscaler by pool, direction (up, down, none) and reason (BufferBreached, BufferExceeded, ScaleDownDelayed, ScaleDownBlocked, ...). Counted when the decision changes the workload or its reason changes.',
      labelNames: ['pool', 'direction', 'reason'] as const,
      registers: [registry],
    });
    this.wantedReplicas = new Gauge({
      name: 'smart_router_autoscaler_wanted_replicas',
      help: "Pods the pool's buffer of free slots asks for now, within min and max, before the scale-down delay (leader only).",
      labelNames: ['pool'] as const,
      registers: [registry],
    });
    this.workloadReplicas = new Gauge({
      name: 'smart_router_autoscaler_workload_replicas',
      help: "Replicas of the pool's workload as last read or set by the autoscaler (leader only).",
      labelNames: ['pool'] as const,
      registers: [registry],
    });
    this.retiredPods = new Counter({
      name: 'smart_router_autoscaler_retired_pods_total',
      help: 'Idle pods picked and marked for removal by scale-downs.',
      labelNames: ['pool'] as const,
      registers: [registry],
    });
    this.unexpectedRemovals = new Counter({
      name: 'smart_router_autoscaler_unexpected_removals_total',
      help: 'Pods the workload controller removed during a scale-down that were not the ones picked (each also told by a Warning Event).',
      labelNames: ['pool'] as const,
      registers: [registry],
    });
    this.lastReconcileSuccess = new Gauge({
      name: 'smart_router_reconcile_last_success_timestamp_seconds',
      help: 'Unix time of the last reconcile this replica finished without error (0 if it never led).',
      registers: [registry],
    });
    this.leader = new Gauge({
      name: 'smart_router_leader',
      help: '1 while this replica holds the Lease and reconciles.',
      registers: [registry],
    });
    this.fencedWrites = new Counter({
      name: 'smart_router_fenced_writes_total',
      help: 'Writes of this replica that Redis refused because a later leader term has begun there (a former leader that did not yet know it): each makes the replica stop leading.',
      registers: [registry],
    });
    this.writeFailures = new Counter({
      name: 'smart_router_operator_write_failures_total',
      help: "Writes of one object the API server did not take, by kind (pod: a pod's pool label, call annotations or retiring mark; pool_status: a VoiceAgentPool's status; event: an Event) and reason (the Status reason: Forbidden, Invalid, Conflict, TooManyRequests, InternalError, ...; Unreachable when no answer came). Pods and statuses are retried one by one with backoff; Events are not. A write to an object deleted meanwhile is not counted.",
      labelNames: ['kind', 'reason'] as const,
      registers: [registry],
    });
    this.watchUp = new Gauge({
      name: 'smart_router_informer_watch_up',
      help: '1 while the watch of this resource (pods, voiceagentpools) runs; 0 while it is down and restarting. While any is 0 the leader ends no call.',
      labelNames: ['resource'] as const,
      registers: [registry],
    });
    for (const resource of ['pods', 'voiceagentpools']) this.watchUp.set({ resource }, 0);
    this.evictionReviews = new Counter({
      name: 'smart_router_eviction_reviews_total',
      help: 'Evictions of pods the eviction guard answered, by result (allowed, denied, error) and reason (not-routed, idle, forced, deadline, calls-active).',
      labelNames: ['result', 'reason'] as const,
      registers: [registry],
    });
    this.evictionsWithCalls = new Counter({
      name: 'smart_router_evictions_with_calls_total',
      help: 'Evictions allowed while the pod still held calls, by reason: deadline (drain deadline or the calls\' max duration passed) or forced (annotation). Counts the calls cut.',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
    this.evictionReviewSeconds = new Histogram({
      name: 'smart_router_eviction_review_duration_seconds',
      help: 'Time the eviction guard takes to answer one admission review (dry runs included).',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    });
    const statuses = () => this.poolStatuses();
    new Gauge({
      name: 'smart_router_pool_condition',
      help: "A VoiceAgentPool's status conditions (Ready, Degraded) as this replica's cache sees them: 1 when True, 0 when False.",
      labelNames: ['pool', 'type', 'reason'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const { name, status } of statuses()) {
          for (const c of status?.conditions ?? []) this.set({ pool: name, type: c.type, reason: c.reason ?? '' }, c.status === 'True' ? 1 : 0);
        }
      },
    });
  }

  writeFailed(kind: ObjectWriteKind, err: unknown): void {
    this.writeFailures.inc({ kind, reason: failureReason(err) });
  }

  /** Where the pool condition gauge reads the pools from: the informer cache, filled on every replica. */
  readPoolStatusesFrom(source: PoolStatusSource): void {
    this.poolStatuses = source;
  }
}
