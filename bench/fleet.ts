import type { Pool } from '../core/pool-types.js';
import type { PoolMember } from '../lua/routing-store.js';

/** A shared pool with room for far more calls than a benchmark keeps open at once. */
export function benchPool(name: string, pods: number): Pool {
  return {
    name,
    spec: { tier: 'bench', exclusive: false, capacity: 1000, replicas: pods, priority: 0, scheduling: 'LeastLoaded', maxCallDurationSeconds: 3600 },
  };
}

export function benchMembers(pods: number): PoolMember[] {
  return Array.from({ length: pods }, (_, i) => ({ pod: `agent-${i}`, ready: true, draining: false, incarnation: '' }));
}
