import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { selectorMatches } from '../core/label-selector.js';
import type { Logger } from '../core/logger.js';
import { POOL_LABEL, RETIRING_ANNOTATION, type Pool } from '../core/pool-types.js';
import { validatePoolDocument } from '../core/pool-validation.js';
import { replicaSetRemovalOrder, statefulSetOrdinal, statefulSetRemovalOrder, statefulSetReplicasAfter } from '../core/scale-down-order.js';
import { decideScale, growAtBusySlots, type Recommendation, type ScaleReason } from '../core/scale-decision.js';
import { busyRisePerSecond, keepBusySamples, leadSlots, podStartEstimateMs, settleGrowths, START_SAMPLES, type BusySample, type PendingGrowth } from '../core/scale-lead.js';
import type { PodRouting, RoutingStore } from '../lua/routing-store.js';
import type { EventRecorder } from './events.js';
import type { FleetInformers } from './informers.js';
import { statusCode, type KubeClients } from './kube-client.js';
import type { OperatorMetrics } from './operator-metrics.js';
import { isTerminated } from './pod-facts.js';
import { BUSY_POD_DELETION_COST, DELETION_COST_ANNOTATION, RETIRING_POD_DELETION_COST, SAFE_TO_EVICT_ANNOTATION } from './pod-metadata.js';
import { RunAbandoned, type RunResult } from './reconcile-loop.js';
import { describeWorkload, readWorkload, scalePool, scaleWorkload, type Workload } from './workload-scale.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export type ScalingReason = ScaleReason | 'ScaleDownBlocked' | 'ScaleDownInProgress' | 'WorkloadNotSettled' | 'WorkloadNotFound';

/** What the pool's status tells of its autoscaling: the last decision and its reason. */
export interface PoolScaling {
  workload: string;
  wantedReplicas: number;
  currentReplicas: number;
  reason: ScalingReason;
  message: string;
  lastScaleTime?: string;
}

export interface AutoscalerDeps {
  clients: KubeClients;
  informers: FleetInformers;
  store: RoutingStore;
  events: EventRecorder;
  metrics: OperatorMetrics;
  logger: Logger;
  isLeader(): boolean;
  /** The scaling state of a pool changed: its status should be written. */
  onScalingChange(pool: string): void;
}

export interface AutoscalerTiming {
  /** The pass interval: a breach waits up to this long to be seen, so the lead counts it. */
  intervalMs: number;
  /** The window the rise of busy slots is measured over; 0 turns the lead off (the buffer alone). */
  rateWindowMs: number;
}

/** What the autoscaler measured for a pool's lead: the rise of busy slots and the time new pods take to serve. */
interface LeadState {
  busy: BusySample[];
  growths: PendingGrowth[];
  startSamplesMs: number[];
}

/** A scale-down whose pods the workload controller has not removed yet: what it may remove, and what it did. */
interface ScaleDownInFlight {
  picked: Set<string>;
  /** The workload's pods when the scale-down was patched, by name and UID. */
  before: Map<string, string | undefined>;
  reported: Set<string>;
}

const podName = (p: V1Pod) => p.metadata!.name!;
const isReady = (p: V1Pod) => (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
/** Longest a scale-down waits for the picked pods' deletion cost to show in the watch. */
const ANNOTATION_WAIT_MS = 5_000;

/**
 * The built-in free-slot autoscaler: per pool with spec.autoscaling, sizes
 * the named workload to keep the buffer of free call slots, and shrinks it
 * by idle pods only. A scale-down picks and marks the idle pods in one Lua
 * step (a pod that got a call meanwhile is never picked), gives them the
 * lowest pod-deletion-cost, and only then lowers the workload's replicas;
 * afterwards it checks which pods the controller removed and tells any
 * surprise with a Warning Event. Runs on the leader only; what it remembers
 * (the decisions of the scale-down window, scale-downs in flight) only
 * delays or reports, it never decides a removal.
 */
export class WorkloadAutoscaler {
  private history = new Map<string, Recommendation[]>();
  private scaling = new Map<string, PoolScaling>();
  private inFlight = new Map<string, ScaleDownInFlight>();
  private leads = new Map<string, LeadState>();
  /** The lead of each pool's last decision. */
  private lastLead = new Map<string, number>();
  /** The grow point each pool has in Redis, as last written this term. */
  private growPoints = new Map<string, number | undefined>();

  constructor(
    private readonly deps: AutoscalerDeps,
    private readonly namespace: string,
    private readonly timing: AutoscalerTiming = { intervalMs: 1000, rateWindowMs: 10_000 },
  ) {}

  /** A new term of leadership: the scale-down window starts over, so the first shrink waits a full delay. */
  reset(): void {
    this.history.clear();
    this.scaling.clear();
    this.inFlight.clear();
    this.leads.clear();
    this.lastLead.clear();
    this.growPoints.clear();
  }

  scalingOf(pool: string): PoolScaling | undefined {
    return this.scaling.get(pool);
  }

  private ensureLeading(): void {
    if (!this.deps.isLeader()) throw new RunAbandoned('this replica no longer holds the lease');
  }

  private autoscaledPools(): Pool[] {
    const pools: Pool[] = [];
    for (const obj of this.deps.informers.pools.list(this.namespace)) {
      if (obj.metadata?.deletionTimestamp) continue;
      const result = validatePoolDocument({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata?.name }, spec: obj.spec });
      if (result.ok && result.pool.spec.autoscaling) pools.push(result.pool);
    }
    return pools;
  }

  async run(): Promise<RunResult> {
    if (!this.deps.informers.synced()) throw new RunAbandoned('informer caches not synced yet');
    this.ensureLeading();
    const pools = this.autoscaledPools();
    const names = new Set(pools.map((p) => p.name));
    for (const map of [this.history, this.scaling, this.inFlight, this.leads, this.lastLead]) for (const name of map.keys()) if (!names.has(name)) map.delete(name);
    for (const name of this.growPoints.keys()) {
      if (names.has(name)) continue;
      await this.deps.store.setGrowPoint(name, undefined);
      this.growPoints.delete(name);
    }
    if (!pools.length) return {};
    const counts = await this.deps.store.status();
    let failure: unknown;
    for (const pool of pools) {
      try {
        await this.scale(pool, counts.pools[pool.name]?.active_calls ?? 0);
        await this.syncGrowPoint(pool);
      } catch (err) {
        if (err instanceof RunAbandoned) throw err;
        this.deps.logger.error('autoscaling failed', { pool: pool.name, error: (err as Error).message });
        failure ??= err;
      }
    }
    if (failure) throw failure;
    return {};
  }

  /**
   * Tells allocate the calls at which this pool next grows, so the
   * allocation that reaches them wakes the leader (cli/operator.ts listens)
   * instead of the breach waiting for the next pass.
   */
  private async syncGrowPoint(pool: Pool): Promise<void> {
    const scaling = this.scaling.get(pool.name);
    const point = scaling && scaling.reason !== 'WorkloadNotFound' ? growAtBusySlots(pool.spec.autoscaling!, pool.spec.capacity, scaling.currentReplicas, this.lastLead.get(pool.name)) : undefined;
    if (this.growPoints.has(pool.name) && this.growPoints.get(pool.name) === point) return;
    this.ensureLeading();
    await this.deps.store.setGrowPoint(pool.name, point);
    this.growPoints.set(pool.name, point);
  }

  private workloadPods(workload: Workload): V1Pod[] {
    return this.deps.informers.pods
      .list(this.namespace)
      .filter((p) => !isTerminated(p) && selectorMatches(workload.selector, p.metadata?.labels ?? {}))
      .filter((p) => workload.ref.kind !== 'StatefulSet' || statefulSetOrdinal(workload.ref.name, podName(p)) !== undefined);
  }

  private publish(pool: string, next: PoolScaling, direction: 'up' | 'down' | 'none'): void {
    const before = this.scaling.get(pool);
    this.scaling.set(pool, next);
    this.deps.metrics.wantedReplicas.set({ pool }, next.wantedReplicas);
    this.deps.metrics.workloadReplicas.set({ pool }, next.currentReplicas);
    const changed = !before || before.reason !== next.reason || before.currentReplicas !== next.currentReplicas || before.wantedReplicas !== next.wantedReplicas;
    if (direction !== 'none' || before?.reason !== next.reason) this.deps.metrics.scaleDecisions.inc({ pool, direction, reason: next.reason });
    if (changed) this.deps.onScalingChange(pool);
  }

  private async annotate(pod: string, annotations: Record<string, string | null>): Promise<boolean> {
    try {
      await this.deps.clients.core.patchNamespacedPod({ name: pod, namespace: this.namespace, body: { metadata: { annotations } } }, mergePatch);
      return true;
    } catch (err) {
      if (statusCode(err) === 404) return false;
      throw err;
    }
  }

  /** The pod as the API server has it now (a decision that puts a pod back into routing must not trust a cache); undefined when gone. */
  private async readPod(name: string): Promise<V1Pod | undefined> {
    try {
      return await this.deps.clients.core.readNamespacedPod({ name, namespace: this.namespace });
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** The deletion cost the pod informer shows for a pod. */
  private cachedCost(name: string): string | undefined {
    return this.deps.informers.pods.get(name, this.namespace)?.metadata?.annotations?.[DELETION_COST_ANNOTATION];
  }

  /**
   * Whether the pod informer shows every picked pod's retiring annotation and
   * cost, and every busy pod's busy cost, waiting up to ANNOTATION_WAIT_MS.
   */
  private async annotationsSeen(pods: readonly string[], busy: readonly string[]): Promise<boolean> {
    const until = Date.now() + ANNOTATION_WAIT_MS;
    for (;;) {
      const seen =
        pods.every((name) => {
          const pod = this.deps.informers.pods.get(name, this.namespace);
          return !pod || (pod.metadata?.annotations?.[RETIRING_ANNOTATION] && pod.metadata.annotations[DELETION_COST_ANNOTATION] === RETIRING_POD_DELETION_COST);
        }) && busy.every((name) => !this.deps.informers.pods.get(name, this.namespace) || this.cachedCost(name) === BUSY_POD_DELETION_COST);
      if (seen) return true;
      if (Date.now() > until) return false;
      this.ensureLeading();
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /**
   * Gives every pod of `names` that Redis shows with calls the busy deletion
   * cost where the informer does not show it yet; returns the busy pods.
   * Read after the pick, so a call taken since the pass began counts.
   */
  private async markBusy(pool: string, names: readonly string[]): Promise<string[]> {
    const routing = await this.deps.store.podRouting(names);
    const busy = names.filter((n) => (routing.get(n)?.calls ?? 0) > 0);
    for (const pod of busy) {
      if (this.cachedCost(pod) === BUSY_POD_DELETION_COST) continue;
      this.ensureLeading();
      this.deps.logger.info('busy pod given its deletion cost before a scale-down', { pool, pod });
      await this.annotate(pod, { [DELETION_COST_ANNOTATION]: BUSY_POD_DELETION_COST, [SAFE_TO_EVICT_ANNOTATION]: 'false' });
    }
    return busy;
  }

  private async markRetiring(pod: string, at: string): Promise<boolean> {
    return this.annotate(pod, { [RETIRING_ANNOTATION]: at, [DELETION_COST_ANNOTATION]: RETIRING_POD_DELETION_COST });
  }

  /** Gives a retiring pod back to routing: the workload keeps it. */
  private async unretire(pool: string, pod: V1Pod, why: string): Promise<void> {
    const name = podName(pod);
    this.ensureLeading();
    await this.annotate(name, { [RETIRING_ANNOTATION]: null, [DELETION_COST_ANNOTATION]: null });
    // Drained by request, or being deleted, it stays draining; sync-pool re-reads that on the next reconcile.
    await this.deps.store.unretirePod(name, Boolean(pod.metadata?.deletionTimestamp) || pod.metadata?.annotations?.['smartrouter.io/drain'] === 'true');
    this.deps.logger.info('retiring pod kept by its workload: it takes calls again', { pod: name, pool, why });
  }

  /**
   * Settles earlier scale-downs: finishes marking pods the pick marked in
   * Redis, gives back pods the workload keeps, and reports pods it removed
   * that were not picked. Returns whether a scale-down is still under way.
   */
  private async settleRetirements(pool: string, workload: Workload, pods: V1Pod[], routing: Map<string, PodRouting>): Promise<boolean> {
    const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
    const retiring = live.filter((p) => p.metadata?.annotations?.[RETIRING_ANNOTATION] || routing.get(podName(p))?.retiring);
    const flight = this.inFlight.get(pool);
    if (flight) {
      const present = new Map(pods.map((p) => [podName(p), p]));
      for (const [name, uid] of flight.before) {
        const now = present.get(name);
        const removed = !now || now.metadata?.uid !== uid || Boolean(now.metadata?.deletionTimestamp);
        if (!removed || flight.picked.has(name) || flight.reported.has(name)) continue;
        flight.reported.add(name);
        const calls = routing.get(name)?.calls ?? 0;
        this.deps.metrics.unexpectedRemovals.inc({ pool });
        this.deps.logger.warn('workload removed a pod the scale-down did not pick', { pool, pod: name, calls });
        void this.deps.events.record({ kind: 'VoiceAgentPool', name: pool }, 'Warning', 'UnexpectedPodRemoved', `${describeWorkload(workload.ref)} removed pod ${name} (${calls} call(s) in routing) during a scale-down that picked ${[...flight.picked].join(', ')}`);
      }
      if ([...flight.picked].every((name) => !live.some((p) => podName(p) === name))) this.inFlight.delete(pool);
    }
    // The controller removes pods only while it has more than its replicas: beyond that, a retiring pod stays.
    if (retiring.length && live.length <= workload.replicas) {
      // Until the controller has caught up with the larger size, it may still be removing pods for the smaller
      // one, and a pod given back could take a call on its way out. Wait for it, then confirm each pod live.
      if (!workload.settled) return true;
      for (const pod of retiring) {
        const fresh = await this.readPod(podName(pod));
        if (!fresh || fresh.metadata?.deletionTimestamp || fresh.metadata?.uid !== pod.metadata?.uid) continue;
        await this.unretire(pool, fresh, `${describeWorkload(workload.ref)} keeps ${workload.replicas} replicas`);
      }
      this.inFlight.delete(pool);
      return false;
    }
    // Picked in Redis, but the annotation patch did not go through: finish it.
    for (const pod of retiring) {
      if (pod.metadata?.annotations?.[RETIRING_ANNOTATION]) continue;
      this.ensureLeading();
      await this.markRetiring(podName(pod), new Date().toISOString());
    }
    return retiring.length > 0;
  }

  private async scale(pool: Pool, busySlots: number): Promise<void> {
    const policy = pool.spec.autoscaling!;
    const { clients, store, logger, events } = this.deps;
    const workloadName = describeWorkload(policy.workloadRef);
    const workload = await readWorkload(clients, this.namespace, policy.workloadRef);
    if (!workload) {
      this.publish(pool.name, { workload: workloadName, wantedReplicas: 0, currentReplicas: 0, reason: 'WorkloadNotFound', message: `${workloadName} does not exist in namespace ${this.namespace}` }, 'none');
      return;
    }
    const pods = this.workloadPods(workload);
    // Pods a scale-down in flight saw too: one the controller removed unpicked is reported with the calls Redis still has for it.
    const routing = await store.podRouting([...new Set([...pods.map(podName), ...(this.inFlight.get(pool.name)?.before.keys() ?? [])])]);
    const underWay = await this.settleRetirements(pool.name, workload, pods, routing);

    const nowMs = Date.now();
    const lead = this.lead(pool.name, busySlots, pods, workload.replicas, nowMs);
    this.lastLead.set(pool.name, lead);
    const decision = decideScale({ policy, busySlots, capacity: pool.spec.capacity, currentReplicas: workload.replicas, nowMs, history: this.history.get(pool.name) ?? [], leadSlots: lead });
    this.history.set(pool.name, decision.history);
    const previous = this.scaling.get(pool.name);
    const base = { workload: workloadName, wantedReplicas: decision.wanted, currentReplicas: workload.replicas, lastScaleTime: previous?.lastScaleTime };

    // The pool holds what the workload has: the autoscaler owns spec.replicas while it is on.
    const alignPool = async (replicas: number) => {
      if (pool.spec.replicas !== replicas) await scalePool(clients, this.namespace, pool.name, replicas);
    };

    if (decision.target > workload.replicas) {
      this.ensureLeading();
      await scaleWorkload(clients, this.namespace, workload.ref, decision.target);
      this.leads.get(pool.name)?.growths.push({ sinceMs: nowMs, servingTarget: decision.target });
      await alignPool(decision.target);
      const lastScaleTime = new Date().toISOString();
      logger.info('workload scaled up', { pool: pool.name, workload: workloadName, from: workload.replicas, to: decision.target, reason: decision.reason });
      void events.record({ kind: 'VoiceAgentPool', name: pool.name }, 'Normal', 'ScaledUp', `${workloadName} ${workload.replicas} -> ${decision.target}: ${decision.message}`);
      this.publish(pool.name, { ...base, currentReplicas: decision.target, reason: decision.reason, message: decision.message, lastScaleTime }, 'up');
      return;
    }
    if (decision.target < workload.replicas) {
      if (underWay) {
        this.publish(pool.name, { ...base, reason: 'ScaleDownInProgress', message: `waiting for ${workloadName} to remove the pods picked by the last scale-down` }, 'none');
        return;
      }
      if (!workload.settled) {
        this.publish(pool.name, { ...base, reason: 'WorkloadNotSettled', message: `${workloadName} is rolling out or catching up with its spec: scale-downs wait, since the rollout chooses which pods go` }, 'none');
        return;
      }
      await this.scaleDown(pool, workload, pods, decision.target, decision.reason, decision.message, base);
      return;
    }
    await alignPool(workload.replicas);
    this.publish(pool.name, { ...base, reason: decision.reason, message: decision.message }, 'none');
  }

  /**
   * Calls expected to arrive before a scale-up started now would serve: the
   * rise of busy slots over the rate window times the time new pods took to
   * serve (patch to Ready in the pool, the longest of the last few growths)
   * plus one pass interval (a breach waits that long to be seen).
   */
  private lead(pool: string, busySlots: number, pods: readonly V1Pod[], replicas: number, nowMs: number): number {
    if (this.timing.rateWindowMs <= 0) return 0;
    const state = this.leads.get(pool) ?? { busy: [], growths: [], startSamplesMs: [] };
    this.leads.set(pool, state);
    state.busy = keepBusySamples(state.busy, { atMs: nowMs, busy: busySlots }, this.timing.rateWindowMs);
    const serving = pods.filter((p) => !p.metadata?.deletionTimestamp && p.metadata?.labels?.[POOL_LABEL] === pool && isReady(p)).length;
    const settled = settleGrowths(state.growths, serving, replicas, nowMs);
    state.growths = settled.pending;
    state.startSamplesMs = [...state.startSamplesMs, ...settled.samplesMs].slice(-START_SAMPLES);
    const leadMs = podStartEstimateMs(state.startSamplesMs) + this.timing.intervalMs;
    return leadSlots(busyRisePerSecond(state.busy, this.timing.rateWindowMs), leadMs / 1000);
  }

  private async scaleDown(pool: Pool, workload: Workload, pods: V1Pod[], target: number, reason: ScaleReason, why: string, base: Omit<PoolScaling, 'reason' | 'message'>): Promise<void> {
    const { clients, store, logger, events, metrics } = this.deps;
    const workloadName = describeWorkload(workload.ref);
    const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
    const names = live.map(podName);
    const candidates =
      workload.ref.kind === 'StatefulSet'
        ? statefulSetRemovalOrder(workload.ref.name, names, workload.replicas, target)
        : replicaSetRemovalOrder(
            live.map((p) => ({
              name: podName(p),
              assigned: Boolean(p.spec?.nodeName),
              phase: p.status?.phase ?? 'Pending',
              ready: isReady(p),
              inPool: Boolean(p.metadata?.labels?.[POOL_LABEL]),
            })),
          );
    // The pick must see every pod the controller ranks: a pod missing from the cache could be the one it removes.
    if (workload.ref.kind === 'Deployment' && live.length !== workload.replicas) {
      this.publish(pool.name, { ...base, reason: 'WorkloadNotSettled', message: `${live.length} pod(s) of ${workloadName} seen for ${workload.replicas} replicas: scale-downs wait until they agree` }, 'none');
      return;
    }
    const wantGone = workload.replicas - target;
    this.ensureLeading();
    const at = new Date().toISOString();
    const { picked, blockedBy } = wantGone > 0 ? await store.retireIdlePods(candidates, wantGone) : { picked: [] as string[], blockedBy: undefined };
    const marked: string[] = [];
    for (const pod of picked) {
      this.ensureLeading();
      let ok = false;
      try {
        ok = await this.markRetiring(pod, at);
      } catch (err) {
        metrics.writeFailed('pod', err);
        logger.warn('could not mark a retiring pod; giving it back', { pool: pool.name, pod, error: (err as Error).message });
      }
      if (ok) marked.push(pod);
      else await store.unretirePod(pod, false);
    }
    // The ReplicaSet ranks pods by the deletion cost its own cache holds: lowering the replicas before the
    // annotations reached the watches would let it remove another (maybe freshly busy) pod. So every pod
    // Redis shows with calls now must carry the busy cost as well: one that took its first call since the
    // metadata writer's last patch has none yet, and a controller whose cache lags on the picked pods'
    // cost would rank it with the idle ones. Write it here (the same value the writer would write), then
    // wait until our informer, which watches the same API server, shows every annotation; if it never
    // does, give the picked pods back.
    const busy = workload.ref.kind === 'Deployment' && marked.length ? await this.markBusy(pool.name, names.filter((n) => !marked.includes(n))) : [];
    if (workload.ref.kind === 'Deployment' && marked.length && !(await this.annotationsSeen(marked, busy))) {
      for (const pod of marked) {
        await this.annotate(pod, { [RETIRING_ANNOTATION]: null, [DELETION_COST_ANNOTATION]: null });
        await store.unretirePod(pod, false);
      }
      this.publish(pool.name, { ...base, reason: 'ScaleDownBlocked', message: `the deletion cost of the picked or busy pods did not show in the watch within ${ANNOTATION_WAIT_MS} ms: retrying` }, 'none');
      return;
    }
    const next = workload.ref.kind === 'StatefulSet' ? statefulSetReplicasAfter(workload.ref.name, names, workload.replicas, target, marked) : workload.replicas - marked.length;
    const blocked =
      blockedBy === undefined
        ? ''
        : workload.ref.kind === 'StatefulSet'
          ? `pod ${blockedBy} holds calls, and a StatefulSet removes its highest ordinals first`
          : `pod ${blockedBy} holds calls, and the ReplicaSet would remove it before the idle pods (it is not Ready, not Running or not scheduled)`;
    if (next >= workload.replicas) {
      const message = blocked ? `shrinking ${workloadName} to ${target} waits: ${blocked}` : `no idle pod to remove from ${workloadName}`;
      if (this.scaling.get(pool.name)?.reason !== 'ScaleDownBlocked') void events.record({ kind: 'VoiceAgentPool', name: pool.name }, 'Normal', 'ScaleDownBlocked', message);
      this.publish(pool.name, { ...base, reason: 'ScaleDownBlocked', message }, 'none');
      return;
    }
    this.ensureLeading();
    this.inFlight.set(pool.name, { picked: new Set(marked), before: new Map(live.map((p) => [podName(p), p.metadata?.uid])), reported: new Set() });
    await scaleWorkload(clients, this.namespace, workload.ref, next);
    if (pool.spec.replicas !== next) await scalePool(clients, this.namespace, pool.name, next);
    metrics.retiredPods.inc({ pool: pool.name }, marked.length);
    const listed = `${marked.slice(0, 10).join(', ')}${marked.length > 10 ? ', ...' : ''}`;
    logger.info('workload scaled down by idle pods', { pool: pool.name, workload: workloadName, from: workload.replicas, to: next, pods: marked });
    void events.record({ kind: 'VoiceAgentPool', name: pool.name }, 'Normal', 'ScaledDown', `${workloadName} ${workload.replicas} -> ${next}, removing idle pod(s) ${listed}: ${why}${blocked ? `; not further: ${blocked}` : ''}`);
    this.publish(pool.name, { ...base, currentReplicas: next, reason, message: why, lastScaleTime: new Date().toISOString() }, 'down');
  }
}
