/**
 * The buffer must hold the calls that arrive while new pods start: between a
 * breach and the new pods taking calls, the pool has only the slots it had.
 * The lead is what arrives in that time, added to the calls the buffer is
 * kept above, so the workload grows ahead of a rise instead of behind it.
 */

/** A pool's busy slots at one autoscaler pass. */
export interface BusySample {
  atMs: number;
  busy: number;
}

/** A scale-up whose pods are not all serving yet: when it was patched and how many serving pods it means. */
export interface PendingGrowth {
  sinceMs: number;
  servingTarget: number;
}

/** Samples to keep for the rate: the window, and the one in force when it opened. */
export function keepBusySamples(samples: readonly BusySample[], next: BusySample, windowMs: number): BusySample[] {
  const all = [...samples, next];
  const start = next.atMs - windowMs;
  const inForce = all.reduce((last, s, i) => (s.atMs <= start ? i : last), -1);
  return all.filter((s, i) => s.atMs > start || i === inForce);
}

/**
 * How fast busy slots rose over the window, per second; never negative. The
 * rise is measured from the oldest sample kept to the newest and divided by
 * the whole window, so a short history or a single burst reads low rather
 * than high: the lead never doubles the fleet on one call.
 */
export function busyRisePerSecond(samples: readonly BusySample[], windowMs: number): number {
  if (windowMs <= 0 || samples.length < 2) return 0;
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  return Math.max(0, last.busy - first.busy) / (windowMs / 1000);
}

/** Slots to add for the calls that arrive while new pods start. */
export function leadSlots(risePerSecond: number, leadSeconds: number): number {
  if (risePerSecond <= 0 || leadSeconds <= 0) return 0;
  // The epsilon keeps a float product like 2.0000000001 from asking for a slot more.
  return Math.max(0, Math.ceil(risePerSecond * leadSeconds - 1e-9));
}

/**
 * Settles pending growths against the pods serving now: each one whose
 * target is reached gives one start-time sample (patch to serving); one the
 * workload can no longer reach (it was lowered since) is dropped.
 */
export function settleGrowths(pending: readonly PendingGrowth[], serving: number, replicas: number, nowMs: number): { pending: PendingGrowth[]; samplesMs: number[] } {
  const samplesMs: number[] = [];
  const still: PendingGrowth[] = [];
  for (const g of pending) {
    if (serving >= g.servingTarget) samplesMs.push(nowMs - g.sinceMs);
    else if (g.servingTarget <= replicas) still.push(g);
  }
  return { pending: still, samplesMs };
}

/** Start-time samples to keep: the newest few. */
export const START_SAMPLES = 5;

/**
 * The time to count on for new pods, from the newest samples: the longest of
 * them, since a pod that starts later than counted on means callers refused,
 * while one that starts sooner only means a free slot more for a while.
 */
export function podStartEstimateMs(samplesMs: readonly number[]): number {
  return samplesMs.length ? Math.max(...samplesMs.slice(-START_SAMPLES)) : 0;
}
