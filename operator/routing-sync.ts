import type { RouterMetrics } from '../api/metrics.js';
import type { Logger } from '../core/logger.js';
import { membersOf } from '../lua/pool-membership.js';
import { MEMBERSHIP_BATCH, type EndedCall, type PodPlacement, type PoolMember, type RoutingStore } from '../lua/routing-store.js';
import { confirmEndings, confirmIncarnations, endCallsOfPods, endReason, podsToEnd, recordedIncarnations, uidOf, type CallEnding, type EndingEvidence } from './call-endings.js';
import type { FleetView } from './fleet-view.js';
import { recountPoolCounters } from './pool-recount.js';
import { routingDelta } from './routing-delta.js';
import type { LostStateGrace } from '../core/lost-state-grace.js';
import type { PodFacts } from '../core/pool-types.js';

/** A placement always built alike (one object shape): a plan compares 10,000 of them with what was written. */
const placed = (m: PoolMember, pool: string): PodPlacement => ({ pod: m.pod, pool, ready: m.ready, draining: m.draining, incarnation: m.incarnation });

/** Held pods are written as draining: they keep serving the calls they may still stream, and take none. */
function holdOut(facts: Map<string, PodFacts>, held: ReadonlySet<string>): Map<string, PodFacts> {
  if (!held.size) return facts;
  const out = new Map(facts);
  for (const pod of held) {
    const f = out.get(pod);
    if (f) out.set(pod, { ...f, drainRequested: true });
  }
  return out;
}

export interface RoutingSyncOptions {
  /** Rewrite all routing state in Redis at least this often, changed or not. */
  fullResyncMs: number;
  /** Pods busy before a loss of the routing state, held out of allocation for a while (see core/lost-state-grace.ts). */
  grace?: LostStateGrace;
}

/**
 * Makes Redis hold what the plan says: every pool with its members and their
 * state, deleted pools removed, and the calls of gone pods ended (see
 * call-endings.ts). It talks only to Redis, so nothing the API server does
 * can slow it.
 *
 * Work is in proportion to what changed. A pool whose spec changed (or that
 * Redis lacks) is written whole, in bounded batches; otherwise only the pods
 * whose placement changed since it was last written go to Redis (a
 * readiness flip in a 10,000-pod pool is one small script over that pod).
 * What it remembers (each pool's spec and each pod's placement as last
 * written) only saves work: it is dropped when Redis shows a foreign change
 * (a flush, a rewrite, a pool missing) and at every full resync, which
 * rewrites everything and recounts the pool counters.
 */
export class RoutingSync {
  private writtenSpecs = new Map<string, string>();
  private writtenPods = new Map<string, PodPlacement>();
  /**
   * Tombstones: pods taken out of their pool because the watch told the
   * deletion of that very life (UID). No plan places that life again, not
   * even one that read the caches before the deletion; each is dropped once
   * neither the cache nor routing shows that UID.
   */
  private readonly deletedLives = new Map<string, string>();
  private routingVersion: string | undefined;
  private lastFullSyncMs = 0;

  constructor(
    private readonly store: RoutingStore,
    private readonly logger: Logger,
    private readonly metrics: RouterMetrics,
    private readonly options: RoutingSyncOptions,
    private readonly evidence: EndingEvidence,
  ) {}

  /** A pod's placement as this replica last wrote it to Redis (undefined: not known to have written it). */
  writtenPlacement(pod: string): PodPlacement | undefined {
    return this.writtenPods.get(pod);
  }

  /** A pod written to Redis outside a sync (see pod-lane.ts). */
  wrotePlacement(pod: string, placement: PodPlacement): void {
    this.writtenPods.set(pod, placed(placement, placement.pool));
  }

  /** A pod taken out of its pool outside a sync because the watch told this life (UID) deleted. */
  leftDeleted(pod: string, uid: string): void {
    this.writtenPods.delete(pod);
    this.deletedLives.set(pod, uid);
  }

  /** The next sync rewrites every pool. */
  reset(): void {
    this.forget();
    this.deletedLives.clear();
    this.routingVersion = undefined;
  }

  private forget(): void {
    this.writtenSpecs.clear();
    this.writtenPods.clear();
  }

  /** Writes the plan to Redis; `beforeWrite` runs before each write and may abandon the sync. Returns the calls it ended. */
  async sync(view: FleetView, beforeWrite: () => void): Promise<CallEnding[]> {
    const { store, logger } = this;
    const { pools, poolObjects, plan, routing } = view;
    // Until the API server confirms a later incarnation (below), routing keeps the one it recorded:
    // the cache alone never ends a call, and no other pod's write waits for those reads.
    const provisional = recordedIncarnations(view.facts, routing);
    const snapshot = await store.poolsSnapshot();
    const now = Date.now();
    // Drift shows as a pools version we did not leave, or a pool we wrote that Redis no longer has.
    const inRedis = new Set(snapshot.pools.map((p) => p.name));
    const lost = [...this.writtenSpecs.keys()].filter((pool) => !inRedis.has(pool));
    const drifted = (this.routingVersion !== undefined && snapshot.version !== this.routingVersion) || lost.length > 0;
    if (drifted) {
      logger.warn('routing state in Redis changed behind the operator (flushed or rewritten): rebuilding it', { expected_version: this.routingVersion, found_version: snapshot.version, pools_lost: lost });
    }
    const grace = this.options.grace;
    // The pools version gone after we wrote one: Redis lost its state (the state check usually tells first).
    if (grace && this.routingVersion !== undefined && snapshot.version === '0') grace.stateLost(now);
    grace?.remember(new Map([...routing].map(([pod, r]) => [pod, r.calls])));
    const held = grace?.heldPods(now) ?? new Set<string>();
    const facts = holdOut(provisional, held);
    const fullResync = drifted || this.routingVersion === undefined || now - this.lastFullSyncMs >= this.options.fullResyncMs;
    if (fullResync) {
      this.forget();
      this.lastFullSyncMs = now;
    }
    const ended: CallEnding[] = [];
    const endedBy = (calls: EndedCall[], judgedBy: ReadonlyMap<string, PodFacts> = facts) => {
      for (const call of calls) ended.push({ call, reason: endReason(call.pod, routing, judgedBy) });
    };
    for (const [pod, uid] of this.deletedLives) {
      if (uidOf(view.facts.get(pod)?.incarnation ?? '') !== uid && uidOf(routing.get(pod)?.incarnation ?? '') !== uid) this.deletedLives.delete(pod);
    }
    const alive = (m: PoolMember) => this.deletedLives.get(m.pod) !== uidOf(m.incarnation);
    // Every planned pod (a deleted life among them: its later life, once confirmed, is placed below),
    // and what Redis is to hold: the same but the deleted lives.
    const planned = new Map<string, PodPlacement>();
    const lists = new Map<string, PoolMember[]>();
    for (const pool of pools) {
      const list = membersOf(pool.name, plan, facts);
      for (const m of list) planned.set(m.pod, placed(m, pool.name));
      lists.set(pool.name, this.deletedLives.size ? list.filter(alive) : list);
    }
    const desired = this.deletedLives.size ? new Map([...planned].filter(([, p]) => alive(p))) : planned;

    // Pool-level changes: the pool is written whole (settings, then members in batches).
    for (const pool of pools) {
      const spec = JSON.stringify(pool.spec);
      if (this.writtenSpecs.get(pool.name) === spec) continue;
      beforeWrite();
      const list = lists.get(pool.name)!;
      endedBy(await store.syncPool(pool, list));
      this.writtenSpecs.set(pool.name, spec);
      // The whole write placed its members and shed every other pod it held.
      for (const [pod, was] of this.writtenPods) if (was.pool === pool.name) this.writtenPods.delete(pod);
      for (const m of list) this.writtenPods.set(m.pod, placed(m, pool.name));
    }

    // Pod-level changes: only the pods whose placement changed.
    const delta = routingDelta(desired, this.writtenPods);
    await this.placeInBatches(delta.place, beforeWrite, (calls) => endedBy(calls));
    for (const [pool, pods] of delta.leave) {
      beforeWrite();
      await store.leavePool(pool, pods);
      for (const pod of pods) this.writtenPods.delete(pod);
    }

    for (const existing of snapshot.pools) {
      if (poolObjects.has(existing.name)) continue;
      beforeWrite();
      await store.deletePool(existing.name);
      this.writtenSpecs.delete(existing.name);
      for (const [pod, was] of this.writtenPods) if (was.pool === existing.name) this.writtenPods.delete(pod);
      logger.info('pool removed from routing', { pool: existing.name });
    }
    // Pods the cache shows in another life than routing recorded: the API server decides, and a later
    // incarnation it confirms is written now (place-pods ends the calls of the earlier one).
    const confirmed = holdOut(await confirmIncarnations(view.facts, routing, this.evidence, logger), held);
    const reborn: PodPlacement[] = [];
    for (const [pod, want] of planned) {
      const incarnation = confirmed.get(pod)?.incarnation;
      if (incarnation !== undefined && incarnation !== want.incarnation) reborn.push(placed({ ...want, incarnation }, want.pool));
    }
    await this.placeInBatches(reborn, beforeWrite, (calls) => endedBy(calls, confirmed));

    const candidates = podsToEnd({ knownPods: await store.knownPods(), facts: confirmed, routing, members: new Set([...desired.keys(), ...reborn.map((p) => p.pod)]) });
    const endings = await confirmEndings(candidates, store, this.evidence, logger);
    ended.push(...(await endCallsOfPods(store, endings, beforeWrite)));
    // The pool counters too are checked against an exact count, in batches, on every full resync.
    if (fullResync) {
      beforeWrite();
      await recountPoolCounters(store, pools.map((p) => p.name), this.metrics, logger);
    }
    this.routingVersion = await store.poolsVersion();
    return ended;
  }

  /** Places pods in batches and remembers them; a pod whose pool Redis lost makes the next run rewrite everything. */
  private async placeInBatches(pods: readonly PodPlacement[], beforeWrite: () => void, ended: (calls: EndedCall[]) => void): Promise<void> {
    for (let i = 0; i < pods.length; i += MEMBERSHIP_BATCH) {
      const batch = pods.slice(i, i + MEMBERSHIP_BATCH);
      beforeWrite();
      const placed = await this.store.placePods(batch);
      ended(placed.ended);
      const skipped = new Set(placed.skipped);
      for (const p of batch) if (!skipped.has(p.pod)) this.writtenPods.set(p.pod, p);
      if (skipped.size) {
        this.logger.warn('routing state in Redis lacks a pool the operator wrote: rebuilding it on the next run', { pods_skipped: [...skipped].slice(0, 10) });
        this.writtenSpecs.clear();
      }
    }
  }
}
