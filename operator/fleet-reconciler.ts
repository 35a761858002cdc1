import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions, type KubernetesObject, type ObjectCache, type V1Pod } from '@kubernetes/client-node';
import type { RouterMetrics } from '../api/metrics.js';
import type { Logger } from '../core/logger.js';
import { planPoolAssignments, type Plan, type PodRole } from '../core/planner.js';
import { POOL_API_GROUP, POOL_API_VERSION, POOL_LABEL, POOL_PLURAL, type Pool, type PoolStatus } from '../core/pool-types.js';
import { validatePoolDocument } from '../core/pool-validation.js';
import { membersOf } from '../lua/pool-membership.js';
import type { EndedCall, RoutingStore } from '../lua/routing-store.js';
import type { EventRecorder } from './events.js';
import type { KubeRequestCounter } from './kube-metrics.js';
import { isTerminated, podFacts } from './pod-facts.js';
import { desiredPoolStatus, statusChanged } from './pool-status.js';

export interface VoiceAgentPoolObject extends KubernetesObject {
  spec?: unknown;
  status?: PoolStatus;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const LABEL_PATCH_CONCURRENCY = 16;
/** Beyond this many pods changing the same way at once, one Event on the pool tells it. */
const EVENTS_PER_POD_LIMIT = 10;

/** Runs `work` over `items`, at most `limit` at once; the first failure is thrown after all settle. */
export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure;
}

/**
 * One reconcile of the whole namespace, level-based: read pools and pods from
 * the informer caches and call counts from Redis, plan, then make Redis, the
 * pods' labels and the pools' status match the plan. Running it again with
 * nothing changed changes nothing.
 */
export class FleetReconciler {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  /** Roles seen last time, so Events mark transitions, not states. */
  private lastRoles = new Map<string, string>();
  private lastDegraded = new Map<string, boolean>();

  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
    private readonly pods: ObjectCache<V1Pod>,
    private readonly pools: ObjectCache<VoiceAgentPoolObject>,
    private readonly store: RoutingStore,
    private readonly metrics: RouterMetrics,
    private readonly events: EventRecorder,
    private readonly logger: Logger,
    private readonly count: KubeRequestCounter,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  /** The pools as the API server holds them; an object that is somehow invalid is skipped, loudly. */
  private readPools(): { pools: Pool[]; objects: Map<string, VoiceAgentPoolObject> } {
    const pools: Pool[] = [];
    const objects = new Map<string, VoiceAgentPoolObject>();
    for (const obj of this.pools.list(this.namespace)) {
      if (obj.metadata?.deletionTimestamp) continue;
      const result = validatePoolDocument({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata?.name }, spec: obj.spec });
      if (!result.ok) {
        this.logger.error('skipping invalid pool', { pool: obj.metadata?.name, problems: result.problems });
        continue;
      }
      pools.push(result.pool);
      objects.set(result.pool.name, obj);
    }
    return { pools, objects };
  }

  async reconcile(): Promise<void> {
    const podObjects = this.pods.list(this.namespace).filter((p) => !isTerminated(p));
    const facts = podObjects.map(podFacts);
    const byName = new Map(facts.map((p) => [p.name, p]));
    const { pools, objects } = this.readPools();

    const current = new Map<string, string>();
    for (const pod of podObjects) {
      const label = pod.metadata?.labels?.[POOL_LABEL];
      if (label) current.set(pod.metadata!.name!, label);
    }
    const calls = await this.store.callCounts(facts.map((p) => p.name));
    const plan = planPoolAssignments({ pools, pods: facts, current, calls });

    // 1. Routing first: Redis is what allocations read.
    const ended: { call: EndedCall; reason: 'pod_gone' | 'pod_restarted' }[] = [];
    for (const pool of pools) {
      for (const call of await this.store.syncPool(pool, membersOf(pool.name, plan, byName))) ended.push({ call, reason: 'pod_restarted' });
    }
    for (const existing of (await this.store.poolsSnapshot()).pools) {
      for (const pod of await this.store.poolMembers(existing.name)) {
        if (!byName.has(pod)) for (const call of await this.store.removePod(pod)) ended.push({ call, reason: 'pod_gone' });
      }
      if (!objects.has(existing.name)) {
        await this.store.deletePool(existing.name);
        this.logger.info('pool removed from routing', { pool: existing.name });
      }
    }
    await this.reportEnded(ended);

    // 2. Labels, so kubectl shows which pod serves which pool.
    await this.applyLabels(podObjects, plan);

    // 3. Status and Events.
    await this.writeStatus(pools, objects, plan, byName);
    this.recordTransitions(plan, podObjects);
  }

  /** The pod is gone: its calls died with it. */
  async podDeleted(pod: V1Pod): Promise<void> {
    const name = pod.metadata?.name;
    if (!name) return;
    const ended = await this.store.removePod(name);
    await this.reportEnded(ended.map((call) => ({ call, reason: 'pod_gone' as const })));
  }

  private async reportEnded(ended: { call: EndedCall; reason: 'pod_gone' | 'pod_restarted' }[]): Promise<void> {
    const byPod = new Map<string, { reason: string; sids: string[] }>();
    for (const { call, reason } of ended) {
      this.metrics.reaped.inc({ pool: call.pool, reason });
      this.logger.warn('call reaped', { call_sid: call.callSid, pod: call.pod, pool: call.pool, reason });
      const entry = byPod.get(call.pod) ?? { reason, sids: [] };
      entry.sids.push(call.callSid);
      byPod.set(call.pod, entry);
    }
    for (const [pod, { reason, sids }] of byPod) {
      const why = reason === 'pod_gone' ? 'the pod is gone' : 'its container restarted';
      await this.events.record({ kind: 'Pod', name: pod }, 'Warning', 'CallsReaped', `${sids.length} call(s) ended because ${why}: ${sids.slice(0, 10).join(', ')}`);
    }
  }

  private async applyLabels(podObjects: V1Pod[], plan: Plan): Promise<void> {
    const changes = podObjects.filter((pod) => {
      const want = plan.placements.get(pod.metadata!.name!)?.pool ?? null;
      return want !== (pod.metadata?.labels?.[POOL_LABEL] ?? null) && !pod.metadata?.deletionTimestamp;
    });
    // Patches are independent: a few at a time keeps a 1,000-pod converge short without flooding the API server.
    await forEachLimited(changes, LABEL_PATCH_CONCURRENCY, async (pod) => {
      const name = pod.metadata!.name!;
      const want = plan.placements.get(name)?.pool ?? null;
      try {
        this.count('patch', 'pods');
        await this.core.patchNamespacedPod({ name, namespace: this.namespace, body: { metadata: { labels: { [POOL_LABEL]: want } } } }, mergePatch);
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err; // 404: deleted meanwhile
      }
    });
  }

  private async writeStatus(pools: Pool[], objects: Map<string, VoiceAgentPoolObject>, plan: Plan, pods: Map<string, { ready: boolean }>): Promise<void> {
    const counts = await this.store.status();
    const now = new Date().toISOString();
    for (const pool of pools) {
      const obj = objects.get(pool.name)!;
      const poolPlan = plan.pools.get(pool.name);
      const servingReady = (poolPlan?.serving ?? []).filter((p) => pods.get(p)?.ready).length;
      const next = desiredPoolStatus({ generation: obj.metadata?.generation ?? 0, plan: poolPlan, counts: counts.pools[pool.name], servingReady }, obj.status, now);
      if (!statusChanged(obj.status, next)) continue;
      try {
        this.count('patch', `${POOL_PLURAL}/status`);
        await this.custom.patchNamespacedCustomObjectStatus(
          { group: POOL_API_GROUP, version: POOL_API_VERSION, namespace: this.namespace, plural: POOL_PLURAL, name: pool.name, body: { status: next } },
          mergePatch,
        );
      } catch (err) {
        if ((err as { code?: number }).code === 404) continue;
        throw err;
      }
      const degraded = next.conditions?.find((c) => c.type === 'Degraded')?.status === 'True';
      const before = this.lastDegraded.get(pool.name);
      this.lastDegraded.set(pool.name, degraded);
      // A pool first seen healthy has nothing to report; afterwards, every change does.
      if (before !== degraded && (before !== undefined || degraded)) {
        const condition = next.conditions!.find((c) => c.type === 'Degraded')!;
        await this.events.record({ kind: 'VoiceAgentPool', name: pool.name, uid: obj.metadata?.uid }, degraded ? 'Warning' : 'Normal', degraded ? 'Degraded' : 'Recovered', condition.message ?? '');
      }
    }
  }

  private recordTransitions(plan: Plan, podObjects: V1Pod[]): void {
    const next = new Map<string, string>();
    const uids = new Map(podObjects.map((p) => [p.metadata!.name!, p.metadata?.uid]));
    for (const [pod, placement] of plan.placements) next.set(pod, `${placement.pool}/${placement.role}`);
    // Transitions grouped by pool and reason: a handful become one Event per
    // pod, a mass change (a new pool, a big scale) one Event on the pool.
    const groups = new Map<string, { pool: string; reason: string; message: string; pods: string[] }>();
    const add = (pool: string, reason: string, message: string, pod: string) => {
      const key = `${pool}/${reason}`;
      const group = groups.get(key) ?? { pool, reason, message, pods: [] };
      group.pods.push(pod);
      groups.set(key, group);
    };
    for (const [pod, state] of next) {
      if (this.lastRoles.get(pod) === state) continue;
      const [pool, role] = state.split('/') as [string, PodRole];
      this.logger.info(role === 'serving' ? 'pod assigned' : 'pod draining', { pod, pool, role });
      if (role === 'serving') add(pool, 'PodAssigned', `serving pool ${pool}`, pod);
      else add(pool, 'PodDraining', `draining from pool ${pool}: keeps its calls, takes no new ones (${role})`, pod);
    }
    for (const [pod, state] of this.lastRoles) {
      if (next.has(pod) || !uids.has(pod)) continue;
      const pool = state.split('/')[0] as string;
      this.logger.info('pod released from pool', { pod, pool });
      add(pool, 'PodReleased', `left pool ${pool}: idle, unlabelled, free for other pools`, pod);
    }
    this.lastRoles = next;
    const messages: Promise<void>[] = [];
    for (const group of groups.values()) {
      if (group.pods.length <= EVENTS_PER_POD_LIMIT) {
        for (const pod of group.pods) messages.push(this.events.record({ kind: 'Pod', name: pod, uid: uids.get(pod) }, 'Normal', group.reason, group.message));
      } else {
        const shown = group.pods.slice(0, EVENTS_PER_POD_LIMIT).join(', ');
        const message = `${group.pods.length} pods: ${group.message} (${shown} and ${group.pods.length - EVENTS_PER_POD_LIMIT} more)`;
        messages.push(this.events.record({ kind: 'VoiceAgentPool', name: group.pool }, 'Normal', group.reason, message));
      }
    }
    void Promise.all(messages);
  }
}
