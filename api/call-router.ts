import type { Logger } from '../core/logger.js';
import type { Pool } from '../core/pool-types.js';
import { resolveRoute } from '../core/route.js';
import { buildWsUrl } from '../core/ws-url.js';
import type { RoutingStore } from '../lua/routing-store.js';
import { CallEndedError, StoreUnavailableError } from './errors.js';
import type { RouterMetrics } from './metrics.js';

export interface AllocateCallRequest {
  callSid: string;
  merchantId?: string;
  tier?: string;
  /** Which telephony provider asked (fills `{provider}` in the ws_url template). */
  provider?: string;
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
}

/** A route resolved against one version of the pools. */
interface PoolsView {
  version: string;
  pools: Pool[];
  routes: Map<string, string[]>;
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

  constructor(
    private readonly store: RoutingStore,
    private readonly options: CallRouterOptions,
    private readonly metrics: RouterMetrics,
    private readonly logger: Logger,
  ) {}

  private loadPools(): Promise<PoolsView> {
    // Concurrent requests that find the pools stale share one read.
    this.loading ??= this.store
      .poolsSnapshot()
      .then((snapshot) => {
        this.view = { ...snapshot, routes: new Map() };
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
   * Throws CallEndedError when the call already ended (nothing is taken).
   */
  async allocate(request: AllocateCallRequest): Promise<Allocation | null> {
    const started = process.hrtime.bigint();
    const tier = request.tier ?? this.options.defaultTier;
    let view = this.view ?? (await fromStore(() => this.loadPools()));
    for (let attempt = 0; attempt < 5; attempt++) {
      const route = this.routeFor(view, request.merchantId, tier);
      const outcome = await fromStore(() => this.store.allocate(request.callSid, route, view.version, request.merchantId ?? ''));
      if (outcome.kind === 'stale') {
        view = await fromStore(() => this.loadPools());
        continue;
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.allocationSeconds.observe(seconds);
      const log = { call_sid: request.callSid, merchant_id: request.merchantId, tier, latency_ms: Math.round(seconds * 1e6) / 1e3 };
      if (outcome.kind === 'ended') {
        this.metrics.allocations.inc({ pool: '', result: 'call_ended' });
        this.logger.warn('allocation for an ended call refused', { ...log, reason: outcome.reason, ended_at: outcome.endedAt.toISOString() });
        throw new CallEndedError(request.callSid, outcome.reason, outcome.endedAt);
      }
      if (outcome.kind === 'none') {
        this.metrics.allocations.inc({ pool: '', result: 'no_capacity' });
        this.logger.warn('no pods available', { ...log, route });
        return null;
      }
      this.metrics.allocations.inc({ pool: outcome.pool, result: outcome.kind });
      this.logger.info(outcome.kind === 'existing' ? 'call already allocated' : 'call allocated', { ...log, pod: outcome.pod, pool: outcome.pool });
      return {
        callSid: request.callSid,
        pod: outcome.pod,
        pool: outcome.pool,
        wasExisting: outcome.kind === 'existing',
        wsUrl: buildWsUrl(this.options.wsUrlTemplate, {
          pod: outcome.pod,
          call_sid: request.callSid,
          pool: outcome.pool,
          merchant_id: request.merchantId,
          provider: request.provider,
        }),
      };
    }
    throw new StoreUnavailableError(new Error('pools kept changing while allocating'));
  }

  /** Returns what was released, or null when the call is unknown or already released. */
  async release(callSid: string, reason = 'release'): Promise<Release | null> {
    const released = await fromStore(() => this.store.release(callSid));
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
