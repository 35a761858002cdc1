import type { Request, RequestHandler } from 'express';

export interface RateLimit {
  /** Tokens added per second; 0 turns the limit off. */
  perSecond: number;
  /** Bucket size: how many requests a quiet client may send at once. */
  burst: number;
}

/**
 * Token buckets, one per key. Pure: time comes in as an argument. A bucket
 * that has refilled completely is the same as no bucket, so those are
 * forgotten when the map grows, which bounds memory whatever the number of
 * clients.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limit: RateLimit,
    private readonly maxKeys = 10_000,
  ) {}

  /** 0 when the request may go ahead (a token is taken), else the seconds until a token is there. */
  take(key: string, nowMs: number): number {
    const { perSecond, burst } = this.limit;
    const bucket = this.buckets.get(key) ?? { tokens: burst, at: nowMs };
    bucket.tokens = Math.min(burst, bucket.tokens + ((nowMs - bucket.at) / 1000) * perSecond);
    bucket.at = nowMs;
    if (!this.buckets.has(key)) {
      if (this.buckets.size >= this.maxKeys) this.forgetFull(nowMs);
      this.buckets.set(key, bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / perSecond;
  }

  get size(): number {
    return this.buckets.size;
  }

  private forgetFull(nowMs: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((nowMs - b.at) / 1000) * this.limit.perSecond >= this.limit.burst) this.buckets.delete(key);
    }
    // Everyone busy at once: drop the oldest rather than grow without bound.
    while (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
  }
}

/**
 * Limits requests per client (its address as `trust proxy` resolves it) with
 * a token bucket: over the limit is a 429 JSON answer with Retry-After, sent
 * before authentication, so guessing tokens is limited too.
 */
export function rateLimitPerClient(limit: RateLimit, applies: (req: Request) => boolean, now: () => number = Date.now): RequestHandler {
  if (limit.perSecond <= 0) return (_req, _res, next) => next();
  const buckets = new TokenBuckets(limit);
  return (req, res, next) => {
    if (!applies(req)) return next();
    const wait = buckets.take(req.ip ?? req.socket.remoteAddress ?? 'unknown', now());
    if (wait === 0) return next();
    res.status(429).set('Retry-After', String(Math.max(1, Math.ceil(wait)))).json({ error: 'too many requests', retry_after_seconds: Math.max(1, Math.ceil(wait)) });
  };
}
