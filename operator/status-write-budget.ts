/** The window the budget counts over. */
const WINDOW_MS = 60_000;

/**
 * How many call-count-only status writes all pools together may make per
 * minute: a sliding window over the last 60 s. Active calls and free slots
 * move with every call; with many pools even a per-pool interval would make
 * the status write rate grow with the number of pools, so this bounds the
 * etcd writes they cost whatever the call rate and the pool count. Pure: the
 * caller gives the time.
 */
export class StatusWriteBudget {
  private spent: number[] = [];

  constructor(private readonly perMinute: number) {
    if (!Number.isInteger(perMinute) || perMinute < 1) throw new RangeError(`status writes per minute must be a positive integer, got ${perMinute}`);
  }

  private expire(nowMs: number): void {
    while (this.spent.length && (this.spent[0] as number) <= nowMs - WINDOW_MS) this.spent.shift();
  }

  /** Takes one write from the budget if there is one left in the last minute. */
  take(nowMs: number): boolean {
    this.expire(nowMs);
    if (this.spent.length >= this.perMinute) return false;
    this.spent.push(nowMs);
    return true;
  }

  /** How long until `take` can succeed again (0: now). */
  nextInMs(nowMs: number): number {
    this.expire(nowMs);
    if (this.spent.length < this.perMinute) return 0;
    return (this.spent[0] as number) + WINDOW_MS - nowMs;
  }

  clear(): void {
    this.spent = [];
  }
}
