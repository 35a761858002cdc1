import type { Redis } from 'ioredis';
import { routingKeys } from './keys.js';

/**
 * Every place a taken slot can show in Redis, counted. A slot is taken by
 * one script (allocate-3.lua) that writes all of them together, so after
 * every known call is released each must read zero; a slot leaked by late
 * or abandoned work shows in at least one.
 */
export interface SlotAudit {
  /** Call records `{p}:call:<sid>` still present. */
  callRecords: number;
  /** Entries of the call deadlines zset (what the reaper would end one day). */
  deadlines: number;
  /** Sum of the pools' `calls` counters. */
  poolCalls: number;
  /** Sum of the pools' `busy` counters (pods with at least one call). */
  poolBusy: number;
  /** Slots missing from the pools' `free` counters: capacity x allocatable pods, minus free. */
  poolFreeShort: number;
  /** Sum of the sizes of the pods' call sets `{p}:pod:<pod>:calls`. */
  podCallSets: number;
  /** Sum of the pods' scores in the pools' availability zsets (their calls as allocation sees them). */
  availScores: number;
}

/** Nothing is taken: every count of the audit is zero. */
export const slotsLeft = (audit: SlotAudit): number => Math.max(...Object.values(audit).map((n) => Math.abs(n)));

/**
 * Reads every slot structure of one installation. O(pods + calls), with
 * SCAN: for tests and benchmarks after a load, never on a request path.
 */
export async function auditSlots(redis: Redis, prefix: string): Promise<SlotAudit> {
  const keys = routingKeys(prefix);
  const audit: SlotAudit = { callRecords: 0, deadlines: 0, poolCalls: 0, poolBusy: 0, poolFreeShort: 0, podCallSets: 0, availScores: 0 };
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', keys.call('*'), 'COUNT', 1000);
    cursor = next;
    audit.callRecords += found.length;
  } while (cursor !== '0');
  audit.deadlines = await redis.zcard(keys.deadlines);
  for (const pool of await redis.hkeys(keys.poolSpecs)) {
    const counts = await redis.hgetall(keys.poolCounts(pool));
    audit.poolCalls += Number(counts.calls ?? 0);
    audit.poolBusy += Number(counts.busy ?? 0);
    const capacity = Number((await redis.hget(keys.poolConfig(pool), 'capacity')) ?? 0);
    const allocatable = await redis.zcard(keys.poolAvail(pool));
    audit.poolFreeShort += capacity * allocatable - Number(counts.free ?? 0);
    for (const pod of await redis.smembers(keys.poolMembers(pool))) {
      audit.podCallSets += await redis.scard(keys.podCalls(pod));
      audit.availScores += Number((await redis.zscore(keys.poolAvail(pool), pod)) ?? 0);
    }
  }
  return audit;
}
