import type { Logger } from '../core/logger.js';
import type { PodPlacement, RoutingStore } from '../lua/routing-store.js';
import type { FleetView } from './fleet-view.js';
import { LatestJobRunner } from './latest-job-runner.js';
import { laneWrites, planStands, type LaneWrite, type PodNow } from './pod-lane-writes.js';
import { drainingTransition, type PodTransition } from './pod-transitions.js';
import { RunAbandoned } from './reconcile-loop.js';

/** What the lane needs of the plans the reconciler makes. */
export interface Plans {
  /** The last complete plan, while nothing but readiness flips happened since (else undefined). */
  settled(): FleetView | undefined;
  /** Counts plans begun; with `inFlight`, tells whether the plan running read the caches before an event. */
  begun(): number;
  inFlight(): boolean;
  /** Asks for a plan of the whole fleet. */
  planAgain(why: string): void;
}

export interface PodLaneDeps {
  store: Pick<RoutingStore, 'setReady' | 'setDraining' | 'leavePool'>;
  routing: {
    writtenPlacement(pod: string): PodPlacement | undefined;
    /** A pod's placement as the lane wrote it. */
    wrotePlacement(pod: string, placement: PodPlacement): void;
    /** A pod the lane took out of its pool because the watch told this life (UID) deleted. */
    leftDeleted(pod: string, uid: string): void;
  };
  plans: Plans;
  podNow(name: string): PodNow;
  ensureLeading(): void;
  logger: Logger;
  ran?(scope: 'pod'): void;
  /** Told each pod the lane drained that Redis did not hold draining yet (a plan then finds it drained: it reports nothing). */
  drained?(transitions: PodTransition[]): void;
}

/** What Redis answered a lane write. */
interface WriteAnswer {
  known: boolean;
  newlyDrained?: boolean;
  calls?: number;
}

/** A pod event waiting for the lane. */
interface Heard {
  /** Plans begun when the event was heard: a plan of that number still running read the caches before it. */
  plansBefore: number;
  deletedUid?: string;
}

/**
 * Writes one pod's news to Redis beside the reconcile loop, so it does not
 * wait for a plan of the whole fleet that happens to be running or due (at
 * 10,000 pods, hundreds of milliseconds): a readiness flip, a drain, a
 * deletion begun, or the deletion of the pod Redis holds (see
 * pod-lane-writes.ts for which, and why none of them ends a call). A flip
 * the last plan does not cover, and every other write, also asks for a plan,
 * which does the rest: backfilling, labels, ending calls on evidence.
 *
 * A plan that read the caches before an event may write the old state back
 * after the lane wrote the new one. So a pod whose event such a plan may not
 * have seen is checked again once that plan ended, and written again where
 * Redis differs from the caches. Only that plan: one that began after the
 * event read it, and what it writes is a plan's decision.
 */
export class PodLane {
  private readonly pending = new Map<string, Heard>();
  private readonly afterPlan = new Map<string, Heard>();
  // The runner's work must not throw: a lane that failed would take no event again. A plan does what it missed.
  private readonly runner = new LatestJobRunner<true>(() =>
    this.drain().catch((err: Error) => {
      this.deps.logger.error('pod lane failed; planning the fleet instead', { error: err.message });
      this.deps.plans.planAgain('the pod lane failed');
    }),
  );

  constructor(private readonly deps: PodLaneDeps) {}

  /** A pod's watch event that changed something a reconcile reads; `deletedUid` for a deletion. */
  heard(pod: string, deletedUid?: string): void {
    const before = this.pending.get(pod)?.deletedUid;
    this.pending.set(pod, { plansBefore: this.deps.plans.begun(), deletedUid: deletedUid ?? before });
    this.runner.offer(true);
  }

  /** A plan ended: the pods it may have written back are checked again. */
  planEnded(): void {
    if (!this.afterPlan.size) return;
    for (const [pod, heard] of this.afterPlan) this.pending.set(pod, heard);
    this.afterPlan.clear();
    this.runner.offer(true);
  }

  start(): void {
    this.pending.clear();
    this.afterPlan.clear();
    this.runner.start();
  }

  async stop(): Promise<void> {
    await this.runner.stop();
  }

  async settled(): Promise<void> {
    await this.runner.settled();
  }

  /** The plan running now read the caches before this event. */
  private staleRunning(heard: Heard): boolean {
    return this.deps.plans.inFlight() && this.deps.plans.begun() === heard.plansBefore;
  }

  private async drain(): Promise<void> {
    const { plans, routing, logger } = this.deps;
    const heard = new Map(this.pending);
    this.pending.clear();
    if (!heard.size) return;
    const pods = [...heard].map(([name, h]) => ({ ...this.deps.podNow(name), deletedUid: h.deletedUid }));
    const last = plans.settled();
    const writes = laneWrites(pods, (pod) => routing.writtenPlacement(pod));
    const stands = planStands(last, pods);
    if (!stands) plans.planAgain(writes.some((w) => w.kind !== 'ready') ? 'a pod left service' : 'a pod changed in more than readiness, or the last plan does not cover it');
    // A pod with nothing to write (a full resync running may have forgotten what was written) waits for the stale plan to end.
    for (const [pod, h] of heard) if (!writes.some((w) => w.pod === pod) && this.staleRunning(h)) this.afterPlan.set(pod, h);
    if (!writes.length) return;
    const overlapped = writes.filter((w) => this.staleRunning(heard.get(w.pod)!)).map((w) => w.pod);
    let answers: WriteAnswer[];
    try {
      this.deps.ensureLeading();
      answers = await Promise.all(writes.map((w) => this.write(w)));
    } catch (err) {
      if (err instanceof RunAbandoned) return; // no longer leading: the next leader plans
      logger.warn('pod write failed; planning the fleet instead', { error: (err as Error).message, pods: writes.map((w) => w.pod).slice(0, 10) });
      return plans.planAgain('a pod write failed');
    }
    const known = answers.map((a) => a.known);
    const drained: PodTransition[] = [];
    writes.forEach((w, i) => {
      if (!known[i]) return;
      const answer = answers[i]!;
      if (w.kind === 'drain' && answer.newlyDrained) drained.push(drainingTransition(w.pod, w.uid, w.pool, w.cause, answer.calls ?? 0));
      const was = routing.writtenPlacement(w.pod);
      if (w.kind === 'leave') routing.leftDeleted(w.pod, w.uid);
      else if (was) routing.wrotePlacement(w.pod, { ...was, ...(w.kind === 'ready' ? { ready: w.ready } : { draining: true }) });
      // What the plan knows of the pod is brought up to date for the next flip.
      if (w.kind === 'ready' && stands) last!.facts.set(w.pod, w.facts);
      logWrite(logger, w, last);
    });
    if (drained.length) this.deps.drained?.(drained);
    // Redis no longer holds a pod this replica placed (flushed, say).
    if (known.includes(false)) return plans.planAgain('Redis does not hold a pod the last plan placed');
    this.deps.ran?.('pod');
    const again = new Set([...overlapped, ...writes.filter((w) => this.staleRunning(heard.get(w.pod)!)).map((w) => w.pod)]);
    for (const pod of again) (plans.inFlight() ? this.afterPlan : this.pending).set(pod, heard.get(pod)!);
    if (again.size && !plans.inFlight()) this.runner.offer(true);
  }

  /** One write; not known where Redis does not hold the pod as this replica placed it. */
  private async write(w: LaneWrite): Promise<WriteAnswer> {
    const { store } = this.deps;
    if (w.kind === 'ready') return { known: await store.setReady(w.pod, w.ready) };
    if (w.kind === 'drain') {
      const state = await store.setDraining(w.pod, true);
      // Draining in Redis already (the eviction guard holds its eviction, the drain API): as for a plan, nothing new to tell.
      return { known: state !== null, newlyDrained: state !== null && !state.wasDraining, calls: state?.calls ?? 0 };
    }
    return { known: (await store.leavePool(w.pool, [w.pod])) > 0 };
  }
}

function logWrite(logger: Logger, w: LaneWrite, last: FleetView | undefined): void {
  if (w.kind === 'ready') logger.info(w.ready ? 'pod ready' : 'pod not ready', { pod: w.pod, pool: last?.plan.placements.get(w.pod)?.pool });
  else if (w.kind === 'drain') logger.info('pod drained: it takes no new call', { pod: w.pod, pool: w.pool });
  else logger.info('pod deleted: out of its pool, its calls kept until the API server confirms it gone', { pod: w.pod, pool: w.pool });
}
