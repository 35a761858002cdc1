// The autoscaler's decision flow, pass by pass, with the cluster, the caches
// and Redis replaced by small in-memory fakes. What the real API server and
// the real Lua scripts do is tested against them (test/integration/lua,
// e2e/operator/autoscaling); here: which patches, picks and Events follow
// from which calls and pods.
import { jest } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { silentLogger } from '../../../core/logger.js';
import type { RetireCandidate } from '../../../core/scale-down-order.js';
import type { PodRouting, RoutingStore } from '../../../lua/routing-store.js';
import type { EventRecorder } from '../../../operator/events.js';
import type { FleetInformers } from '../../../operator/informers.js';
import type { KubeClients } from '../../../operator/kube-client.js';
import { OperatorMetrics } from '../../../operator/operator-metrics.js';
import { RunAbandoned } from '../../../operator/reconcile-loop.js';
import { WorkloadAutoscaler } from '../../../operator/workload-autoscaler.js';

const NS = 'voice';
const T0 = Date.UTC(2026, 0, 1);

interface Autoscaling {
  bufferSlots: number;
  minReplicas: number;
  maxReplicas: number;
  scaleDownDelaySeconds: number;
}

/** The cluster, the informer caches and Redis as the autoscaler sees them, and what it did to them. */
class FakeFleet {
  replicas: number;
  pods: V1Pod[] = [];
  calls = new Map<string, number>();
  retiring = new Set<string>();
  leader = true;
  /** The Deployment controller has caught up with spec.replicas. */
  settled = true;
  /** Pods the API server already has a deletionTimestamp for, before the informer shows it. */
  deletingLive = new Set<string>();
  workloadPatches: number[] = [];
  poolPatches: number[] = [];
  events: { type: string; reason: string; message: string }[] = [];
  growPoints: (number | undefined)[] = [];
  private seq = 0;

  constructor(
    public policy: Autoscaling,
    replicas: number,
  ) {
    this.replicas = replicas;
    for (let i = 0; i < replicas; i++) this.addPod(true);
  }

  addPod(ready: boolean): V1Pod {
    const pod: V1Pod = {
      metadata: { name: `agent-${this.seq++}`, uid: `uid-${this.seq}`, namespace: NS, labels: { app: 'agent', ...(ready ? { 'smartrouter.io/pool': 'standard' } : {}) }, annotations: {} },
      spec: { nodeName: 'node-1', containers: [] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
    };
    this.pods.push(pod);
    return pod;
  }

  /** The ReplicaSet catches up: new pods for a growth (not Ready yet), the lowest cost removed for a shrink. */
  converge(): void {
    while (this.pods.length < this.replicas) this.addPod(false);
    const cost = (p: V1Pod) => Number(p.metadata?.annotations?.['controller.kubernetes.io/pod-deletion-cost'] ?? 0);
    while (this.pods.length > this.replicas) {
      const victim = [...this.pods].sort((a, b) => cost(a) - cost(b))[0]!;
      this.pods = this.pods.filter((p) => p !== victim);
    }
  }

  /** The ReplicaSet shrinks on a cache that has not seen the picked pods' cost yet (it sees the rest). */
  convergeBlindTo(picked: ReadonlySet<string>): void {
    const cost = (p: V1Pod) => (picked.has(p.metadata!.name!) ? 0 : Number(p.metadata?.annotations?.['controller.kubernetes.io/pod-deletion-cost'] ?? 0));
    while (this.pods.length > this.replicas) {
      const victim = [...this.pods].sort((a, b) => cost(a) - cost(b))[0]!;
      this.pods = this.pods.filter((p) => p !== victim);
    }
  }

  /** Every pod Ready and in the pool. */
  allReady(): void {
    for (const p of this.pods) {
      p.status!.conditions = [{ type: 'Ready', status: 'True' }];
      p.metadata!.labels!['smartrouter.io/pool'] = 'standard';
    }
  }

  busy(): number {
    return [...this.calls.values()].reduce((a, b) => a + b, 0);
  }

  clients(): KubeClients {
    const deployment = () => ({
      metadata: { name: 'agent', generation: 2 },
      spec: { replicas: this.replicas, selector: { matchLabels: { app: 'agent' } } },
      status: { observedGeneration: this.settled ? 2 : 1, replicas: this.replicas, updatedReplicas: this.replicas },
    });
    return {
      apps: {
        readNamespacedDeployment: async () => deployment(),
        patchNamespacedDeploymentScale: async ({ body }: { body: { spec: { replicas: number } } }) => {
          this.workloadPatches.push(body.spec.replicas);
          this.replicas = body.spec.replicas;
          return {};
        },
      },
      custom: {
        patchNamespacedCustomObjectScale: async ({ body }: { body: { spec: { replicas: number } } }) => {
          this.poolPatches.push(body.spec.replicas);
          return {};
        },
      },
      core: {
        readNamespacedPod: async ({ name }: { name: string }) => {
          const pod = this.pods.find((p) => p.metadata?.name === name);
          if (!pod) throw Object.assign(new Error('not found'), { code: 404 });
          return this.deletingLive.has(name) ? { ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date() } } : pod;
        },
        patchNamespacedPod: async ({ name, body }: { name: string; body: { metadata: { annotations: Record<string, string | null> } } }) => {
          const pod = this.pods.find((p) => p.metadata?.name === name);
          if (!pod) throw Object.assign(new Error('not found'), { code: 404 });
          for (const [k, v] of Object.entries(body.metadata.annotations)) {
            if (v === null) delete pod.metadata!.annotations![k];
            else pod.metadata!.annotations![k] = v;
          }
          return pod;
        },
      },
    } as unknown as KubeClients;
  }

  informers(): FleetInformers {
    const pool = () => ({
      apiVersion: 'smartrouter.io/v1alpha1',
      kind: 'VoiceAgentPool',
      metadata: { name: 'standard', namespace: NS },
      spec: { tier: 'standard', exclusive: true, replicas: this.replicas, selector: { matchLabels: { app: 'agent' } }, autoscaling: { workloadRef: { kind: 'Deployment', name: 'agent' }, ...this.policy } },
    });
    return {
      synced: () => true,
      watchesUp: () => true,
      pods: { list: () => [...this.pods], get: (name: string) => this.pods.find((p) => p.metadata?.name === name) },
      pools: { list: () => [pool()], get: () => pool() },
    } as unknown as FleetInformers;
  }

  /** Redis: calls per pod, and the retire step: idle candidates in order, a tier whole before the next. */
  store(): RoutingStore {
    return {
      status: async () => ({ pools: { standard: { active_calls: this.busy() } } }),
      podRouting: async (names: readonly string[]) =>
        new Map<string, PodRouting>(names.map((n) => [n, { pool: 'standard', draining: this.retiring.has(n), incarnation: '', calls: this.calls.get(n) ?? 0, ...(this.retiring.has(n) ? { retiring: true } : {}) }])),
      retireIdlePods: async (candidates: readonly RetireCandidate[], count: number) => {
        const picked: string[] = [];
        for (const c of candidates) {
          if (picked.length === count) break;
          if ((this.calls.get(c.pod) ?? 0) > 0) continue;
          picked.push(c.pod);
          this.retiring.add(c.pod);
        }
        return { picked };
      },
      unretirePod: async (pod: string) => this.retiring.delete(pod),
      setGrowPoint: async (_pool: string, at: number | undefined) => {
        this.growPoints.push(at);
        return true;
      },
    } as unknown as RoutingStore;
  }

  autoscaler(rateWindowMs = 0): WorkloadAutoscaler {
    const events = { record: async (_t: unknown, type: string, reason: string, message: string) => void this.events.push({ type, reason, message }) } as unknown as EventRecorder;
    return new WorkloadAutoscaler(
      { clients: this.clients(), informers: this.informers(), store: this.store(), events, metrics: new OperatorMetrics(new Registry()), logger: silentLogger(), isLeader: () => this.leader, onScalingChange: () => undefined },
      NS,
      { intervalMs: 1000, rateWindowMs },
    );
  }
}

const podNames = (fleet: FakeFleet) => fleet.pods.map((p) => p.metadata!.name!);

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['setTimeout', 'setInterval', 'setImmediate', 'nextTick', 'queueMicrotask'] });
  jest.setSystemTime(T0);
});
afterEach(() => jest.useRealTimers());
const advance = (ms: number) => jest.setSystemTime(Date.now() + ms);

test('a breach grows the workload and the pool in the same pass, to busy slots plus the buffer', async () => {
  const fleet = new FakeFleet({ bufferSlots: 2, minReplicas: 2, maxReplicas: 10, scaleDownDelaySeconds: 60 }, 3);
  const autoscaler = fleet.autoscaler();
  fleet.calls.set('agent-0', 1);
  fleet.calls.set('agent-1', 1);
  await autoscaler.run();
  expect(fleet.workloadPatches).toEqual([4]);
  expect(fleet.poolPatches).toEqual([4]);
  expect(autoscaler.scalingOf('standard')).toMatchObject({ reason: 'BufferBreached', wantedReplicas: 4, currentReplicas: 4 });
  expect(fleet.events.map((e) => e.reason)).toEqual(['ScaledUp']);
});

test('pods still starting count toward the buffer: the next pass does not grow again for the same breach', async () => {
  const fleet = new FakeFleet({ bufferSlots: 2, minReplicas: 2, maxReplicas: 10, scaleDownDelaySeconds: 60 }, 3);
  const autoscaler = fleet.autoscaler();
  fleet.calls.set('agent-0', 1);
  fleet.calls.set('agent-1', 1);
  await autoscaler.run();
  fleet.converge(); // agent-3 exists, not Ready yet
  advance(1000);
  await autoscaler.run();
  expect(fleet.workloadPatches).toEqual([4]);
  expect(autoscaler.scalingOf('standard')?.reason).toBe('AsWanted');
});

test('with a rising load the workload grows ahead of it: the rise times the measured pod start is kept free too', async () => {
  const fleet = new FakeFleet({ bufferSlots: 2, minReplicas: 2, maxReplicas: 40, scaleDownDelaySeconds: 60 }, 2);
  const autoscaler = fleet.autoscaler(10_000);
  let n = 0;
  const callsOn = (count: number) => {
    while (n < count) fleet.calls.set(`call-${n++}`, 1);
  };
  // One call a second for 10 s; each growth's pods serve 3 s after the patch.
  const readyAt: number[] = [];
  for (let s = 0; s <= 10; s++) {
    callsOn(s);
    const before = fleet.workloadPatches.length;
    await autoscaler.run();
    if (fleet.workloadPatches.length > before) readyAt.push(Date.now() + 3000);
    fleet.converge();
    if (readyAt.length && Date.now() >= readyAt[0]!) {
      readyAt.length = 0;
      fleet.allReady();
    }
    advance(1000);
  }
  // Without the lead the workload would be at 10 busy + 2 = 12; one call a second for (about 3 s + a 1 s pass) is kept free too.
  const last = fleet.workloadPatches[fleet.workloadPatches.length - 1]!;
  expect(last).toBeGreaterThanOrEqual(14);
  expect(autoscaler.scalingOf('standard')?.message).toMatch(/for the calls arriving while pods start/);
});

test('the same rise with the lead off keeps only the buffer', async () => {
  const fleet = new FakeFleet({ bufferSlots: 2, minReplicas: 2, maxReplicas: 40, scaleDownDelaySeconds: 60 }, 2);
  const autoscaler = fleet.autoscaler(0);
  for (let s = 0; s <= 10; s++) {
    fleet.calls.set(`call-${s}`, 1);
    await autoscaler.run();
    fleet.converge();
    fleet.allReady();
    advance(1000);
  }
  expect(fleet.workloadPatches[fleet.workloadPatches.length - 1]).toBe(13);
});

test('a shrink waits out the delay, then removes idle pods only: picked, given the lowest cost, then the replicas lowered', async () => {
  const fleet = new FakeFleet({ bufferSlots: 1, minReplicas: 1, maxReplicas: 10, scaleDownDelaySeconds: 30 }, 5);
  const autoscaler = fleet.autoscaler();
  fleet.calls.set('agent-2', 1); // busy: 1 + 1 free wants 2 pods
  await autoscaler.run();
  expect(autoscaler.scalingOf('standard')?.reason).toBe('ScaleDownDelayed');
  advance(10_000);
  await autoscaler.run();
  expect(fleet.workloadPatches).toEqual([]);

  advance(25_000);
  await autoscaler.run();
  expect(fleet.workloadPatches).toEqual([2]);
  expect(fleet.poolPatches).toEqual([2]);
  expect(autoscaler.scalingOf('standard')?.reason).toBe('BufferExceeded');
  const picked = [...fleet.retiring];
  expect(picked).toHaveLength(3);
  expect(picked).not.toContain('agent-2');
  for (const name of picked) {
    const pod = fleet.pods.find((p) => p.metadata?.name === name)!;
    expect(pod.metadata?.annotations).toMatchObject({ 'controller.kubernetes.io/pod-deletion-cost': '-1000', 'smartrouter.io/retiring': expect.any(String) });
  }
  expect(fleet.events.find((e) => e.reason === 'ScaledDown')?.message).toMatch(/5 -> 2, removing idle pod\(s\)/);

  // The ReplicaSet removes the picked pods: nothing unexpected, and the busy pod stays.
  fleet.converge();
  advance(1000);
  await autoscaler.run();
  expect(podNames(fleet)).toContain('agent-2');
  expect(fleet.events.filter((e) => e.reason === 'UnexpectedPodRemoved')).toEqual([]);
});

test('a pod that took a call since its last metadata patch gets the busy cost before the replicas are lowered', async () => {
  const fleet = new FakeFleet({ bufferSlots: 1, minReplicas: 1, maxReplicas: 10, scaleDownDelaySeconds: 0 }, 5);
  const autoscaler = fleet.autoscaler();
  // agent-0 is busy in Redis, but no writer has given it the busy cost yet: it looks like any idle pod.
  fleet.calls.set('agent-0', 1);
  await autoscaler.run();
  expect(fleet.workloadPatches).toEqual([2]);
  expect(fleet.pods.find((p) => p.metadata?.name === 'agent-0')?.metadata?.annotations).toMatchObject({ 'controller.kubernetes.io/pod-deletion-cost': '1000' });
  // Even a controller whose cache lags on the picked pods' cost removes idle pods, not the busy one.
  fleet.convergeBlindTo(new Set(fleet.retiring));
  expect(podNames(fleet)).toContain('agent-0');
});

test('no further shrink starts while the last one\'s pods are still there', async () => {
  const fleet = new FakeFleet({ bufferSlots: 1, minReplicas: 1, maxReplicas: 10, scaleDownDelaySeconds: 0 }, 5);
  const autoscaler = fleet.autoscaler();
  fleet.calls.set('agent-0', 1);
  await autoscaler.run();
  expect(fleet.workloadPatches).toEqual([2]);
  // The ReplicaSet has not removed them yet, and the load fell further.
  fleet.calls.clear();
  advance(1000);
  await autoscaler.run();
  expect(fleet.workloadPatches).toEqual([2]);
  expect(autoscaler.scalingOf('standard')?.reason).toBe('ScaleDownInProgress');
});

test('a picked pod goes back to routing only once the workload caught up with a larger size, and only if it is not on its way out', async () => {
  const fleet = new FakeFleet({ bufferSlots: 1, minReplicas: 1, maxReplicas: 10, scaleDownDelaySeconds: 0 }, 5);
  const autoscaler = fleet.autoscaler();
  fleet.calls.set('agent-0', 1);
  await autoscaler.run(); // 1 busy + 1 wants 2: three idle pods picked
  expect(fleet.workloadPatches).toEqual([2]);
  const picked = [...fleet.retiring].sort();
  expect(picked).toHaveLength(3);
  // Calls come back before the ReplicaSet removed the picked pods: the workload grows to 5 again.
  fleet.calls.set('agent-4', 1);
  fleet.calls.set('agent-x', 2);
  fleet.settled = false;
  advance(1000);
  await autoscaler.run();
  expect(fleet.workloadPatches).toEqual([2, 5]);
  // 5 pods for 5 replicas, but the controller has not caught up: it may still remove pods for 2.
  advance(1000);
  await autoscaler.run();
  expect([...fleet.retiring].sort()).toEqual(picked);
  // Caught up; one picked pod is already being deleted (the informer does not show it yet): it stays out of routing.
  fleet.settled = true;
  fleet.deletingLive.add(picked[0]!);
  advance(1000);
  await autoscaler.run();
  expect([...fleet.retiring]).toEqual([picked[0]]);
});

test('a pod the workload removed that the shrink did not pick is reported with a Warning', async () => {
  const fleet = new FakeFleet({ bufferSlots: 1, minReplicas: 1, maxReplicas: 10, scaleDownDelaySeconds: 0 }, 4);
  const autoscaler = fleet.autoscaler();
  fleet.calls.set('agent-0', 1);
  fleet.calls.set('agent-1', 1);
  await autoscaler.run(); // 2 busy + 1 wants 3: one idle pod picked
  expect(fleet.workloadPatches).toEqual([3]);
  const picked = [...fleet.retiring][0]!;
  // The controller removes the busy agent-1 instead of the picked pod (a cache that lagged).
  fleet.pods = fleet.pods.filter((p) => p.metadata?.name !== 'agent-1');
  advance(1000);
  await autoscaler.run();
  const warning = fleet.events.find((e) => e.reason === 'UnexpectedPodRemoved');
  expect(warning).toMatchObject({ type: 'Warning' });
  expect(warning?.message).toContain('removed pod agent-1 (1 call(s) in routing)');
  expect(warning?.message).toContain(picked);
});

test('after each pass Redis holds the calls at which the next growth is due, written only when it moves', async () => {
  const fleet = new FakeFleet({ bufferSlots: 2, minReplicas: 2, maxReplicas: 5, scaleDownDelaySeconds: 60 }, 3);
  const autoscaler = fleet.autoscaler();
  await autoscaler.run();
  // 3 pods, buffer 2: the second call leaves 1 free.
  expect(fleet.growPoints).toEqual([2]);
  advance(1000);
  await autoscaler.run();
  expect(fleet.growPoints).toEqual([2]);
  fleet.calls.set('agent-0', 1);
  fleet.calls.set('agent-1', 1);
  await autoscaler.run(); // grows to 4: the next growth at 3 calls
  fleet.converge();
  fleet.calls.set('agent-2', 1);
  advance(1000);
  await autoscaler.run(); // grows to 5, the maximum: no call can grow it further
  expect(fleet.workloadPatches).toEqual([4, 5]);
  expect(fleet.growPoints).toEqual([2, 3, undefined]);
});

test('a replica that lost the lease stops before any patch', async () => {
  const fleet = new FakeFleet({ bufferSlots: 2, minReplicas: 2, maxReplicas: 10, scaleDownDelaySeconds: 60 }, 2);
  const autoscaler = fleet.autoscaler();
  fleet.calls.set('agent-0', 1);
  fleet.leader = false;
  await expect(autoscaler.run()).rejects.toBeInstanceOf(RunAbandoned);
  expect(fleet.workloadPatches).toEqual([]);
});
