import { performance } from 'node:perf_hooks';
import { Cluster } from 'ioredis';
import type { RedisClient } from './redis-client.js';

/** TIME inside a script: a script with a key runs on the node that owns the key's slot. */
const TIME_ON_SLOT = "return redis.call('TIME')";

/** One TIME round trip: Redis's clock against ours, and how sure we are. */
export interface ClockSample {
  /** Redis time (ms) minus our monotonic clock (performance.now(), ms) at the round trip's midpoint. */
  offsetMs: number;
  /** Half the round trip: the true offset is within offsetMs ± this. */
  uncertaintyMs: number;
  /** When the sample was taken, monotonic ms. */
  takenAt: number;
}

/** Takes the midpoint estimate of Redis's clock (Cristian's algorithm). */
export function sampleFrom(sentAt: number, receivedAt: number, redisTime: readonly [string, string]): ClockSample {
  const redisMs = Number(redisTime[0]) * 1000 + Number(redisTime[1]) / 1000;
  return { offsetMs: redisMs - (sentAt + receivedAt) / 2, uncertaintyMs: (receivedAt - sentAt) / 2, takenAt: receivedAt };
}

/**
 * Maps the router's deadlines onto Redis's clock, so the allocate script can
 * check them against TIME. The router's wall clock never takes part: its
 * deadlines are monotonic (performance.now()), and the offset to Redis's
 * TIME is measured, from the round trip of a TIME command. A deadline sent
 * to Redis is pulled earlier by the measurement's uncertainty, so Redis
 * never accepts work after the router gave up because of a bad estimate.
 * The offset is measured again every `maxAgeMs` (a Redis clock step is
 * picked up then) and after every reconnect (Redis may have failed over to
 * a host with another clock).
 * On a Redis Cluster, TIME without a key would go to any node; the clock is
 * read by a script keyed like the routing state, on the node that runs the
 * allocate script.
 */
export class RedisClock {
  private static readonly clocks = new WeakMap<RedisClient, RedisClock>();
  private sample: ClockSample | undefined;
  private sampling: Promise<ClockSample> | undefined;

  /**
   * The clock of one client: everything that shares the connection shares the
   * measurement. `slotKey`: a key in the routing state's slot (for a Cluster).
   */
  static of(redis: RedisClient, slotKey: string): RedisClock {
    let clock = RedisClock.clocks.get(redis);
    if (!clock) RedisClock.clocks.set(redis, (clock = new RedisClock(redis, slotKey)));
    return clock;
  }

  private constructor(
    private readonly redis: RedisClient,
    private readonly slotKey: string,
    private readonly maxAgeMs = 5000,
  ) {
    redis.on('ready', () => {
      this.sample = undefined;
    });
  }

  /** Measures the offset now; of a few round trips, keeps the tightest. */
  measure(rounds = 3): Promise<ClockSample> {
    this.sampling ??= (async () => {
      let best: ClockSample | undefined;
      for (let i = 0; i < rounds; i++) {
        const sentAt = performance.now();
        const time = (this.redis instanceof Cluster ? await this.redis.eval(TIME_ON_SLOT, 1, this.slotKey) : await this.redis.time()) as unknown as [string, string];
        const s = sampleFrom(sentAt, performance.now(), time);
        if (!best || s.uncertaintyMs < best.uncertaintyMs) best = s;
      }
      this.sample = best as ClockSample;
      return this.sample;
    })().finally(() => {
      this.sampling = undefined;
    });
    return this.sampling;
  }

  /**
   * A monotonic deadline as Redis time (ms), on the safe side. Measures first
   * when there is no sample yet; refreshes an old one in the background.
   */
  async toRedisMs(monotonicDeadline: number): Promise<number> {
    return this.knownRedisMs(monotonicDeadline) ?? this.mapped(monotonicDeadline, await this.measure());
  }

  /**
   * {@link toRedisMs} without waiting, for the hot path: undefined only when
   * there is no sample yet (then call toRedisMs). An old sample is used and
   * refreshed in the background, as toRedisMs does.
   */
  knownRedisMs(monotonicDeadline: number): number | undefined {
    const s = this.sample;
    if (!s) return undefined;
    if (performance.now() - s.takenAt > this.maxAgeMs) this.measure().catch(() => undefined);
    return this.mapped(monotonicDeadline, s);
  }

  private mapped(monotonicDeadline: number, s: ClockSample): number {
    return Math.floor(monotonicDeadline + s.offsetMs - s.uncertaintyMs);
  }
}
