import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Logger } from '../core/logger.js';
import { POOL_API_GROUP, POOL_API_VERSION, POOL_PLURAL, type PoolStatus } from '../core/pool-types.js';
import type { RoutingStore } from '../lua/routing-store.js';
import type { EventRecorder } from './events.js';
import type { FleetView } from './fleet-view.js';
import type { VoiceAgentPoolObject } from './informers.js';
import { statusCode, type KubeClients } from './kube-client.js';
import { ObjectBackoff } from './object-backoff.js';
import type { WriteFailureSink } from './operator-metrics.js';
import { degradedTransition, desiredPoolStatus, statusWrite, type PoolObservation } from './pool-status.js';
import { StatusWriteBudget } from './status-write-budget.js';
import { WrittenMemory } from './written-memory.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface PoolStatusOptions {
  namespace: string;
  /** A change of call counts alone reaches a pool's status at most this often. */
  statusCountsIntervalMs: number;
  /** Writes of call counts alone, all pools together, per minute. */
  statusCountWritesPerMinute: number;
  /** The clock (tests run minutes of traffic in no time). */
  now?: () => number;
  /** The built-in autoscaler's last decision for a pool with spec.autoscaling. */
  scalingOf?(pool: string): PoolObservation['scaling'];
  /** First retry of a pool whose status write failed; doubles per failure up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
}

/**
 * Writes each pool's status (counts from Redis, conditions from the plan)
 * when it changed; call counts alone at most every statusCountsIntervalMs per
 * pool and statusCountWritesPerMinute for all pools together, so the write
 * rate is bounded whatever the call rate and the number of pools. Tells Degraded/Recovered transitions with an Event. Each pool stands
 * alone: one whose write fails waits out its own backoff, the others are
 * written as usual. Remembers what it wrote until the informer cache
 * catches up.
 */
export class PoolStatusWriter {
  private written = new WrittenMemory<PoolStatus>();
  private writtenAt = new Map<string, number>();
  private readonly backoff: ObjectBackoff;
  private readonly budget: StatusWriteBudget;
  private readonly now: () => number;

  constructor(
    private readonly clients: KubeClients,
    private readonly store: RoutingStore,
    private readonly events: EventRecorder,
    private readonly logger: Logger,
    private readonly options: PoolStatusOptions,
    private readonly failures?: WriteFailureSink,
  ) {
    this.backoff = new ObjectBackoff(options.retryBaseMs, options.retryMaxMs);
    this.budget = new StatusWriteBudget(options.statusCountWritesPerMinute);
    this.now = options.now ?? Date.now;
  }

  reset(): void {
    this.written.clear();
    this.writtenAt.clear();
    this.backoff.clear();
    this.budget.clear();
  }

  forgetGone(pools: ReadonlyMap<string, unknown>): void {
    this.written.forget((name) => pools.has(name));
    for (const name of this.writtenAt.keys()) if (!pools.has(name)) this.writtenAt.delete(name);
    this.backoff.forget((name) => pools.has(name));
  }

  private statusOf(obj: VoiceAgentPoolObject): PoolStatus | undefined {
    return this.written.recall(obj.metadata!.name!, obj.metadata?.resourceVersion) ?? obj.status;
  }

  /** Writes what changed; returns when counts held back, or pools waiting out a failure, are due. */
  async write(view: FleetView, beforeWrite: () => void): Promise<{ requeueAfterMs?: number }> {
    const { pools, poolObjects, plan, facts } = view;
    const counts = await this.store.status();
    const now = this.now();
    let requeueAfterMs: number | undefined;
    const later = (wait: number) => (requeueAfterMs = Math.min(requeueAfterMs ?? wait, wait));
    const due: { pool: string; obj: VoiceAgentPoolObject; previous: PoolStatus | undefined; next: PoolStatus; decision: 'now' | 'counts' }[] = [];
    for (const pool of pools) {
      const obj = poolObjects.get(pool.name)!;
      const poolPlan = plan.pools.get(pool.name);
      const servingReady = (poolPlan?.serving ?? []).filter((p) => facts.get(p)?.ready).length;
      const previous = this.statusOf(obj);
      const scaling = pool.spec.autoscaling ? this.options.scalingOf?.(pool.name) : undefined;
      const next = desiredPoolStatus({ pool: pool.name, generation: obj.metadata?.generation ?? 0, plan: poolPlan, counts: counts.pools[pool.name], servingReady, scaling }, previous, new Date(now).toISOString());
      const lastWrite = this.writtenAt.get(pool.name);
      const decision = statusWrite(previous, next, lastWrite, now, this.options.statusCountsIntervalMs);
      if (decision === 'none') continue;
      if (decision === 'later') later(Math.max(1, (lastWrite ?? now) + this.options.statusCountsIntervalMs - now));
      else due.push({ pool: pool.name, obj, previous, next, decision });
    }
    // Real changes first; call counts alone by the budget, the pool whose status is oldest first, so every pool gets its turn.
    const age = (pool: string) => this.writtenAt.get(pool) ?? Number.MIN_SAFE_INTEGER;
    due.sort((a, b) => (a.decision === b.decision ? (a.decision === 'counts' ? age(a.pool) - age(b.pool) : 0) : a.decision === 'now' ? -1 : 1));
    for (const { pool: name, obj, previous, next, decision } of due) {
      const version = `${obj.metadata?.resourceVersion}`;
      if (!this.backoff.due(name, version, now)) continue;
      if (decision === 'counts' && !this.budget.take(now)) {
        later(Math.max(1, this.budget.nextInMs(now)));
        continue;
      }
      beforeWrite();
      let writtenAs: string | undefined;
      try {
        const written = await this.clients.custom.patchNamespacedCustomObjectStatus(
          { group: POOL_API_GROUP, version: POOL_API_VERSION, namespace: this.options.namespace, plural: POOL_PLURAL, name, body: { status: { ...next, ...(previous?.autoscaling && !next.autoscaling ? { autoscaling: null } : {}) } } },
          mergePatch,
        );
        writtenAs = (written as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion;
      } catch (err) {
        if (statusCode(err) === 404) continue; // deleted meanwhile
        this.failures?.writeFailed('pool_status', err);
        const { delayMs, failures } = this.backoff.failed(name, version, this.now());
        this.logger.warn('pool status write failed; retrying this pool alone', { pool: name, error: (err as Error).message, status: statusCode(err), retry_in_ms: delayMs, failures });
        continue;
      }
      this.backoff.succeeded(name);
      this.written.remember(name, next, obj.metadata?.resourceVersion, writtenAs);
      this.writtenAt.set(name, now);
      const transition = degradedTransition(previous, next);
      if (transition) {
        const degraded = next.conditions!.find((c) => c.type === 'Degraded')!;
        this.logger.info(transition === 'Degraded' ? 'pool degraded' : 'pool recovered', { pool: name, why: degraded.message });
        void this.events.record({ kind: 'VoiceAgentPool', name, uid: obj.metadata?.uid }, transition === 'Degraded' ? 'Warning' : 'Normal', transition, degraded.message ?? '');
      }
    }
    const retry = this.backoff.nextDueInMs(this.now());
    if (retry !== undefined) requeueAfterMs = Math.min(requeueAfterMs ?? retry, retry);
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }
}
