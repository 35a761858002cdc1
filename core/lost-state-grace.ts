/**
 * What happens to calls in flight when Redis loses the routing state (a
 * flush, a restart without AOF): their records are gone, but their agents
 * may still be streaming. A pod that held calls just before the loss would
 * look idle once routing is rebuilt and get more calls than it can take (a
 * second call on an exclusive pod). So the pods known busy at the last read
 * before the loss are held out of allocation (written as draining) for a
 * grace period, long enough for most calls in flight to end; then they serve
 * again. Calls allocated after the last read are not known: the read is
 * refreshed every reconcile (RESYNC_SECONDS), which bounds that window.
 * Pure: the caller passes the clock.
 */
export class LostStateGrace {
  private busy = new Set<string>();
  private hold: { pods: Set<string>; untilMs: number } | undefined;

  constructor(readonly graceMs: number) {}

  /** The pods holding calls as just read from Redis. */
  remember(callsByPod: ReadonlyMap<string, number>): void {
    this.busy = new Set([...callsByPod].filter(([, calls]) => calls > 0).map(([pod]) => pod));
  }

  /** Redis lost the routing state at `nowMs`: the pods busy before it are held out for the grace period. */
  stateLost(nowMs: number): string[] {
    const pods = new Set([...this.busy, ...this.heldPods(nowMs)]);
    this.hold = pods.size ? { pods, untilMs: nowMs + this.graceMs } : undefined;
    this.busy = new Set();
    return [...pods].sort();
  }

  heldPods(nowMs: number): Set<string> {
    if (this.hold && nowMs >= this.hold.untilMs) this.hold = undefined;
    return this.hold?.pods ?? new Set();
  }

  /** When the hold ends (undefined: none); a reconcile then writes the pods back as serving. */
  holdEndsAtMs(nowMs: number): number | undefined {
    this.heldPods(nowMs);
    return this.hold?.untilMs;
  }
}
