import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../core/logger.js';
import type { Pool } from '../core/pool-types.js';
import { resolveRoute } from '../core/route.js';
import { signStreamToken } from '../core/stream-token.js';
import { traced } from '../core/tracing.js';
import { wsUrlBuilder } from '../core/ws-url.js';
import { RedisClock } from '../lua/redis-clock.js';
import type { AllocateOutcome, RoutingStore } from '../lua/routing-store.js';
import { CallEndedError, DeadlineExceededError, OverloadedError, StoreUnavailableError } from './errors.js';
import type { OverloadGuard } from './overload-guard.js';
import { ReconnectUndo } from './reconnect-undo.js';
import type { RouterMetrics } from './metrics.js';

export interface AllocateCallRequest {
  callSid: string;
  merchantId?: string;
  tier?: string;
  /** Which telephony provider asked (fills `{provider}` in the ws_url template). */
  provider?: string;
  /**
   * When the request reached the router, monotonic ms (performance.now());
   * its deadline is this plus the request timeout. Defaults to now.
   */
  arrivedAt?: number;
  /** True once the client closed its connection: nothing is allocated for a request nobody waits for. */
  clientGone?: () => boolean;
  /**
   * The request was read shortly after an event-loop stall, maybe from its
   * backlog: its client may have left, with the close not read yet.
   */
  afterStall?: boolean;
}

export interface Allocation {
  callSid: string;
  pod: string;
  pool: string;
  wasExisting: boolean;
  wsUrl: string;
}

export interface Release {
  callSid: string;
  pod: string;
  pool: string;
  wasDraining: boolean;
}

export interface CallRouterOptions {
  defaultTier: string;
  wsUrlTemplate: string;
  /**
   * An allocation answers within this of its arrival, and Redis takes nothing
   * for it after that (checked against Redis's clock). REDIS_COMMAND_TIMEOUT_MS.
   */
  requestTimeoutMs?: number;
  /** Signs the `{token}` of ws_url (WS_TOKEN_SECRET); tokens are valid for wsTokenTtlSeconds. */
  wsTokenSecret?: string;
  wsTokenTtlSeconds?: number;
  /** Sheds new allocations when this process cannot keep up; none: never shed. */
  overload?: OverloadGuard;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 1000;

/** Rejects when the monotonic `deadline` passes first; `work` is then left to settle unobserved. */
function beforeDeadline<T>(work: Promise<T>, deadline: number, onLate: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onLate()), Math.max(0, deadline - performance.now()));
  });
  work.catch(() => undefined);
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** A route resolved against one version of the pools. */
interface PoolsView {
  version: string;
  pools: Pool[];
  routes: Map<string, string[]>;
  /** The tiers some pool serves. */
  tiers: Set<string>;
}

async function fromStore<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw new StoreUnavailableError(err);
  }
}

/**
 * Allocates and releases calls. Resolves the call's route from the pools it
 * last read, and lets the allocate script decide; if the pools changed since,
 * the script says so and the route is resolved again, so no request is served
 * from stale pools and no request pays for reading them.
 */
export class CallRouter {
  private view: PoolsView | undefined;
  private loading: Promise<PoolsView> | undefined;
  private readonly clock: RedisClock;
  private readonly timeoutMs: number;
  private readonly wsUrl: ReturnType<typeof wsUrlBuilder>;
  private readonly reconnectUndo: ReconnectUndo;
  /** Attempt tokens: this process's random prefix and a counter, unique without a syscall per request. */
  private readonly tokenPrefix = randomBytes(6).toString('base64url');
  private attempts = 0;

  constructor(
    private readonly store: RoutingStore,
    private readonly options: CallRouterOptions,
    private readonly metrics: RouterMetrics,
    private readonly logger: Logger,
  ) {
    this.clock = RedisClock.of(store.redis, store.keys.deadlines);
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.wsUrl = wsUrlBuilder(options.wsUrlTemplate);
    this.reconnectUndo = new ReconnectUndo(store, logger);
  }

  private loadPools(): Promise<PoolsView> {
    // Concurrent requests that find the pools stale share one read.
    this.loading ??= this.store
      .poolsSnapshot()
      .then((snapshot) => {
        this.view = { ...snapshot, routes: new Map(), tiers: new Set(snapshot.pools.map((p) => p.spec.tier)) };
        return this.view;
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }

  private routeFor(view: PoolsView, merchantId: string | undefined, tier: string): string[] {
    const key = `${merchantId ?? ''}\u0000${tier}`;
    let route = view.routes.get(key);
    if (!route) {
      route = resolveRoute(view.pools, { merchantId, tier });
      view.routes.set(key, route);
    }
    return route;
  }

  /**
   * Returns the call's pod, or null when no pool in its route has a free slot.
   * Throws CallEndedError when the call already ended (nothing is taken),
   * OverloadedError when this router sheds it (before any work), and
   * StoreUnavailableError or DeadlineExceededError when it could not be
   * answered within the request timeout: then Redis holds nothing for it.
   */
  async allocate(request: AllocateCallRequest): Promise<Allocation | null> {
    const tier = request.tier ?? this.options.defaultTier;
    const guard = this.options.overload;
    const shed = guard?.enter() ?? null;
    if (shed) {
      this.metrics.allocations.inc({ tier: this.tierLabel(tier), pool: '', result: 'overloaded' });
      throw new OverloadedError(shed);
    }
    return traced('allocate', { 'smart_router.call_sid': request.callSid, 'smart_router.tier': tier }, async (span) => {
      try {
        const allocation = await this.allocateBeforeDeadline(request, (request.arrivedAt ?? performance.now()) + this.timeoutMs);
        span?.setAttributes(
          allocation
            ? { 'smart_router.result': allocation.wasExisting ? 'existing' : 'allocated', 'smart_router.pool': allocation.pool, 'smart_router.pod': allocation.pod }
            : { 'smart_router.result': 'no_capacity' },
        );
        return allocation;
      } catch (err) {
        if (err instanceof StoreUnavailableError || err instanceof DeadlineExceededError) {
          this.metrics.allocations.inc({ tier: this.tierLabel(tier), pool: '', result: 'error' });
          this.logger.warn('allocation failed', { call_sid: request.callSid, merchant_id: request.merchantId, error: err.message });
        }
        span?.setAttribute('smart_router.result', err instanceof CallEndedError ? 'call_ended' : 'error');
        throw err;
      } finally {
        guard?.leave();
      }
    });
  }

  /** A tier no pool serves is counted as "other": the metric's labels stay bounded whatever callers send. */
  private tierLabel(tier: string): string {
    return this.view?.tiers.has(tier) ? tier : 'other';
  }

  /**
   * One allocate script run, bounded by the request's deadline: the script
   * takes nothing after it (Redis's clock), and when the router gives up
   * first, the attempt is undone right behind it on the same connection,
   * so an answered 503 never holds a slot.
   */
  private async runAllocate(request: AllocateCallRequest, route: string[], version: string, deadline: number): Promise<AllocateOutcome> {
    const token = `${this.tokenPrefix}.${(this.attempts = (this.attempts + 1) % Number.MAX_SAFE_INTEGER)}`;
    const deadlineRedisMs = this.clock.knownRedisMs(deadline) ?? (await fromStore(() => beforeDeadline(this.clock.toRedisMs(deadline), deadline, () => new Error('Redis clock not measured in time'))));
    if (performance.now() >= deadline) throw new DeadlineExceededError();
    if (request.afterStall && request.clientGone) {
      // libuv reads a socket's end one loop iteration after its data: give
      // it two, so a close that came with the request is seen before Redis is.
      for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
    }
    if (request.clientGone?.()) throw new DeadlineExceededError('the client closed the connection before it was served');
    const sent = this.store.allocate(request.callSid, route, version, request.merchantId ?? '', { deadlineRedisMs, token });
    let outcome: AllocateOutcome;
    try {
      outcome = await beforeDeadline(sent, deadline, () => new Error(`no answer from Redis within ${this.timeoutMs} ms`));
    } catch (err) {
      // Sent after the allocate on the same connection, Redis runs it after:
      // it frees the slot if the allocate took one. When the connection is
      // gone, what was not run by then runs past its deadline and takes
      // nothing, but what ran and lost its reply holds a slot: undo it once
      // Redis is back (after a failover, on the new master). A command that
      // was never written needs no undo.
      if (this.store.redis.status === 'ready') void this.undo(request.callSid, token);
      else if (!/isn't writeable|isn't ready/.test((err as Error).message)) this.reconnectUndo.add(request.callSid, token);
      throw new StoreUnavailableError(err);
    }
    // A client that left while Redis worked (or before the router read its
    // request: under load a request can wait in the socket's buffer, and its
    // close is read by now) would never learn of the slot: give it back.
    if (outcome.kind === 'allocated' && request.clientGone?.()) {
      await this.undo(request.callSid, token);
      throw new DeadlineExceededError('the client closed the connection before it was answered; its allocation was undone');
    }
    return outcome;
  }

  /** Frees what allocation attempt `token` took, if anything; never throws. */
  private async undo(callSid: string, token: string): Promise<void> {
    try {
      if (await this.store.abandon(callSid, token)) this.logger.info('abandoned allocation undone', { call_sid: callSid });
    } catch (e) {
      this.logger.warn('could not undo an abandoned allocation; its deadline keeps Redis from running it late', { call_sid: callSid, error: (e as Error).message });
    }
  }

  private async allocateBeforeDeadline(request: AllocateCallRequest, deadline: number): Promise<Allocation | null> {
    const started = performance.now();
    if (started >= deadline) throw new DeadlineExceededError();
    const tier = request.tier ?? this.options.defaultTier;
    let view = this.view ?? (await fromStore(() => beforeDeadline(this.loadPools(), deadline, () => new Error('pools not read in time'))));
    for (let attempt = 0; attempt < 5; attempt++) {
      const route = this.routeFor(view, request.merchantId, tier);
      const outcome = await this.runAllocate(request, route, view.version, deadline);
      if (outcome.kind === 'stale') {
        view = await fromStore(() => beforeDeadline(this.loadPools(), deadline, () => new Error('pools not read in time')));
        continue;
      }
      if (outcome.kind === 'late') throw new StoreUnavailableError(new Error('Redis ran the allocation after its deadline; nothing was taken'));
      const elapsedMs = performance.now() - started;
      this.metrics.allocationSeconds.observe(elapsedMs / 1000);
      const latencyMs = Math.round(elapsedMs * 1e3) / 1e3;
      if (outcome.kind === 'ended') {
        this.metrics.allocations.inc({ tier: this.tierLabel(tier), pool: '', result: 'call_ended' });
        this.logger.warn('allocation for an ended call refused', { call_sid: request.callSid, merchant_id: request.merchantId, tier, latency_ms: latencyMs, reason: outcome.reason, ended_at: outcome.endedAt.toISOString() });
        throw new CallEndedError(request.callSid, outcome.reason, outcome.endedAt);
      }
      if (outcome.kind === 'none') {
        this.metrics.allocations.inc({ tier: this.tierLabel(tier), pool: '', result: 'no_capacity' });
        this.logger.warn('no pods available', { call_sid: request.callSid, merchant_id: request.merchantId, tier, latency_ms: latencyMs, route });
        return null;
      }
      this.metrics.allocations.inc({ tier: this.tierLabel(tier), pool: outcome.pool, result: outcome.kind });
      this.logger.info(outcome.kind === 'existing' ? 'call already allocated' : 'call allocated', {
        call_sid: request.callSid,
        merchant_id: request.merchantId,
        tier,
        latency_ms: latencyMs,
        pod: outcome.pod,
        pool: outcome.pool,
      });
      return {
        callSid: request.callSid,
        pod: outcome.pod,
        pool: outcome.pool,
        wasExisting: outcome.kind === 'existing',
        wsUrl: this.wsUrl({
          pod: outcome.pod,
          call_sid: request.callSid,
          pool: outcome.pool,
          merchant_id: request.merchantId,
          provider: request.provider,
          token: this.streamToken(outcome.pod, request.callSid),
        }),
      };
    }
    throw new StoreUnavailableError(new Error('pools kept changing while allocating'));
  }

  /** The `{token}` for a stream to `pod`, or undefined when no secret is set (the template then has no {token}). */
  private streamToken(pod: string, callSid: string): string | undefined {
    if (!this.options.wsTokenSecret) return undefined;
    const expiresAt = Math.floor(Date.now() / 1000) + (this.options.wsTokenTtlSeconds ?? 300);
    return signStreamToken(this.options.wsTokenSecret, { pod, callSid, expiresAt });
  }

  /** Returns what was released, or null when the call is unknown or already released. */
  async release(callSid: string, reason = 'release'): Promise<Release | null> {
    return traced('release', { 'smart_router.call_sid': callSid, 'smart_router.reason': reason }, async (span) => {
      const released = await this.releaseOnce(callSid, reason);
      span?.setAttributes(released ? { 'smart_router.result': 'released', 'smart_router.pool': released.pool, 'smart_router.pod': released.pod, 'smart_router.was_draining': released.wasDraining } : { 'smart_router.result': 'not_found' });
      return released;
    });
  }

  private async releaseOnce(callSid: string, reason: string): Promise<Release | null> {
    let released;
    try {
      released = await fromStore(() => this.store.release(callSid));
    } catch (err) {
      this.metrics.releases.inc({ pool: '', result: 'error' });
      throw err;
    }
    if (!released) {
      this.metrics.releases.inc({ pool: '', result: 'not_found' });
      this.logger.info('release of unknown call', { call_sid: callSid, reason });
      return null;
    }
    this.metrics.releases.inc({ pool: released.pool, result: 'released' });
    this.logger.info('call released', { call_sid: callSid, pod: released.pod, pool: released.pool, was_draining: released.wasDraining, reason });
    return { callSid, ...released };
  }

  /** The pools as this replica last read them (refreshing them first). */
  async pools(): Promise<Pool[]> {
    return (await fromStore(() => this.loadPools())).pools;
  }
}
