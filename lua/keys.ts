import { KEY_PREFIX_PATTERN } from '../core/installation.js';

/**
 * Redis key names for one installation. Every key carries the hash tag
 * `{prefix}`, so all of them live in one Redis Cluster slot and the Lua
 * scripts may touch any of them; another prefix is another installation.
 * Mirrors lua/includes/keys.lua: change both together.
 */
export interface RoutingKeys {
  /** Prefix the Lua scripts build dynamic keys from: `{prefix}:`. */
  base: string;
  poolSpecs: string;
  poolsVersion: string;
  deadlines: string;
  /** Set of every pod routing knows (its hash exists): how a reconcile finds pods that are gone. */
  pods: string;
  /** Hash naming the installation that owns the prefix (lua/claim-owner-1.lua). */
  owner: string;
  /** The operator leader's term: every operator write carries it and a lower one is refused. */
  leaderTerm: string;
  call(sid: string): string;
  /** Tombstone of an ended call: reason, pod, pool, ended_ms; expires. */
  endedCall(sid: string): string;
  pod(name: string): string;
  podCalls(name: string): string;
  poolConfig(pool: string): string;
  poolAvail(pool: string): string;
  poolMembers(pool: string): string;
  /** A provider webhook's nonce, remembered for its validity window (no script uses it: SET NX EX is one command). */
  webhookNonce(provider: string, nonceDigest: string): string;
  /** The pool's counters: ready, draining, calls, busy, free, draining_calls (see lua/includes/pool-counts.lua). */
  poolCounts(pool: string): string;
  /** Scratch keys of an exact recount in progress: partial sums, and the pods already counted. */
  poolRecount(pool: string): string;
  poolRecounted(pool: string): string;
  /** Pub/Sub channel (not a key): an allocation that reached a pool's grow point publishes the pool's name on it. */
  autoscaleChannel: string;
}


export function routingKeys(prefix: string): RoutingKeys {
  if (!KEY_PREFIX_PATTERN.test(prefix)) {
    throw new Error(`key prefix ${JSON.stringify(prefix)} must match ${KEY_PREFIX_PATTERN.source}`);
  }
  const base = `{${prefix}}:`;
  return {
    base,
    poolSpecs: `${base}pools`,
    poolsVersion: `${base}pools:version`,
    deadlines: `${base}calls:deadlines`,
    pods: `${base}pods`,
    owner: `${base}owner`,
    leaderTerm: `${base}leader:term`,
    call: (sid) => `${base}call:${sid}`,
    endedCall: (sid) => `${base}ended:${sid}`,
    pod: (name) => `${base}pod:${name}`,
    podCalls: (name) => `${base}pod:${name}:calls`,
    poolConfig: (pool) => `${base}pool:${pool}`,
    poolAvail: (pool) => `${base}pool:${pool}:avail`,
    poolMembers: (pool) => `${base}pool:${pool}:members`,
    webhookNonce: (provider, nonceDigest) => `${base}nonce:${provider}:${nonceDigest}`,
    poolCounts: (pool) => `${base}pool:${pool}:counts`,
    autoscaleChannel: `${base}autoscale`,
    poolRecount: (pool) => `${base}pool:${pool}:recount`,
    poolRecounted: (pool) => `${base}pool:${pool}:recounted`,
  };
}
