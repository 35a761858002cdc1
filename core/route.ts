import { byPriority } from './planner.js';
import type { Pool } from './pool-types.js';

export interface RouteRequest {
  merchantId?: string;
  tier: string;
}

/**
 * The ordered pools an allocation tries: the merchant's dedicated pools, then
 * the tier's shared (non-dedicated) pools, each followed by its fallback chain,
 * depth first, each pool at most once. A pool dedicated to other merchants is
 * never entered, not even as a fallback; unknown fallback names are skipped.
 */
export function resolveRoute(pools: readonly Pool[], request: RouteRequest): string[] {
  const byName = new Map(pools.map((p) => [p.name, p]));
  const merchant = request.merchantId;
  const admits = (pool: Pool) =>
    !pool.spec.merchants?.length || (merchant !== undefined && pool.spec.merchants.includes(merchant));

  const ordered = [...pools].sort(byPriority);
  const primaries = [
    ...ordered.filter((p) => merchant !== undefined && p.spec.merchants?.includes(merchant)),
    ...ordered.filter((p) => p.spec.tier === request.tier && !p.spec.merchants?.length),
  ];

  const route: string[] = [];
  const seen = new Set<string>();
  const visit = (pool: Pool) => {
    if (seen.has(pool.name) || !admits(pool)) return;
    seen.add(pool.name);
    route.push(pool.name);
    for (const next of pool.spec.fallback ?? []) {
      const target = byName.get(next);
      if (target) visit(target);
    }
  };
  primaries.forEach(visit);
  return route;
}
