import { performance } from 'node:perf_hooks';

/**
 * Watches this process's event loop: how late it runs, and since when a
 * request may have been waiting.
 *
 * A request is read from its socket only when the loop gets to it. After a
 * stall (a long GC, CPU starvation, the process stopped), requests that
 * arrived during the stall are read all at once, right after it, and look
 * fresh. A timer ticking every `intervalMs` marks the last moment the loop
 * was known to run; a request first seen now arrived, at the earliest, one
 * interval after that. When a tick comes late by more than `stallMs`, the
 * requests read until the backlog is worked off (libuv may run the timers
 * before it reads the sockets, reads new connections one iteration after
 * accepting them, and a busy loop takes a while to get through all) are
 * dated from the stall's start too. The backlog is over at the first tick
 * that saw no new request since the previous one, or after `backlogMs`.
 * Deadlines counted from that estimate expire for requests whose clients
 * gave up during the stall, so the router does not allocate for them after
 * the fact. Fresh requests in those few ticks pay with a stricter deadline.
 */
export class EventLoopWatch {
  private lastTick = performance.now();
  private stalledSince: number | undefined;
  private stallEndedAt = 0;
  private requestsSinceTick = 0;
  /** Smoothed lateness of the ticks, ms: how far behind the loop runs lately. */
  private lagEwmaMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs = 10,
    private readonly stallMs = 100,
    private readonly backlogMs = 2000,
  ) {}

  start(): this {
    if (this.timer) return this;
    this.lastTick = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = Math.max(0, now - this.lastTick - this.intervalMs);
      this.lagEwmaMs = this.lagEwmaMs * 0.7 + late * 0.3;
      if (now - this.lastTick > this.stallMs) {
        this.stalledSince = this.lastTick;
        this.stallEndedAt = now;
      } else if (this.stalledSince !== undefined && (this.requestsSinceTick === 0 || now - this.stallEndedAt > this.backlogMs)) {
        this.stalledSince = undefined;
      }
      this.requestsSinceTick = 0;
      this.lastTick = now;
    }, this.intervalMs).unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The earliest a request first seen `now` may have arrived (monotonic ms). */
  arrivalOf(now = performance.now()): number {
    this.requestsSinceTick++;
    return Math.min(now, this.lastTick + this.intervalMs, this.stalledSince ?? Infinity);
  }

  /** True within `backlogMs` after a stall: requests may come from its backlog. */
  recentlyStalled(now = performance.now()): boolean {
    return this.stallEndedAt > 0 && now - this.stallEndedAt <= this.backlogMs;
  }

  /**
   * How far behind the loop runs, ms: the lateness of recent ticks, smoothed
   * (each tick weighs 30%), so one slow moment does not shed but a loop that
   * stays behind does within a few ticks. 0 when it keeps up.
   */
  lagMs(): number {
    return this.lagEwmaMs;
  }
}
