import type { EventLoopWatch } from './event-loop-watch.js';

export interface OverloadLimits {
  /** Allocations this process may have in progress at once; 0: no limit. */
  maxInflightAllocations: number;
  /** Event-loop lag (smoothed) past which new allocations are shed, ms; 0: never. */
  eventLoopLagMs: number;
}

export type ShedReason = 'inflight' | 'event_loop_lag';

/**
 * Decides, before any work, whether a new allocation is taken on or shed.
 * A router that cannot keep up answers new allocations a fast 503 with
 * Retry-After instead of queueing them into seconds of latency: the caller
 * can retry another replica at once, and the calls already taken on keep
 * their latency. Releases are never shed (they free capacity and a shed
 * release would leave a slot held until the reaper).
 */
export class OverloadGuard {
  private inflight = 0;

  constructor(
    private readonly watch: EventLoopWatch,
    readonly limits: OverloadLimits,
  ) {}

  /** Null when the allocation may go ahead (call {@link leave} after it), else why it is shed. */
  enter(): ShedReason | null {
    const { maxInflightAllocations, eventLoopLagMs } = this.limits;
    if (maxInflightAllocations > 0 && this.inflight >= maxInflightAllocations) return 'inflight';
    if (eventLoopLagMs > 0 && this.watch.lagMs() > eventLoopLagMs) return 'event_loop_lag';
    this.inflight++;
    return null;
  }

  leave(): void {
    this.inflight--;
  }

  get inflightAllocations(): number {
    return this.inflight;
  }

  lagMs(): number {
    return this.watch.lagMs();
  }
}
