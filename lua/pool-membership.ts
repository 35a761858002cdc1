import type { Plan } from '../core/planner.js';
import type { PodFacts, Pool } from '../core/pool-types.js';
import type { EndedCall, PoolMember, RoutingStore } from './routing-store.js';

/** A planned pod as Redis should hold it: drained and leaving pods take no new calls. */
export function membersOf(pool: string, plan: Plan, pods: ReadonlyMap<string, PodFacts>): PoolMember[] {
  const poolPlan = plan.pools.get(pool);
  if (!poolPlan) return [];
  const member = (name: string, draining: boolean): PoolMember => {
    const pod = pods.get(name);
    return { pod: name, ready: pod?.ready ?? false, draining: draining || Boolean(pod?.drainRequested || pod?.deleting || pod?.retiring), incarnation: pod?.incarnation ?? '' };
  };
  return [
    ...poolPlan.serving.map((name) => member(name, false)),
    ...poolPlan.drained.map((name) => member(name, true)),
    ...poolPlan.leaving.map((name) => member(name, true)),
  ];
}

/**
 * Writes a whole plan to Redis: every pool with its members, and pools that
 * no longer exist removed. Returns calls ended because their pod restarted.
 */
export async function syncFleet(store: RoutingStore, pools: readonly Pool[], pods: readonly PodFacts[], plan: Plan): Promise<EndedCall[]> {
  const byName = new Map(pods.map((p) => [p.name, p]));
  const ended: EndedCall[] = [];
  for (const pool of pools) ended.push(...(await store.syncPool(pool, membersOf(pool.name, plan, byName))));
  const wanted = new Set(pools.map((p) => p.name));
  for (const existing of (await store.poolsSnapshot()).pools) {
    if (!wanted.has(existing.name)) await store.deletePool(existing.name);
  }
  return ended;
}
