import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OverloadGuard } from './overload-guard.js';
import type { PoolCounts, RoutingStatus, RoutingStore } from '../lua/routing-store.js';

/**
 * Prometheus metrics. Counters and the latency histogram are per replica (sum
 * them across replicas); the pool gauges are read from Redis at scrape time,
 * so every replica reports the same fleet-wide truth.
 */
export class RouterMetrics {
  readonly registry = new Registry();
  readonly allocations = new Counter({
    name: 'smart_router_allocations_total',
    help: 'Allocation requests by tier, pool and result (allocated, existing, no_capacity, call_ended, overloaded, error). Failures have pool="".',
    labelNames: ['tier', 'pool', 'result'] as const,
    registers: [this.registry],
  });
  readonly releases = new Counter({
    name: 'smart_router_releases_total',
    help: 'Release requests by pool and result (released, not_found, error).',
    labelNames: ['pool', 'result'] as const,
    registers: [this.registry],
  });
  readonly reaped = new Counter({
    name: 'smart_router_calls_reaped_total',
    help: 'Calls ended without a release, by reason (expired, pod_gone, pod_restarted).',
    labelNames: ['pool', 'reason'] as const,
    registers: [this.registry],
  });
  readonly countDrift = new Counter({
    name: 'smart_router_pool_count_drift_total',
    help: "Pool counters the leader's periodic exact recount found wrong and repaired, by pool and counter.",
    labelNames: ['pool', 'counter'] as const,
    registers: [this.registry],
  });
  readonly stateLost = new Counter({
    name: 'smart_router_routing_state_lost_total',
    help: 'Times this replica found the routing state lost in Redis (flushed, or restarted without AOF) and rebuilt it: the leader in operator mode, every replica in standalone mode.',
    registers: [this.registry],
  });
  readonly allocationSeconds = new Histogram({
    name: 'smart_router_allocation_duration_seconds',
    help: 'Time to answer an allocation, from request parsed to response ready.',
    buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  /** Exports the overload guard's view: allocations in progress and the event-loop lag it judges by. */
  watchOverload(guard: OverloadGuard): void {
    new Gauge({
      name: 'smart_router_allocations_in_flight',
      help: 'Allocations this replica has in progress; new ones are shed past SHED_MAX_INFLIGHT_ALLOCATIONS.',
      registers: [this.registry],
      collect() {
        this.set(guard.inflightAllocations);
      },
    });
    new Gauge({
      name: 'smart_router_event_loop_lag_seconds',
      help: 'How far behind the event loop runs (smoothed), as the overload guard sees it; new allocations are shed past SHED_EVENT_LOOP_LAG_MS.',
      registers: [this.registry],
      collect() {
        this.set(guard.lagMs() / 1000);
      },
    });
  }

  constructor(store: RoutingStore) {
    collectDefaultMetrics({ register: this.registry, prefix: 'smart_router_' });
    // The registry collects every metric concurrently: one Redis read, shared
    // by all the gauges of a scrape, fills them.
    let pending: { at: number; status: Promise<RoutingStatus | null> } | undefined;
    const readStatus = () => {
      const now = Date.now();
      if (!pending || now - pending.at > 250) pending = { at: now, status: store.status().catch(() => null) };
      return pending.status;
    };
    const poolGauge = (name: string, help: string, pick: (s: PoolCounts) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['pool'] as const,
        registers: [this.registry],
        async collect() {
          this.reset();
          const status = await readStatus();
          for (const [pool, counts] of Object.entries(status?.pools ?? {})) this.set({ pool }, pick(counts));
        },
      });
    poolGauge('smart_router_pool_pods', 'Pods that belong to the pool.', (s) => s.pods);
    poolGauge('smart_router_pool_ready_pods', 'Ready pods in the pool.', (s) => s.ready);
    poolGauge('smart_router_pool_draining_pods', 'Draining pods in the pool.', (s) => s.draining);
    poolGauge('smart_router_pool_busy_pods', 'Pods of the pool holding at least one call.', (s) => s.busy);
    poolGauge('smart_router_pool_active_calls', "Calls on the pool's pods.", (s) => s.active_calls);
    poolGauge('smart_router_pool_draining_calls', "Calls still on the pool's draining pods: what their drains wait for.", (s) => s.draining_calls);
    poolGauge('smart_router_pool_serving_slots', 'Calls the Ready pods of the pool that are not draining hold at most (used plus free).', (s) => s.serving_slots);
    poolGauge('smart_router_pool_free_slots', 'Calls the pool can still take.', (s) => s.free_slots);
    new Gauge({
      name: 'smart_router_active_calls',
      help: 'Calls allocated and not yet released, fleet-wide.',
      registers: [this.registry],
      async collect() {
        const status = await readStatus();
        if (status) this.set(status.active_calls);
      },
    });
    new Gauge({
      name: 'smart_router_redis_ping_seconds',
      help: 'Round trip of a PING to Redis at scrape time (NaN when it failed): network plus whatever keeps Redis busy.',
      registers: [this.registry],
      async collect() {
        const started = process.hrtime.bigint();
        const ok = await store.redis.ping().then(
          () => true,
          () => false,
        );
        this.set(ok ? Number(process.hrtime.bigint() - started) / 1e9 : NaN);
      },
    });
    new Gauge({
      name: 'smart_router_redis_up',
      help: '1 when the last read from Redis succeeded.',
      registers: [this.registry],
      async collect() {
        this.set((await readStatus()) ? 1 : 0);
      },
    });
  }
}
