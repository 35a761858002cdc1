import type { RouterMetrics } from '../api/metrics.js';
import type { Logger } from '../core/logger.js';
import { membersOf } from '../lua/pool-membership.js';
import type { RoutingStore } from '../lua/routing-store.js';
import { endCallsOfPods, endReason, podsToEnd, type CallEnding } from './call-endings.js';
import type { FleetView } from './fleet-view.js';
import { recountPoolCounters } from './pool-recount.js';

export interface RoutingSyncOptions {
  /** Rewrite all routing state in Redis at least this often, changed or not. */
  fullResyncMs: number;
}

/**
 * Makes Redis hold what the plan says: every pool with its members and their
 * state, deleted pools removed, and the calls of gone pods ended (see
 * call-endings.ts). It talks only to Redis, so nothing the API server does
 * can slow it.
 *
 * What it remembers only saves work: a fingerprint of what each pool was
 * last written with, dropped when Redis shows a foreign change (a flush, a
 * rewrite) and at every full resync.
 */
export class RoutingSync {
  private fingerprints = new Map<string, string>();
  private routingVersion: string | undefined;
  private lastFullSyncMs = 0;

  constructor(
    private readonly store: RoutingStore,
    private readonly logger: Logger,
    private readonly metrics: RouterMetrics,
    private readonly options: RoutingSyncOptions,
  ) {}

  /** The next sync rewrites every pool. */
  reset(): void {
    this.fingerprints.clear();
    this.routingVersion = undefined;
  }

  /** Writes the plan to Redis; `beforeWrite` runs before each write and may abandon the sync. Returns the calls it ended. */
  async sync(view: FleetView, beforeWrite: () => void): Promise<CallEnding[]> {
    const { store, logger } = this;
    const { pools, poolObjects, plan, facts, routing } = view;
    const snapshot = await store.poolsSnapshot();
    const now = Date.now();
    // Drift shows as a pools version we did not leave, or a pool we wrote that Redis no longer has.
    const inRedis = new Set(snapshot.pools.map((p) => p.name));
    const lost = [...this.fingerprints.keys()].filter((pool) => !inRedis.has(pool));
    const drifted = (this.routingVersion !== undefined && snapshot.version !== this.routingVersion) || lost.length > 0;
    if (drifted) {
      logger.warn('routing state in Redis changed behind the operator (flushed or rewritten): rebuilding it', { expected_version: this.routingVersion, found_version: snapshot.version, pools_lost: lost });
    }
    const fullResync = drifted || this.routingVersion === undefined || now - this.lastFullSyncMs >= this.options.fullResyncMs;
    if (fullResync) {
      this.fingerprints.clear();
      this.lastFullSyncMs = now;
    }
    const ended: CallEnding[] = [];
    const members = new Set<string>();
    for (const pool of pools) {
      const list = membersOf(pool.name, plan, facts);
      for (const m of list) members.add(m.pod);
      const fingerprint = JSON.stringify([pool.spec, list]);
      if (this.fingerprints.get(pool.name) === fingerprint) continue;
      beforeWrite();
      for (const call of await store.syncPool(pool, list)) ended.push({ call, reason: endReason(call.pod, routing, facts) });
      this.fingerprints.set(pool.name, fingerprint);
    }
    for (const existing of snapshot.pools) {
      if (poolObjects.has(existing.name)) continue;
      beforeWrite();
      await store.deletePool(existing.name);
      this.fingerprints.delete(existing.name);
      logger.info('pool removed from routing', { pool: existing.name });
    }
    const endings = podsToEnd({ knownPods: await store.knownPods(), facts, routing, members });
    ended.push(...(await endCallsOfPods(store, endings, beforeWrite)));
    // The pool counters too are checked against an exact count, in batches, on every full resync.
    if (fullResync) {
      beforeWrite();
      await recountPoolCounters(store, pools.map((p) => p.name), this.metrics, logger);
    }
    this.routingVersion = await store.poolsVersion();
    return ended;
  }
}
