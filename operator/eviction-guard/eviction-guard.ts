import type { Logger } from '../../core/logger.js';
import { DRAIN_ANNOTATION, DRAIN_STARTED_ANNOTATION } from '../../core/pool-types.js';
import type { RoutingStore } from '../../lua/routing-store.js';
import type { EventTarget } from '../events.js';
import type { OperatorMetrics } from '../operator-metrics.js';
import type { AdmissionAnswer, EvictionRequest } from './admission-review.js';
import { decideEviction, type EvictionDecision } from './eviction-decision.js';

/** The pod as the informer cache holds it: its annotations and uid. */
export interface CachedPod {
  uid?: string;
  annotations: Record<string, string>;
}

export interface DrainMarker {
  /**
   * Makes the drain last: sets the drain annotation and, unless the pod has
   * one already, the drain start. Returns the start the pod carries (an
   * earlier attempt's, answered by another replica, wins); null when the pod is gone.
   */
  markDraining(pod: string, startedAt: Date): Promise<Date | null>;
}

export interface EvictionGuardDeps {
  store: RoutingStore;
  namespace: string;
  pod(name: string): CachedPod | undefined;
  marker: DrainMarker;
  events: { record(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> };
  metrics: OperatorMetrics;
  logger: Logger;
  now?: () => number;
}

export function parseDrainStart(raw: string | undefined): number | null {
  if (!raw) return null;
  const ms = Date.parse(raw);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * Answers evictions of the namespace's pods from Redis (routing) and the pod
 * cache (annotations). The first attempt on a routed pod drains it in Redis
 * before the answer, so no call lands on it from then on, and annotates it so
 * the drain outlives the attempt. Dry runs are answered the same and change nothing.
 */
export class EvictionGuard {
  private readonly now: () => number;

  constructor(private readonly deps: EvictionGuardDeps) {
    this.now = deps.now ?? Date.now;
  }

  async review(request: EvictionRequest): Promise<AdmissionAnswer> {
    const { deps } = this;
    if (request.namespace !== deps.namespace) return { allowed: true };
    const started = process.hrtime.bigint();
    const state = await deps.store.podEvictionState(request.pod);
    const cached = deps.pod(request.pod);
    const annotations = cached?.annotations ?? {};
    const facts = {
      pod: request.pod,
      routing: state && { pool: state.pool, calls: state.calls, callsExpireMs: state.callsExpireMs },
      poolMaxDrainSeconds: state?.poolSpec?.drain?.maxDrainSeconds,
      annotations,
      // The start counts while the pod is drained by annotation: an undrain ends that drain.
      drainStartedMs: annotations[DRAIN_ANNOTATION] === 'true' ? parseDrainStart(annotations[DRAIN_STARTED_ANNOTATION]) : null,
      nowMs: this.now(),
    };
    let decision = decideEviction(facts);
    const log = deps.logger.child({ pod: request.pod, pool: state?.pool || undefined });
    if (decision.drain && !request.dryRun) {
      // Retries of a held eviction find the pod drained already: one read, no write.
      if (!state?.draining) await deps.store.setDraining(request.pod, true);
      if (facts.drainStartedMs === null) {
        const first = await this.markDraining(request.pod, new Date(facts.nowMs), log);
        if (first !== null && first.getTime() !== facts.nowMs) decision = decideEviction({ ...facts, drainStartedMs: first.getTime() });
        if (first !== null && first.getTime() === facts.nowMs && !decision.allowed) {
          void deps.events.record({ kind: 'Pod', name: request.pod, uid: cached?.uid }, 'Normal', 'EvictionHeld', decision.message);
        }
      }
      if (decision.allowed && decision.calls > 0) this.reportCallsCut(request.pod, cached?.uid, decision, log);
    }
    deps.metrics.evictionReviews.inc({ result: decision.allowed ? 'allowed' : 'denied', reason: decision.reason });
    deps.metrics.evictionReviewSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    log.info('eviction reviewed', { allowed: decision.allowed, reason: decision.reason, calls: decision.calls, dry_run: request.dryRun, ...(decision.problems.length ? { problems: decision.problems } : {}) });
    if (decision.allowed) return { allowed: true, warnings: decision.calls > 0 ? [decision.message] : undefined };
    return { allowed: false, code: 429, message: decision.message };
  }

  private async markDraining(pod: string, at: Date, log: Logger): Promise<Date | null> {
    try {
      return await this.deps.marker.markDraining(pod, at);
    } catch (err) {
      // Redis already drains the pod; the annotation only makes that outlast a reconcile. Next attempt retries it.
      log.warn('could not annotate the drain', { error: (err as Error).message });
      return at;
    }
  }

  private reportCallsCut(pod: string, uid: string | undefined, decision: EvictionDecision, log: Logger): void {
    this.deps.metrics.evictionsWithCalls.inc({ reason: decision.reason }, decision.calls);
    log.warn('eviction allowed with calls', { reason: decision.reason, calls: decision.calls });
    void this.deps.events.record({ kind: 'Pod', name: pod, uid }, 'Warning', 'EvictedWithCalls', decision.message);
  }
}
