import type { Logger } from '../core/logger.js';
import type { RoutingStore } from '../lua/routing-store.js';
import type { FleetView } from './fleet-view.js';
import { LatestJobRunner } from './latest-job-runner.js';
import { planStands, readinessWrites } from './readiness-flips.js';
import type { PodNow } from './readiness-flips.js';
import { RunAbandoned } from './reconcile-loop.js';
import type { RoutingSync } from './routing-sync.js';

/** What the lane needs of the plans the reconciler makes. */
export interface Plans {
  /** The last complete plan, while nothing but readiness flips happened since (else undefined). */
  settled(): FleetView | undefined;
  /** Counts plans begun; with `inFlight`, tells whether one ran beside a write. */
  begun(): number;
  inFlight(): boolean;
  /** Asks for a plan of the whole fleet. */
  planAgain(why: string): void;
}

export interface ReadinessLaneDeps {
  store: RoutingStore;
  routing: Pick<RoutingSync, 'writtenPlacement' | 'wroteReady'>;
  plans: Plans;
  podNow(name: string): PodNow;
  ensureLeading(): void;
  logger: Logger;
  ran?(scope: 'readiness'): void;
}

/**
 * Writes readiness flips to Redis beside the reconcile loop, so a flip does
 * not wait for a plan of the whole fleet that happens to be running or due
 * (at 10,000 pods, hundreds of milliseconds). A flip of a pod Redis holds
 * under the same incarnation is written at once (see readiness-flips.ts);
 * one the last plan does not cover also asks for a plan.
 *
 * A plan that read the caches before a flip may write the old readiness
 * back after the lane wrote the new one. So pods written while a plan ran
 * are checked again once it ended: against what the plan wrote, the lane
 * writes them again where they differ from the caches.
 */
export class ReadinessLane {
  private readonly pending = new Set<string>();
  private readonly afterPlan = new Set<string>();
  private readonly runner = new LatestJobRunner<true>(() => this.drain());

  constructor(private readonly deps: ReadinessLaneDeps) {}

  flipped(pod: string): void {
    this.pending.add(pod);
    this.runner.offer(true);
  }

  /** A plan is about to read the caches: the flips heard so far are in it. */
  planStarted(): void {
    this.pending.clear();
  }

  /** A plan ended: the pods written while it ran are checked again. */
  planEnded(): void {
    if (!this.afterPlan.size) return;
    for (const pod of this.afterPlan) this.pending.add(pod);
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

  private async drain(): Promise<void> {
    const { plans, routing, logger } = this.deps;
    const names = [...this.pending];
    this.pending.clear();
    if (!names.length) return;
    const pods = names.map((n) => this.deps.podNow(n));
    const last = plans.settled();
    // Written at once either way; a flip the last plan does not cover also plans the fleet.
    const stands = planStands(last, pods);
    const writes = readinessWrites(pods, (pod) => routing.writtenPlacement(pod));
    if (!stands) plans.planAgain('a readiness flip the last plan does not cover');
    // A pod the running plan is rewriting (a full resync forgets what was written first) waits for it to end.
    if (plans.inFlight()) for (const p of pods) if (!writes.some((w) => w.pod === p.name)) this.afterPlan.add(p.name);
    if (!writes.length) return;
    const begun = plans.begun();
    const overlapped = plans.inFlight();
    let known: boolean[];
    try {
      this.deps.ensureLeading();
      known = await Promise.all(writes.map((w) => this.deps.store.setReady(w.pod, w.ready)));
    } catch (err) {
      if (err instanceof RunAbandoned) return; // no longer leading: the next leader plans
      logger.warn('readiness write failed; planning the fleet instead', { error: (err as Error).message, pods: writes.map((w) => w.pod).slice(0, 10) });
      return plans.planAgain('a readiness write failed');
    }
    writes.forEach((w, i) => {
      if (!known[i]) return;
      routing.wroteReady(w.pod, w.ready);
      // What the plan knows of the pod is brought up to date for the next flip.
      if (stands) last!.facts.set(w.pod, w.facts);
      logger.info(w.ready ? 'pod ready' : 'pod not ready', { pod: w.pod, pool: last?.plan.placements.get(w.pod)?.pool });
    });
    // Redis no longer holds a pod this replica placed (flushed, say).
    if (known.includes(false)) return plans.planAgain('Redis does not hold a pod the last plan placed');
    this.deps.ran?.('readiness');
    if (overlapped || plans.inFlight() || plans.begun() !== begun) {
      for (const w of writes) (plans.inFlight() ? this.afterPlan : this.pending).add(w.pod);
      if (!plans.inFlight()) this.runner.offer(true);
    }
  }
}
