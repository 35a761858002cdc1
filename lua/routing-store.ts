import { randomUUID } from 'node:crypto';
import type { RedisClient } from './redis-client.js';
import type { Pool } from '../core/pool-types.js';
import type { RetireCandidate } from '../core/scale-down-order.js';
import { routingKeys, type RoutingKeys } from './keys.js';
import { defineLuaCommands } from './script-loader.js';

/** The Lua commands as ioredis exposes them once defined. */
interface LuaCommands {
  allocate(callKey: string, deadlines: string, version: string, ...args: string[]): Promise<string[]>;
  abandon(callKey: string, deadlines: string, base: string, sid: string, token: string): Promise<number>;
  release(callKey: string, deadlines: string, base: string, sid: string, tombstoneSeconds: string): Promise<string[] | null>;
  reapExpired(deadlines: string, term: string, base: string, limit: string, tombstoneSeconds: string, leaderTerm: string): Promise<string[]>;
  drainPod(podKey: string, term: string, base: string, pod: string, draining: string, leaderTerm: string): Promise<[string, number, number] | null>;
  setPodReady(podKey: string, term: string, base: string, pod: string, ready: string, leaderTerm: string): Promise<number | null>;
  removePod(podKey: string, deadlines: string, term: string, base: string, pod: string, reason: string, tombstoneSeconds: string, leaderTerm: string): Promise<string[]>;
  setPool(specs: string, version: string, term: string, ...args: string[]): Promise<number>;
  placePods(deadlines: string, term: string, base: string, tombstoneSeconds: string, leaderTerm: string, ...args: string[]): Promise<[string[], string[]]>;
  leavePool(term: string, base: string, leaderTerm: string, pool: string, ...pods: string[]): Promise<number>;
  deletePool(specs: string, version: string, term: string, base: string, pool: string, leaderTerm: string, epoch: string): Promise<number>;
  beginTerm(term: string, leaseTransitions: string): Promise<number>;
  podEvictionState(podKey: string, specs: string, deadlines: string, base: string, pod: string): Promise<[string, string, number, string, string] | null>;
  poolStatus(specs: string, deadlines: string, base: string): Promise<string>;
  claimOwner(owner: string, installation: string): Promise<[OwnerClaim['outcome'], string]>;
  recountPool(specs: string, term: string, base: string, pool: string, first: string, last: string, leaderTerm: string, ...pods: string[]): Promise<(string | number)[]>;
  retireIdlePods(podIndex: string, term: string, base: string, count: string, atMs: string, leaderTerm: string, ...candidates: string[]): Promise<string[]>;
  unretirePod(podKey: string, term: string, base: string, pod: string, draining: string, leaderTerm: string): Promise<number>;
  podRouting(podIndex: string, base: string, ...pods: string[]): Promise<string>;
  setGrowPoint(poolConfig: string, term: string, growAt: string, leaderTerm: string): Promise<number>;
}

export interface OwnerClaim {
  outcome: 'claimed' | 'ours' | 'foreign';
  /** The installation that owns the prefix now. */
  owner: string;
}

/**
 * A write refused because it carries a leader term older than the one in
 * Redis: another replica has taken over, this one must stop writing.
 */
export class FencedWriteError extends Error {
  override name = 'FencedWriteError';
}

/** Turns a script's "FENCED ..." error reply into a FencedWriteError. */
async function fenced<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('FENCED')) throw new FencedWriteError(err.message);
    throw err;
  }
}

/** Why a call ended, as its tombstone records it. */
export type CallEndReason = 'released' | 'released_before_allocation' | 'expired' | 'pod_gone' | 'pod_restarted';

export type AllocateOutcome =
  | { kind: 'existing' | 'allocated'; pod: string; pool: string }
  | { kind: 'ended'; reason: CallEndReason; endedAt: Date }
  | { kind: 'stale'; version: string }
  | { kind: 'late' }
  | { kind: 'none' };

/** What ties an allocation to the request that asked for it. */
export interface AllocateAttempt {
  /** Redis time (ms) after which the script must take nothing: the router has answered by then. */
  deadlineRedisMs: number;
  /** Recorded on the call, so {@link RoutingStore.abandon} undoes exactly this attempt. */
  token: string;
}

/** For callers that answer nobody (tests, tools): no deadline. */
const NO_DEADLINE: AllocateAttempt = { deadlineRedisMs: Number.MAX_SAFE_INTEGER, token: '' };

export interface ReleasedCall {
  pod: string;
  pool: string;
  wasDraining: boolean;
}

export interface EndedCall {
  callSid: string;
  pod: string;
  pool: string;
}

export interface PoolMember {
  pod: string;
  ready: boolean;
  draining: boolean;
  /** Changes when the pod restarts; '' when unknown. */
  incarnation: string;
}

export interface PoolCounts {
  pods: number;
  ready: number;
  draining: number;
  /** Pods holding at least one call. */
  busy: number;
  active_calls: number;
  /** Calls still on draining pods: what a drain waits for. */
  draining_calls: number;
  free_slots: number;
  /** Slots of Ready pods that are not draining, used or free. */
  serving_slots: number;
  capacity: number;
}

export interface RoutingStatus {
  active_calls: number;
  pools: Record<string, PoolCounts>;
}

/** A pod as routing should hold it, in the pool it serves. */
export interface PodPlacement extends PoolMember {
  pool: string;
}

/**
 * Pods per membership script. Each pod costs Redis some 10-80 microseconds
 * (the higher figure on a saturated machine), so a batch holds Redis for a
 * few milliseconds at most and allocations queued behind it wait no longer.
 */
export const MEMBERSHIP_BATCH = 50;

/** A pool counter the exact recount found wrong, and repaired. */
export interface CountDrift {
  field: 'ready' | 'draining' | 'calls' | 'busy' | 'free' | 'draining_calls';
  kept: number;
  exact: number;
}

/** Pods per recount batch: each batch is one script, so allocations never wait behind a whole pool. */
export const RECOUNT_BATCH = 100;

/**
 * Pods per routing read (pod-routing-1.lua): a read costs Redis a few
 * microseconds per pod, so a batch holds it for a millisecond or two; 10,000
 * pods are 20 scripts, not 20,000 commands for the client to encode and parse.
 */
export const POD_READ_BATCH = 500;

export interface PoolsSnapshot {
  version: string;
  pools: Pool[];
}

export interface PodState {
  name: string;
  pool: string | null;
  ready: boolean;
  draining: boolean;
  incarnation: string;
  calls: string[];
}

/** What routing holds about a pod, as a reconcile reads it before planning. */
export interface PodRouting {
  /** Pool the pod serves in Redis; '' when it left every pool but still holds calls; null when unknown. */
  pool: string | null;
  draining: boolean;
  incarnation: string;
  calls: number;
  /** Picked by a scale-down (retire-idle-pods): draining until the workload removes it. */
  retiring?: boolean;
}

export interface Retirement {
  /** Pods marked retiring: idle, and draining from now on. */
  picked: string[];
  /** A busy pod that stopped the pick short of the count asked for. */
  blockedBy?: string;
}

/** What an eviction review needs of a pod: its pool's spec, its calls and when they expire. */
export interface PodEvictionState {
  /** Pool the pod serves; '' when it left every pool but still holds calls. */
  pool: string;
  /** Redis already keeps new calls off it. */
  draining: boolean;
  poolSpec: Pool['spec'] | null;
  calls: number;
  /** Latest expiry (maxCallDurationSeconds) among its calls, epoch ms; null without calls. */
  callsExpireMs: number | null;
}

export interface CallRecord {
  callSid: string;
  pod: string;
  pool: string;
  merchantId: string;
  startedAt: Date;
}

function triples(flat: readonly string[]): EndedCall[] {
  const out: EndedCall[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) {
    out.push({ callSid: flat[i] as string, pod: flat[i + 1] as string, pool: flat[i + 2] as string });
  }
  return out;
}

export interface RoutingStoreOptions {
  /** How long an ended call's tombstone keeps later allocations for it from taking a slot. */
  tombstoneSeconds: number;
}

/** One hour: outlives any provider retry or replayed webhook we know of; see README "Ended calls". */
export const DEFAULT_TOMBSTONE_SECONDS = 3600;

/**
 * The typed face of the routing state in Redis. Every mutation is one Lua
 * script (see lua/*.lua); TypeScript never decides what a script decides.
 */
export class RoutingStore {
  readonly keys: RoutingKeys;
  private readonly lua: LuaCommands;
  private readonly tombstoneSeconds: string;
  /** The leader term every operator write carries; '0' (standalone, or not leading yet) until begun. */
  private term = '0';

  constructor(
    readonly redis: RedisClient,
    prefix: string,
    options: Partial<RoutingStoreOptions> = {},
  ) {
    this.keys = routingKeys(prefix);
    this.tombstoneSeconds = String(options.tombstoneSeconds ?? DEFAULT_TOMBSTONE_SECONDS);
    defineLuaCommands(redis);
    this.lua = redis as unknown as LuaCommands;
  }

  async allocate(callSid: string, route: readonly string[], poolsVersion: string, merchantId = '', attempt: AllocateAttempt = NO_DEADLINE): Promise<AllocateOutcome> {
    const k = this.keys;
    const reply = await this.lua.allocate(k.call(callSid), k.deadlines, k.poolsVersion, k.base, callSid, poolsVersion, merchantId, String(attempt.deadlineRedisMs), attempt.token, ...route);
    const [kind, a, b] = reply;
    if (kind === 'existing' || kind === 'allocated') return { kind, pod: a as string, pool: b as string };
    if (kind === 'stale') return { kind, version: a as string };
    if (kind === 'late') return { kind };
    if (kind === 'ended') return { kind, reason: a as CallEndReason, endedAt: new Date(Number(b)) };
    return { kind: 'none' };
  }

  /**
   * Undoes the allocation `token` made, if it made one; run it on the same
   * connection as the allocate, after it. True when a slot was freed.
   */
  async abandon(callSid: string, token: string): Promise<boolean> {
    return (await this.lua.abandon(this.keys.call(callSid), this.keys.deadlines, this.keys.base, callSid, token)) === 1;
  }

  async release(callSid: string): Promise<ReleasedCall | null> {
    const reply = await this.lua.release(this.keys.call(callSid), this.keys.deadlines, this.keys.base, callSid, this.tombstoneSeconds);
    if (!reply) return null;
    return { pod: reply[0] as string, pool: reply[1] as string, wasDraining: reply[2] === '1' };
  }

  /** Ends calls past their pool's max duration, at most `limit` per call. */
  async reapExpired(limit = 500): Promise<EndedCall[]> {
    return triples(await fenced(this.lua.reapExpired(this.keys.deadlines, this.keys.leaderTerm, this.keys.base, String(limit), this.tombstoneSeconds, this.term)));
  }

  /** Returns the pod's pool, call count and whether it was draining before, or null when routing does not know the pod. */
  async setDraining(pod: string, draining: boolean): Promise<{ pool: string; calls: number; wasDraining: boolean } | null> {
    const reply = await fenced(this.lua.drainPod(this.keys.pod(pod), this.keys.leaderTerm, this.keys.base, pod, draining ? '1' : '0', this.term));
    return reply ? { pool: reply[0], calls: Number(reply[1]), wasDraining: Number(reply[2]) === 1 } : null;
  }

  async setReady(pod: string, ready: boolean): Promise<boolean> {
    return (await fenced(this.lua.setPodReady(this.keys.pod(pod), this.keys.leaderTerm, this.keys.base, pod, ready ? '1' : '0', this.term))) !== null;
  }

  /** The pod is gone (or restarted while outside every pool): its calls are ended and returned. */
  async removePod(pod: string, reason: 'pod_gone' | 'pod_restarted' = 'pod_gone'): Promise<EndedCall[]> {
    const flat = await fenced(this.lua.removePod(this.keys.pod(pod), this.keys.deadlines, this.keys.leaderTerm, this.keys.base, pod, reason, this.tombstoneSeconds, this.term));
    const out: EndedCall[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ callSid: flat[i] as string, pod, pool: flat[i + 1] as string });
    return out;
  }

  /** Makes Redis hold exactly this pool and these members; returns calls ended by pod restarts. */
  async syncPool(pool: Pool, members: readonly PoolMember[], batchSize = MEMBERSHIP_BATCH): Promise<EndedCall[]> {
    const k = this.keys;
    await this.setPool(pool);
    const wanted = new Set(members.map((m) => m.pod));
    const extras = (await this.redis.smembers(k.poolMembers(pool.name))).filter((pod) => !wanted.has(pod));
    await this.leavePool(pool.name, extras, batchSize);
    const { ended } = await this.placePods(members.map((m) => ({ ...m, pool: pool.name })), batchSize);
    return ended;
  }

  /** Writes a pool's spec and routing settings, not its members. Returns whether the spec changed. */
  async setPool(pool: Pool): Promise<boolean> {
    const k = this.keys;
    const args = [k.base, pool.name, JSON.stringify(pool.spec), String(pool.spec.capacity), pool.spec.scheduling, String(pool.spec.maxCallDurationSeconds), this.term, randomUUID()];
    return (await fenced(this.lua.setPool(k.poolSpecs, k.poolsVersion, k.leaderTerm, ...args))) === 1;
  }

  /**
   * Puts each pod in its pool with its state, `batchSize` pods per script.
   * Returns the calls ended by pod restarts, and the pods skipped because
   * Redis does not hold their pool (write the pool first).
   */
  async placePods(pods: readonly PodPlacement[], batchSize = MEMBERSHIP_BATCH): Promise<{ ended: EndedCall[]; skipped: string[] }> {
    const k = this.keys;
    const ended: EndedCall[] = [];
    const skipped: string[] = [];
    for (let i = 0; i < pods.length; i += batchSize) {
      const args: string[] = [];
      for (const m of pods.slice(i, i + batchSize)) args.push(m.pod, m.pool, m.ready ? '1' : '0', m.draining ? '1' : '0', m.incarnation);
      const [flat, missing] = await fenced(this.lua.placePods(k.deadlines, k.leaderTerm, k.base, this.tombstoneSeconds, this.term, ...args));
      ended.push(...triples(flat));
      skipped.push(...missing);
    }
    return { ended, skipped };
  }

  /** The pods still in the pool leave it, keeping their calls; `batchSize` per script. Returns how many left. */
  async leavePool(pool: string, pods: readonly string[], batchSize = MEMBERSHIP_BATCH): Promise<number> {
    let left = 0;
    for (let i = 0; i < pods.length; i += batchSize) {
      left += Number(await fenced(this.lua.leavePool(this.keys.leaderTerm, this.keys.base, this.term, pool, ...pods.slice(i, i + batchSize))));
    }
    return left;
  }

  /**
   * Picks up to `count` idle candidates for a scale-down and marks them
   * retiring in one atomic step (see lua/retire-idle-pods-2.lua).
   */
  async retireIdlePods(candidates: readonly RetireCandidate[], count: number, atMs = Date.now()): Promise<Retirement> {
    const args = candidates.flatMap((c) => [c.pod, String(c.tier)]);
    const reply = await fenced(this.lua.retireIdlePods(this.keys.pods, this.keys.leaderTerm, this.keys.base, String(count), String(atMs), this.term, ...args));
    const bar = reply.indexOf('|');
    const blockedBy = reply[bar + 1];
    return { picked: reply.slice(0, bar), ...(blockedBy ? { blockedBy } : {}) };
  }

  /** The workload kept a retiring pod: it may take calls again (unless `stayDraining`). */
  async unretirePod(pod: string, stayDraining: boolean): Promise<boolean> {
    return (await fenced(this.lua.unretirePod(this.keys.pod(pod), this.keys.leaderTerm, this.keys.base, pod, stayDraining ? '1' : '0', this.term))) === 1;
  }

  /**
   * The calls at which the autoscaler grows the pool's workload (undefined:
   * never, the pool is at its maximum): the allocation that reaches it
   * publishes on `keys.autoscaleChannel` (see lua/set-grow-point-2.lua).
   */
  async setGrowPoint(pool: string, growAtCalls: number | undefined): Promise<boolean> {
    return (await fenced(this.lua.setGrowPoint(this.keys.poolConfig(pool), this.keys.leaderTerm, growAtCalls === undefined ? '' : String(growAtCalls), this.term))) === 1;
  }

  async deletePool(pool: string): Promise<number> {
    return fenced(this.lua.deletePool(this.keys.poolSpecs, this.keys.poolsVersion, this.keys.leaderTerm, this.keys.base, pool, this.term, randomUUID()));
  }

  /**
   * This replica just won the Lease (whose leaseTransitions it wrote): takes
   * the next leader term, and carries it in every write from now on.
   */
  async beginTerm(leaseTransitions: number): Promise<number> {
    const term = Number(await this.lua.beginTerm(this.keys.leaderTerm, String(leaseTransitions)));
    this.term = String(term);
    return term;
  }

  /** The leader term this store's writes carry ('0': none). */
  get leaderTerm(): number {
    return Number(this.term);
  }

  /** Claims the key prefix for `installation`, or learns which installation owns it. */
  async claimOwner(installation: string): Promise<OwnerClaim> {
    const [outcome, owner] = await this.lua.claimOwner(this.keys.owner, installation);
    return { outcome, owner };
  }

  async status(): Promise<RoutingStatus> {
    return JSON.parse(await this.lua.poolStatus(this.keys.poolSpecs, this.keys.deadlines, this.keys.base)) as RoutingStatus;
  }

  /**
   * Counts the pool's counters exactly from its pods, in batches, and repairs
   * them. Returns the counters that had drifted ([] when none), or null when
   * the recount was abandoned because the pool changed under it (retry later).
   */
  async recountPool(pool: string, batchSize = RECOUNT_BATCH): Promise<CountDrift[] | null> {
    const k = this.keys;
    const members = await this.redis.smembers(k.poolMembers(pool));
    const batches = Math.max(1, Math.ceil(members.length / batchSize));
    for (let i = 0; i < batches; i++) {
      const pods = members.slice(i * batchSize, (i + 1) * batchSize);
      const reply = await fenced(this.lua.recountPool(k.poolSpecs, k.leaderTerm, k.base, pool, i === 0 ? '1' : '0', i === batches - 1 ? '1' : '0', this.term, ...pods));
      if (reply[0] === 'abandoned') return null;
      if (reply[0] === 'done') {
        const drift: CountDrift[] = [];
        for (let j = 1; j + 2 < reply.length; j += 3) drift.push({ field: reply[j] as CountDrift['field'], kept: Number(reply[j + 1]), exact: Number(reply[j + 2]) });
        return drift;
      }
    }
    throw new Error(`recount of pool ${pool}: the last batch did not finish the recount`);
  }

  /** Pool specs and the version they carry, read atomically. */
  async poolsSnapshot(): Promise<PoolsSnapshot> {
    const result = await this.redis.multi().get(this.keys.poolsVersion).hgetall(this.keys.poolSpecs).exec();
    if (!result) throw new Error('pools snapshot: transaction aborted');
    const [[versionErr, version], [specsErr, specs]] = result as [[Error | null, string | null], [Error | null, Record<string, string>]];
    if (versionErr ?? specsErr) throw versionErr ?? specsErr;
    const pools = Object.entries(specs ?? {})
      .map(([name, json]) => ({ name, spec: JSON.parse(json) as Pool['spec'] }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    return { version: version ?? '0', pools };
  }

  async podState(name: string): Promise<PodState | null> {
    const result = await this.redis.multi().hgetall(this.keys.pod(name)).smembers(this.keys.podCalls(name)).exec();
    if (!result) throw new Error('pod state: transaction aborted');
    const [[podErr, pod], [callsErr, calls]] = result as [[Error | null, Record<string, string>], [Error | null, string[]]];
    if (podErr ?? callsErr) throw podErr ?? callsErr;
    if (!pod || Object.keys(pod).length === 0) return null;
    return {
      name,
      pool: pod.pool ? pod.pool : null,
      ready: pod.ready === '1',
      draining: pod.draining === '1',
      incarnation: pod.incarnation ?? '',
      calls: [...calls].sort(),
    };
  }

  /** Active calls per pod, in one round trip. */
  async callCounts(pods: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (!pods.length) return counts;
    const pipeline = this.redis.pipeline();
    for (const pod of pods) pipeline.scard(this.keys.podCalls(pod));
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([err, n], i) => {
      if (err) throw err;
      counts.set(pods[i] as string, Number(n));
    });
    return counts;
  }

  /** Routing state of many pods in one round trip (bounded batches): pool, draining, incarnation and active calls. */
  async podRouting(pods: readonly string[], batchSize = POD_READ_BATCH): Promise<Map<string, PodRouting>> {
    const out = new Map<string, PodRouting>();
    const batches: string[][] = [];
    for (let i = 0; i < pods.length; i += batchSize) batches.push(pods.slice(i, i + batchSize));
    // Sent together, run one batch at a time: allocations interleave between them.
    const replies = await Promise.all(batches.map((batch) => this.lua.podRouting(this.keys.pods, this.keys.base, ...batch)));
    batches.forEach((batch, b) => {
      const lines = (replies[b] as string).split('\n');
      batch.forEach((pod, i) => {
        const [pool = '', draining, incarnation = '', retiring, calls] = (lines[i] ?? '').split('\t');
        out.set(pod, { pool: pool === '' ? null : pool.slice(1), draining: draining === '1', incarnation, calls: Number(calls ?? 0), ...(retiring === '1' ? { retiring: true } : {}) });
      });
    });
    return out;
  }

  /** A pod as the eviction guard sees it, in one round trip; null when routing does not know the pod (in no pool, holding no call). */
  async podEvictionState(pod: string): Promise<PodEvictionState | null> {
    const k = this.keys;
    const reply = await this.lua.podEvictionState(k.pod(pod), k.poolSpecs, k.deadlines, k.base, pod);
    if (!reply) return null;
    const [pool, draining, calls, spec, latest] = reply;
    return {
      pool,
      draining: draining === '1',
      poolSpec: spec ? (JSON.parse(spec) as Pool['spec']) : null,
      calls: Number(calls),
      callsExpireMs: latest === '' ? null : Number(latest),
    };
  }

  /** Every pod routing knows, in a pool or holding calls after leaving one. */
  async knownPods(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.pods)).sort();
  }

  /** The pools version: bumped by every pool spec change; '0' when missing (never set, or Redis lost it). */
  async poolsVersion(): Promise<string> {
    return (await this.redis.get(this.keys.poolsVersion)) ?? '0';
  }

  /** The pods Redis holds as members of a pool. */
  async poolMembers(pool: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys.poolMembers(pool))).sort();
  }

  /** The tombstone of a call that ended within the tombstone lifetime, or null. */
  async endedCall(callSid: string): Promise<{ reason: CallEndReason; pod: string; pool: string; endedAt: Date } | null> {
    const rec = await this.redis.hgetall(this.keys.endedCall(callSid));
    if (!rec.reason) return null;
    return { reason: rec.reason as CallEndReason, pod: rec.pod ?? '', pool: rec.pool ?? '', endedAt: new Date(Number(rec.ended_ms)) };
  }

  async call(callSid: string): Promise<CallRecord | null> {
    const rec = await this.redis.hgetall(this.keys.call(callSid));
    if (!rec.pod) return null;
    return { callSid, pod: rec.pod, pool: rec.pool ?? '', merchantId: rec.merchant_id ?? '', startedAt: new Date(Number(rec.started_ms)) };
  }
}
