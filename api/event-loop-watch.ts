import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';

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
  private timer: NodeJS.Timeout | undefined;
  private readonly delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });

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
      if (now - this.lastTick > this.stallMs) {
        this.stalledSince = this.lastTick;
        this.stallEndedAt = now;
      } else if (this.stalledSince !== undefined && (this.requestsSinceTick === 0 || now - this.stallEndedAt > this.backlogMs)) {
        this.stalledSince = undefined;
      }
      this.requestsSinceTick = 0;
      this.lastTick = now;
    }, this.intervalMs).unref();
    this.delay.enable();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.delay.disable();
  }

  /** The earliest a request first seen `now` may have arrived (monotonic ms). */
  arrivalOf(now = performance.now()): number {
    this.requestsSinceTick++;
    return Math.min(now, this.lastTick + this.intervalMs, this.stalledSince ?? Infinity);
  }

  /** How long the loop has gone without running its timers beyond their interval: 0 when it keeps up. */
  currentLagMs(now = performance.now()): number {
    return Math.max(0, now - this.lastTick - this.intervalMs);
  }

  /** Event-loop delay histogram (perf_hooks), in ns. */
  get histogram(): IntervalHistogram {
    return this.delay;
  }
}
