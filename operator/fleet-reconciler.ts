import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import type { RouterMetrics } from '../api/metrics.js';
import type { Logger } from '../core/logger.js';
import { planPoolAssignments, type Plan } from '../core/planner.js';
import { POOL_API_GROUP, POOL_API_VERSION, POOL_LABEL, POOL_PLURAL, type PodFacts, type Pool, type PoolStatus } from '../core/pool-types.js';
import { validatePoolDocument } from '../core/pool-validation.js';
import { membersOf } from '../lua/pool-membership.js';
import type { EndedCall, PodRouting, RoutingStore } from '../lua/routing-store.js';
import type { EventRecorder } from './events.js';
import type { FleetInformers, VoiceAgentPoolObject } from './informers.js';
import { statusCode, type KubeClients } from './kube-client.js';
import { isTerminated, podFacts } from './pod-facts.js';
import { podTransitions, reportTransitions, type PodBefore, type PodTransition } from './pod-transitions.js';
import { degradedTransition, desiredPoolStatus, statusWrite } from './pool-status.js';
import { RunAbandoned, type RunResult } from './reconcile-loop.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
/** Beyond this many pods changing the same way at once, one Event on the pool tells it. */
const EVENTS_PER_POD_LIMIT = 10;

export interface ReconcilerOptions {
  namespace: string;
  /** Rewrite all routing state in Redis at least this often, changed or not. */
  fullResyncMs: number;
  /** A change of call counts alone reaches a pool's status at most this often. */
  statusCountsIntervalMs: number;
  /** Label patches in flight at once. */
  patchConcurrency: number;
}

export interface ReconcilerDeps {
  clients: KubeClients;
  informers: FleetInformers;
  store: RoutingStore;
  metrics: RouterMetrics;
  events: EventRecorder;
  logger: Logger;
  isLeader(): boolean;
}

type EndReason = 'pod_gone' | 'pod_restarted';

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

const uidOf = (incarnation: string) => incarnation.split(':')[0] ?? '';

/**
 * One reconcile of the whole namespace, level-based: read pools and pods from
 * the informer caches and routing state from Redis, plan, then make Redis,
 * the pods' labels and the pools' status match the plan, and tell what
 * changed with Events. Running it again with nothing changed writes nothing.
 *
 * What it remembers between runs only saves work, never decides: fingerprints
 * of what each pool's Redis state was last written with (dropped when Redis
 * shows a foreign change, and every full resync), and what it just wrote to
 * labels and status, until the informer caches catch up with its own writes.
 */
export class FleetReconciler {
  private fingerprints = new Map<string, string>();
  private routingVersion: string | undefined;
  private lastFullSyncMs = 0;
  private writtenLabels = new Map<string, { label: string | null; basedOn: string | undefined }>();
  private writtenStatus = new Map<string, { status: PoolStatus; basedOn: string | undefined }>();
  private statusWrittenAt = new Map<string, number>();

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly options: ReconcilerOptions,
  ) {}

  /** Forgets everything remembered: the next run rewrites Redis in full (a new term of leadership). */
  reset(): void {
    this.fingerprints.clear();
    this.routingVersion = undefined;
    this.writtenLabels.clear();
    this.writtenStatus.clear();
    this.statusWrittenAt.clear();
  }

  private ensureLeading(): void {
    if (!this.deps.isLeader()) throw new RunAbandoned('this replica no longer holds the lease');
  }

  /** A pod's pool label, or the one this replica just wrote if the cache has not seen it yet. */
  private labelOf(pod: V1Pod): string | null {
    const name = pod.metadata!.name!;
    const written = this.writtenLabels.get(name);
    if (written && written.basedOn === pod.metadata?.resourceVersion) return written.label;
    this.writtenLabels.delete(name);
    return pod.metadata?.labels?.[POOL_LABEL] || null;
  }

  /** What was remembered about pods and pools that no longer exist. */
  private forgetGone(pods: Map<string, unknown>, pools: Map<string, unknown>): void {
    for (const name of this.writtenLabels.keys()) if (!pods.has(name)) this.writtenLabels.delete(name);
    for (const map of [this.writtenStatus, this.statusWrittenAt]) {
      for (const name of map.keys()) if (!pools.has(name)) map.delete(name);
    }
  }

  private statusOf(obj: VoiceAgentPoolObject): PoolStatus | undefined {
    const name = obj.metadata!.name!;
    const written = this.writtenStatus.get(name);
    if (written && written.basedOn === obj.metadata?.resourceVersion) return written.status;
    this.writtenStatus.delete(name);
    return obj.status;
  }

  /** The pools as the API server holds them; an object that is somehow invalid is skipped, loudly. */
  private readPools(): { pools: Pool[]; objects: Map<string, VoiceAgentPoolObject> } {
    const pools: Pool[] = [];
    const objects = new Map<string, VoiceAgentPoolObject>();
    for (const obj of this.deps.informers.pools.list(this.options.namespace)) {
      if (obj.metadata?.deletionTimestamp) continue;
      const result = validatePoolDocument({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata?.name }, spec: obj.spec });
      if (!result.ok) {
        this.deps.logger.error('skipping invalid pool', { pool: obj.metadata?.name, problems: result.problems });
        continue;
      }
      pools.push(result.pool);
      objects.set(result.pool.name, obj);
    }
    return { pools, objects };
  }

  async reconcile(): Promise<RunResult> {
    // Before the first complete list a missing pod is not a gone pod: reaping on a partial cache would end live calls.
    if (!this.deps.informers.synced()) throw new RunAbandoned('informer caches not synced yet');
    this.ensureLeading();
    const podObjects = this.deps.informers.pods.list(this.options.namespace).filter((p) => !isTerminated(p));
    const facts = new Map(podObjects.map((p) => [p.metadata!.name!, podFacts(p)]));
    const { pools, objects } = this.readPools();
    this.forgetGone(facts, objects);
    const labels = new Map(podObjects.map((p) => [p.metadata!.name!, this.labelOf(p)]));
    const current = new Map([...labels].filter((e): e is [string, string] => e[1] !== null));
    const routing = await this.deps.store.podRouting([...facts.keys()]);
    const calls = new Map([...routing].map(([pod, r]) => [pod, r.calls]));
    const plan = planPoolAssignments({ pools, pods: [...facts.values()], current, calls });

    // Routing first: Redis is what allocations read.
    const ended = await this.syncRouting(pools, objects, plan, facts, routing);
    this.reportEnded(ended);

    const before: PodBefore[] = podObjects.map((p) => {
      const name = p.metadata!.name!;
      const f = facts.get(name)!;
      return { name, uid: p.metadata?.uid, labels: f.labels, label: labels.get(name) ?? null, routing: routing.get(name), deleting: f.deleting, drainRequested: f.drainRequested };
    });
    const transitions = podTransitions(before, plan, new Map(pools.map((p) => [p.name, p])));
    let labelFailure: unknown;
    let labelled = new Set<string>();
    try {
      labelled = await this.applyLabels(podObjects, plan, labels);
    } catch (err) {
      labelFailure = err;
    }
    // A label transition is told once its patch went through; the rest are already true in Redis.
    this.reportTransitions(transitions.filter((t) => !t.viaLabel || labelled.has(t.pod)));
    if (labelFailure) throw labelFailure;

    return this.writeStatus(pools, objects, plan, facts);
  }

  private async syncRouting(pools: Pool[], objects: Map<string, VoiceAgentPoolObject>, plan: Plan, facts: Map<string, PodFacts>, routing: Map<string, PodRouting>): Promise<{ call: EndedCall; reason: EndReason }[]> {
    const { store, logger } = this.deps;
    const snapshot = await store.poolsSnapshot();
    const now = Date.now();
    // Drift shows as a pools version we did not leave, or a pool we wrote that Redis no longer has.
    const inRedis = new Set(snapshot.pools.map((p) => p.name));
    const lost = [...this.fingerprints.keys()].filter((pool) => !inRedis.has(pool));
    const drifted = (this.routingVersion !== undefined && snapshot.version !== this.routingVersion) || lost.length > 0;
    if (drifted) {
      logger.warn('routing state in Redis changed behind the operator (flushed or rewritten): rebuilding it', { expected_version: this.routingVersion, found_version: snapshot.version, pools_lost: lost });
    }
    if (drifted || this.routingVersion === undefined || now - this.lastFullSyncMs >= this.options.fullResyncMs) {
      this.fingerprints.clear();
      this.lastFullSyncMs = now;
    }
    // A pod whose UID changed under the same name was replaced: its calls went with the old pod.
    const reasonFor = (pod: string): EndReason => (uidOf(routing.get(pod)?.incarnation ?? '') !== uidOf(facts.get(pod)?.incarnation ?? '') ? 'pod_gone' : 'pod_restarted');
    const ended: { call: EndedCall; reason: EndReason }[] = [];
    const members = new Set<string>();
    for (const pool of pools) {
      const list = membersOf(pool.name, plan, facts);
      for (const m of list) members.add(m.pod);
      const fingerprint = JSON.stringify([pool.spec, list]);
      if (this.fingerprints.get(pool.name) === fingerprint) continue;
      this.ensureLeading();
      for (const call of await store.syncPool(pool, list)) ended.push({ call, reason: reasonFor(call.pod) });
      this.fingerprints.set(pool.name, fingerprint);
    }
    for (const existing of snapshot.pools) {
      if (objects.has(existing.name)) continue;
      this.ensureLeading();
      await store.deletePool(existing.name);
      this.fingerprints.delete(existing.name);
      logger.info('pool removed from routing', { pool: existing.name });
    }
    // Pods routing knows that Kubernetes no longer has: their calls died with them.
    for (const pod of await store.knownPods()) {
      if (facts.has(pod)) continue;
      this.ensureLeading();
      for (const call of await store.removePod(pod)) ended.push({ call, reason: 'pod_gone' });
    }
    // Pods outside every pool still holding calls (their pool was deleted) that restarted or were replaced.
    for (const [pod, r] of routing) {
      const incarnation = facts.get(pod)?.incarnation ?? '';
      if (members.has(pod) || r.calls === 0 || !r.incarnation || !incarnation || r.incarnation === incarnation) continue;
      this.ensureLeading();
      for (const call of await store.removePod(pod)) ended.push({ call, reason: reasonFor(pod) });
    }
    this.routingVersion = await store.poolsVersion();
    return ended;
  }

  private reportEnded(ended: { call: EndedCall; reason: EndReason }[]): void {
    const { metrics, logger, events } = this.deps;
    const byPod = new Map<string, { pool: string; reason: EndReason; sids: string[] }>();
    for (const { call, reason } of ended) {
      metrics.reaped.inc({ pool: call.pool, reason });
      logger.warn('call reaped', { call_sid: call.callSid, pod: call.pod, pool: call.pool, reason });
      const entry = byPod.get(call.pod) ?? { pool: call.pool, reason, sids: [] };
      entry.sids.push(call.callSid);
      byPod.set(call.pod, entry);
    }
    for (const [pod, { pool, reason, sids }] of byPod) {
      const listed = `${sids.slice(0, 10).join(', ')}${sids.length > 10 ? ', ...' : ''}`;
      // A gone pod cannot show an Event: it goes on the pool. A restarted pod still exists: on the pod.
      const target = reason === 'pod_gone' ? { kind: 'VoiceAgentPool' as const, name: pool } : { kind: 'Pod' as const, name: pod };
      const why = reason === 'pod_gone' ? `pod ${pod} is gone` : `the containers of pod ${pod} restarted`;
      void events.record(target, 'Warning', 'CallsReaped', `${sids.length} call(s) ended because ${why}: ${listed}`);
    }
  }

  /** Labels each planned pod with its pool and unlabels pods that left; returns the pods patched. */
  private async applyLabels(podObjects: V1Pod[], plan: Plan, labels: Map<string, string | null>): Promise<Set<string>> {
    const patched = new Set<string>();
    const changes = podObjects.filter((pod) => {
      const name = pod.metadata!.name!;
      // A pod being deleted keeps its label: patching it would race its deletion for nothing.
      return !pod.metadata?.deletionTimestamp && (plan.placements.get(name)?.pool ?? null) !== labels.get(name);
    });
    // Patches are independent: a few at a time keeps a 1,000-pod converge short without flooding the API server.
    await forEachLimited(changes, this.options.patchConcurrency, async (pod) => {
      this.ensureLeading();
      const name = pod.metadata!.name!;
      const want = plan.placements.get(name)?.pool ?? null;
      try {
        await this.deps.clients.core.patchNamespacedPod({ name, namespace: this.options.namespace, body: { metadata: { labels: { [POOL_LABEL]: want } } } }, mergePatch);
      } catch (err) {
        if (statusCode(err) === 404) return; // deleted meanwhile
        throw err;
      }
      this.writtenLabels.set(name, { label: want, basedOn: pod.metadata?.resourceVersion });
      patched.add(name);
      this.deps.logger.info(want ? 'pod labelled' : 'pod unlabelled', { pod: name, pool: want ?? labels.get(name) });
    });
    return patched;
  }

  private reportTransitions(transitions: PodTransition[]): void {
    for (const t of transitions) this.deps.logger.info(t.reason === 'PodAssigned' ? 'pod assigned' : t.reason === 'PodDraining' ? 'pod draining' : 'pod released', { pod: t.pod, pool: t.pool, why: t.message });
    for (const report of reportTransitions(transitions, EVENTS_PER_POD_LIMIT)) void this.deps.events.record(report.target, 'Normal', report.reason, report.message);
  }

  private async writeStatus(pools: Pool[], objects: Map<string, VoiceAgentPoolObject>, plan: Plan, facts: Map<string, PodFacts>): Promise<RunResult> {
    const counts = await this.deps.store.status();
    const now = Date.now();
    let requeueAfterMs: number | undefined;
    for (const pool of pools) {
      const obj = objects.get(pool.name)!;
      const poolPlan = plan.pools.get(pool.name);
      const servingReady = (poolPlan?.serving ?? []).filter((p) => facts.get(p)?.ready).length;
      const previous = this.statusOf(obj);
      const next = desiredPoolStatus({ generation: obj.metadata?.generation ?? 0, plan: poolPlan, counts: counts.pools[pool.name], servingReady }, previous, new Date(now).toISOString());
      const lastWrite = this.statusWrittenAt.get(pool.name);
      const decision = statusWrite(previous, next, lastWrite, now, this.options.statusCountsIntervalMs);
      if (decision === 'none') continue;
      if (decision === 'later') {
        const wait = Math.max(1, (lastWrite ?? now) + this.options.statusCountsIntervalMs - now);
        requeueAfterMs = Math.min(requeueAfterMs ?? wait, wait);
        continue;
      }
      this.ensureLeading();
      try {
        await this.deps.clients.custom.patchNamespacedCustomObjectStatus(
          { group: POOL_API_GROUP, version: POOL_API_VERSION, namespace: this.options.namespace, plural: POOL_PLURAL, name: pool.name, body: { status: next } },
          mergePatch,
        );
      } catch (err) {
        if (statusCode(err) === 404) continue; // deleted meanwhile
        throw err;
      }
      this.writtenStatus.set(pool.name, { status: next, basedOn: obj.metadata?.resourceVersion });
      this.statusWrittenAt.set(pool.name, now);
      const transition = degradedTransition(previous, next);
      if (transition) {
        const degraded = next.conditions!.find((c) => c.type === 'Degraded')!;
        this.deps.logger.info(transition === 'Degraded' ? 'pool degraded' : 'pool recovered', { pool: pool.name, why: degraded.message });
        void this.deps.events.record({ kind: 'VoiceAgentPool', name: pool.name, uid: obj.metadata?.uid }, transition === 'Degraded' ? 'Warning' : 'Normal', transition, degraded.message ?? '');
      }
    }
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }
}
