// In-memory stand-ins for the informer caches and the few API calls the
// reconciler makes, for fast tests of the reconciler against a real Redis.
// They apply merge patches the way the API server does for these fields and
// bump resourceVersion, nothing more; e2e/ runs the same code against a real
// API server.
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { RouterMetrics } from '../../api/metrics.js';
import { silentLogger } from '../../core/logger.js';
import type { LostStateGrace } from '../../core/lost-state-grace.js';
import type { PoolSpec } from '../../core/pool-types.js';
import { EventRecorder } from '../../operator/events.js';
import { FleetReconciler } from '../../operator/fleet-reconciler.js';
import { PodChangeFilter, type PodNews } from '../../operator/pod-change-filter.js';
import { mergeStringMap } from '../../operator/pod-metadata.js';
import type { WriteFailureSink } from '../../operator/operator-metrics.js';
import type { FleetInformers, VoiceAgentPoolObject } from '../../operator/informers.js';
import type { KubeClients } from '../../operator/kube-client.js';
import type { RoutingStore } from '../../lua/routing-store.js';

export const NAMESPACE = 'fleet-test';

type Meta = { name?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };

/** An API error as @kubernetes/client-node throws it. */
export class FakeApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface PodPatch {
  pod: string;
  labels?: Record<string, string | null>;
  annotations?: Record<string, string | null>;
}

/** Pods and pools, their caches, and the API calls the reconciler makes. */
export class FakeFleet {
  readonly pods = new Map<string, V1Pod>();
  /** The last object deleted under each name, as a watch's delete event carries it. */
  readonly deleted = new Map<string, V1Pod>();
  readonly pools = new Map<string, VoiceAgentPoolObject>();
  readonly podPatches: PodPatch[] = [];
  readonly statusWrites: { pool: string; status: unknown }[] = [];
  readonly events: CoreV1Event[] = [];
  /** Pods whose patches the "API server" rejects (a policy denying them). */
  readonly rejectPodPatches = new Set<string>();
  /** Pools whose status writes fail. */
  readonly rejectStatus = new Set<string>();
  /** When set, every Event creation fails. */
  rejectEvents = false;
  /** Pods whose patches hang until {@link releaseHungPatches} (an API server that does not answer). */
  readonly hangPodPatches = new Set<string>();
  /** Pods whose live reads hang until {@link releaseHungPatches}. */
  readonly hangPodReads = new Set<string>();
  private hung: (() => void)[] = [];
  /**
   * Where the API server is ahead of the caches: what a live GET returns for
   * these pods (null: not found), instead of what the cache holds.
   */
  readonly apiServerAhead = new Map<string, V1Pod | null>();
  /** False: a watch is down (the caches may miss changes). */
  watchesUp = true;
  private version = 1;

  private nextVersion(): string {
    return String(++this.version);
  }

  addPod(name: string, opts: { labels?: Record<string, string>; annotations?: Record<string, string>; ready?: boolean; uid?: string } = {}): V1Pod {
    const pod: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: NAMESPACE, uid: opts.uid ?? `${name}-uid`, resourceVersion: this.nextVersion(), labels: { app: 'voice-agent', ...opts.labels }, annotations: opts.annotations },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }], containerStatuses: [] },
    };
    this.pods.set(name, pod);
    return pod;
  }

  /** Changes a pod as a user or a controller would (annotate, start deleting). */
  updatePod(name: string, change: (pod: V1Pod) => void): void {
    const pod = structuredClone(this.pods.get(name));
    if (!pod) throw new Error(`no pod ${name}`);
    change(pod);
    pod.metadata!.resourceVersion = this.nextVersion();
    this.pods.set(name, pod);
  }

  deletePod(name: string): void {
    const pod = this.pods.get(name);
    if (pod) this.deleted.set(name, pod);
    this.pods.delete(name);
  }

  addPool(name: string, spec: Partial<PoolSpec> & { replicas: number }): void {
    this.pools.set(name, {
      apiVersion: 'smartrouter.io/v1alpha1',
      kind: 'VoiceAgentPool',
      metadata: { name, namespace: NAMESPACE, uid: `${name}-uid`, generation: 1, resourceVersion: this.nextVersion() },
      spec: { tier: name, selector: { matchLabels: { app: 'voice-agent' } }, ...spec },
    });
  }

  deletePool(name: string): void {
    this.pools.delete(name);
  }

  informers(): FleetInformers {
    const cache = <T extends { metadata?: Meta }>(map: Map<string, T>) => ({
      get: (name: string) => map.get(name),
      list: () => [...map.values()],
    });
    return {
      pods: cache(this.pods),
      pools: cache(this.pools),
      synced: () => true,
      watchesUp: () => this.watchesUp,
      start: async () => undefined,
      stop: async () => undefined,
    } as unknown as FleetInformers;
  }

  clients(): KubeClients {
    const core = {
      readNamespacedPod: async ({ name }: { name: string }) => {
        if (this.hangPodReads.has(name)) await new Promise<void>((resolve) => this.hung.push(resolve));
        const pod = this.apiServerAhead.has(name) ? this.apiServerAhead.get(name) : this.pods.get(name);
        if (!pod) throw new FakeApiError(404, `pods "${name}" not found`);
        return structuredClone(pod);
      },
      patchNamespacedPod: async ({ name, body }: { name: string; body: { metadata: PodPatch } }) => {
        const pod = this.pods.get(name);
        if (!pod) throw new FakeApiError(404, `pods "${name}" not found`);
        if (this.hangPodPatches.has(name)) await new Promise<void>((resolve) => this.hung.push(resolve));
        if (this.rejectPodPatches.has(name)) throw new FakeApiError(403, `pods "${name}" is forbidden: denied by policy`);
        this.podPatches.push({ pod: name, labels: body.metadata.labels, annotations: body.metadata.annotations });
        this.updatePod(name, (p) => {
          p.metadata!.labels = mergeStringMap(p.metadata!.labels, body.metadata.labels);
          p.metadata!.annotations = mergeStringMap(p.metadata!.annotations, body.metadata.annotations);
        });
        return this.pods.get(name);
      },
      createNamespacedEvent: async ({ body }: { body: CoreV1Event }) => {
        if (this.rejectEvents) throw new FakeApiError(500, 'events unavailable');
        this.events.push(body);
        return body;
      },
    };
    const custom = {
      patchNamespacedCustomObjectStatus: async ({ name, body }: { name: string; body: { status: unknown } }) => {
        const pool = this.pools.get(name);
        if (!pool) throw new FakeApiError(404, `voiceagentpools "${name}" not found`);
        if (this.rejectStatus.has(name)) throw new FakeApiError(422, `voiceagentpools "${name}" status is invalid`);
        this.statusWrites.push({ pool: name, status: body.status });
        this.pools.set(name, { ...pool, status: body.status as VoiceAgentPoolObject['status'], metadata: { ...pool.metadata, resourceVersion: this.nextVersion() } });
        return this.pools.get(name);
      },
    };
    return { core, custom, coordination: {} } as unknown as KubeClients;
  }

  /** Lets hung patches and reads go on (and fail if their pod is also rejected). */
  releaseHungPatches(): void {
    this.hangPodPatches.clear();
    this.hangPodReads.clear();
    for (const resolve of this.hung.splice(0)) resolve();
  }

  /** How many patches hang now. */
  get hungPatches(): number {
    return this.hung.length;
  }

  /** Event reasons recorded on one object, in order. */
  eventsOn(name: string): { reason: string; message: string }[] {
    return this.events.filter((e) => e.involvedObject.name === name).map((e) => ({ reason: e.reason ?? '', message: e.message ?? '' }));
  }
}

export interface ReconcilerHarness {
  reconciler: FleetReconciler;
  metrics: RouterMetrics;
  /** One reconcile and the API writes it hands off, done. */
  run(): Promise<void>;
  /** Delays the reconciler asked to be run again after. */
  requeues: number[];
  /** What each successful run covered, in order. */
  scopes: ('fleet' | 'pod')[];
  /** Waits for the readiness lane and the API writes; runs the plan the lane asked for, if it asked. */
  settle(): Promise<void>;
  /**
   * Tells the reconciler of a pod's watch event as the operator does: through
   * a PodChangeFilter (which also hears the answers to the reconciler's own
   * patches) to readinessChanged or planAll. Returns what the event meant.
   */
  tell(verb: 'add' | 'update' | 'delete', pod: string): PodNews;
}

/** A reconciler over the fake fleet and a real routing store, leading. */
export function fakeFleetReconciler(fleet: FakeFleet, store: RoutingStore, opts: { fullResyncMs?: number; planEveryMs?: number; statusCountsIntervalMs?: number; statusCountWritesPerMinute?: number; now?: () => number; grace?: LostStateGrace; writeFailures?: WriteFailureSink } = {}): ReconcilerHarness {
  const clients = fleet.clients();
  const logger = silentLogger();
  const metrics = new RouterMetrics(store);
  const events = new EventRecorder(clients.core, NAMESPACE, 'test', logger, opts.writeFailures);
  const requeues: number[] = [];
  const scopes: ('fleet' | 'pod')[] = [];
  const filter = new PodChangeFilter();
  for (const pod of fleet.pods.values()) filter.classify('add', pod);
  const reconciler = new FleetReconciler(
    { clients, informers: fleet.informers(), store, metrics, events, logger, isLeader: () => true, requeue: (ms) => requeues.push(ms), grace: opts.grace, writeFailures: opts.writeFailures, podWrites: filter, ran: (scope) => scopes.push(scope) },
    // A failed write waits a minute: long enough that no test sees it retried by the clock, only by a change.
    { namespace: NAMESPACE, fullResyncMs: opts.fullResyncMs ?? 300_000, planEveryMs: opts.planEveryMs, statusCountsIntervalMs: opts.statusCountsIntervalMs ?? 0, statusCountWritesPerMinute: opts.statusCountWritesPerMinute ?? 100_000, now: opts.now, patchConcurrency: 4, writeRetryBaseMs: 60_000, writeRetryMaxMs: 600_000 },
  );
  const run = async () => {
    await reconciler.reconcile();
    await reconciler.apiWritesSettled();
  };
  let requeuesSeen = 0;
  const settle = async () => {
    await reconciler.apiWritesSettled();
    const asked = requeues.slice(requeuesSeen).includes(0);
    requeuesSeen = requeues.length;
    if (asked) await run();
  };
  const tell = (verb: 'add' | 'update' | 'delete', name: string): PodNews => {
    // A deletion's event carries the object deleted, as a watch does.
    const pod = (verb === 'delete' ? fleet.deleted.get(name) : fleet.pods.get(name)) ?? { metadata: { name } };
    const news = filter.classify(verb, pod);
    if (news === 'readiness') reconciler.readinessChanged(name);
    else if (news === 'change') reconciler.podChanged(name, verb === 'delete' ? pod.metadata?.uid : undefined);
    return news;
  };
  return { reconciler, metrics, run, settle, requeues, scopes, tell };
}
