// Voluntary disruptions on the local control plane: a drain reaches Redis
// fast while another pod's patches are refused, a Deployment scale-down
// removes idle pods (call annotations), and a rollout restart keeps every
// call until it is released (the example's preStop hook).
//
// kwok runs no containers, so no preStop hook runs by itself. The rollout
// test keeps each old pod Terminating with a finalizer (as a long grace
// period would), runs the example's exact hook command against the operator
// the moment the pod turns Terminating (what the kubelet does), and removes
// the finalizer only when the hook returns (what the kubelet does next:
// stop the container). What is proven is the contract between the hook and
// smart-router on a real rollout; that the kubelet runs the hook and honours
// terminationGracePeriodSeconds is Kubernetes' own contract.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { packageRoot } from '../../core/paths.js';
import type { RouterProcess } from '../../test/support/router-process.js';
import { api, apply, kubectl, kubectlJson, listPods, metric, operatorEnv, releasePod, waitFor, waitForEvent, type OperatorEnv } from './support.js';

let env: OperatorEnv;
let op: RouterProcess;
const ns = () => env.namespace;
const COST = 'controller.kubernetes.io/pod-deletion-cost';
const SAFE = 'cluster-autoscaler.kubernetes.io/safe-to-evict';
const HOLD = 'smartrouter.io/e2e-hold';

function deployment(name: string, replicas: number, opts: { hold?: boolean } = {}): string {
  const labels = `{ app: voice-agent, deployment: ${name}, e2e-namespace: ${ns()} }`;
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: ${replicas}
  selector: { matchLabels: ${labels} }
  strategy: { type: RollingUpdate, rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }
  template:
    metadata: { labels: ${labels}${opts.hold ? `, finalizers: [${HOLD}]` : ''} }
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{ name: agent, image: voice-agent:test }]
`;
}

interface PodInfo {
  name: string;
  deleting: boolean;
  annotations: Record<string, string>;
  finalizers: string[];
}
async function podsOf(name: string): Promise<PodInfo[]> {
  const list = await kubectlJson<{ items: { metadata: { name: string; deletionTimestamp?: string; annotations?: Record<string, string>; finalizers?: string[] } }[] }>(['get', 'pods', '-l', `deployment=${name}`], ns());
  return list.items.map((p) => ({ name: p.metadata.name, deleting: Boolean(p.metadata.deletionTimestamp), annotations: p.metadata.annotations ?? {}, finalizers: p.metadata.finalizers ?? [] })).sort((a, b) => (a.name < b.name ? -1 : 1));
}
const live = async (name: string) => (await podsOf(name)).filter((p) => !p.deleting);

async function removeDeployment(name: string): Promise<void> {
  await kubectl(['delete', 'deployment', name, '--wait=false'], { namespace: ns() }).catch(() => undefined);
  await waitFor(`pods of ${name} gone`, async () => {
    const pods = await podsOf(name);
    for (const p of pods) if (p.finalizers.includes(HOLD)) await releasePod(ns(), p.name);
    return pods.length === 0;
  }, 90_000, 500);
}

async function allocate(sid: string): Promise<string> {
  const res = await api(op, '/api/v1/allocate', { call_sid: sid });
  expect(res.status).toBe(200);
  return res.body.pod_name as string;
}
const release = (sid: string) => api(op, '/api/v1/release', { call_sid: sid });

const pool = `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: standard }
spec: { tier: standard, exclusive: true, replicas: 12, selector: { matchLabels: { app: voice-agent } } }
`;

beforeAll(async () => {
  env = await operatorEnv('e2e-disrupt');
  await apply(pool, ns());
  op = await env.startOperator();
}, 120_000);
afterAll(async () => {
  for (const p of await listPods(ns()).catch(() => [])) await releasePod(ns(), p.name);
  await env?.teardown();
}, 90_000);

const fmt = (ms: number[]) => ms.map((m) => `${m.toFixed(0)} ms`).join(', ');

test('a drain annotation or a deletion reaches Redis while another pod has every patch refused', async () => {
  await apply(deployment('fast', 5), ns());
  const pods = await waitFor('5 pods serving and Ready', async () => {
    const names = (await live('fast')).map((p) => p.name);
    const states = await Promise.all(names.map((n) => env.store.podState(n)));
    return names.length === 5 && states.every((s) => s?.pool === 'standard' && s.ready && !s.draining) ? names : undefined;
  }, 90_000);
  // A ValidatingAdmissionPolicy refuses any write that gives pod X a deletion cost: the operator's patch of X fails every time.
  const victim = pods[0]!;
  const policy = `vap-deny-${ns()}`;
  await apply(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: ${policy} }
spec:
  failurePolicy: Fail
  matchConstraints:
    namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ${ns()} } }
    resourceRules: [{ apiGroups: [""], apiVersions: [v1], operations: [UPDATE], resources: [pods] }]
  validations:
    - expression: "object.metadata.name != '${victim}' || !has(object.metadata.annotations) || !('${COST}' in object.metadata.annotations)"
      message: "e2e: writes of a deletion cost on ${victim} are denied"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: ${policy} }
spec:
  policyName: ${policy}
  validationActions: [Deny]
  matchResources: { namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ${ns()} } } }
`);
  try {
    await waitFor('the policy in force', async () => {
      try {
        await kubectl(['annotate', 'pod', victim, `${COST}=5`, '--dry-run=server'], { namespace: ns() });
        return false;
      } catch (err) {
        return /denied/.test(String(err));
      }
    }, 60_000, 500);
    // Calls until the victim holds one (exclusive pods: each call takes another pod).
    for (let i = 0; !(await env.store.podState(victim))?.calls.length; i++) {
      expect(i).toBeLessThan(pods.length);
      await allocate(`fp-${i}`);
    }
    const refusals = () => op.output().split('\n').filter((l) => l.includes('pod patch failed') && l.includes(`"pod":"${victim}"`)).length;
    await waitFor('the victim pod patch refused by the policy', async () => refusals() > 0, 60_000, 250);
    await waitForEvent(ns(), victim, 'PodPatchFailed', /deletion-cost/);
    // Counted as well, with the reason the API server gave (a policy's denial is Invalid unless it says otherwise).
    expect(await (await fetch(`${op.url}/metrics`)).text()).toMatch(/^smart_router_operator_write_failures_total\{kind="pod",reason="Invalid"\} [1-9]/m);

    const others = pods.filter((p) => p !== victim).slice(0, 3);
    const fromReturn: number[] = [];
    const fromStart: number[] = [];
    const failuresBefore = refusals();
    const measure = async (pod: string, act: () => Promise<unknown>) => {
      const start = performance.now();
      await act();
      const returned = performance.now();
      // Drained: out of the pool's allocatable set (an idle pod being deleted leaves routing altogether).
      await waitFor(`${pod} no longer allocatable in Redis`, async () => (await env.redis.zscore(env.store.keys.poolAvail('standard'), pod)) === null, 30_000, 5);
      const seen = performance.now();
      fromReturn.push(seen - returned);
      fromStart.push(seen - start);
    };
    for (const pod of others.slice(0, 2)) await measure(pod, () => kubectl(['annotate', 'pod', pod, 'smartrouter.io/drain=true'], { namespace: ns() }));
    const doomed = others[2]!;
    await kubectl(['patch', 'pod', doomed, '--type=merge', '-p', JSON.stringify({ metadata: { finalizers: [HOLD] } })], { namespace: ns() });
    await measure(doomed, () => kubectl(['delete', 'pod', doomed, '--wait=false'], { namespace: ns() }));
    // The victim is still refused, before and after: the drains did not wait for it, nor it for them.
    await waitFor('the victim refused again after the drains', async () => refusals() > failuresBefore, 60_000, 250);
    expect((await podsOf('fast')).find((p) => p.name === victim)?.annotations[COST]).toBeUndefined();
    process.stdout.write(
      `\n[measured] drain -> Redis while pod ${victim} has every patch refused (${refusals()} refusals so far)\n` +
        `  after kubectl returned: ${fmt(fromReturn)} (annotate, annotate, delete)\n` +
        `  from kubectl start:     ${fmt(fromStart)}\n`,
    );
    await releasePod(ns(), doomed);
  } finally {
    await kubectl(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', policy, '--ignore-not-found']).catch(() => undefined);
    await removeDeployment('fast');
  }
}, 240_000);

test('a Deployment scaled from 5 to 3 with calls on 3 pods removes only idle pods; the call annotations follow the calls', async () => {
  await apply(deployment('scale', 5), ns());
  await waitFor('5 pods serving and Ready', async () => {
    const names = (await live('scale')).map((p) => p.name);
    const states = await Promise.all(names.map((n) => env.store.podState(n)));
    return names.length === 5 && states.every((s) => s?.pool === 'standard' && s.ready && !s.draining);
  }, 90_000);
  const calls = ['sc-1', 'sc-2', 'sc-3'];
  const busy = (await Promise.all(calls.map(allocate))).sort();
  expect(new Set(busy).size).toBe(3);

  const annotated = await waitFor('busy pods annotated, idle pods not', async () => {
    const pods = await live('scale');
    const ok = pods.every((p) => (busy.includes(p.name) ? p.annotations[COST] === '1000' && p.annotations[SAFE] === 'false' : !(COST in p.annotations) && !(SAFE in p.annotations)));
    return ok ? pods : undefined;
  });
  expect(annotated).toHaveLength(5);

  await kubectl(['scale', 'deployment/scale', '--replicas=3'], { namespace: ns() });
  const left = await waitFor('3 pods left', async () => {
    const pods = await podsOf('scale');
    return pods.length === 3 ? pods.map((p) => p.name) : undefined;
  }, 90_000);
  expect(left).toEqual(busy);
  for (const pod of busy) expect((await env.store.podState(pod))?.calls).toHaveLength(1);

  expect((await release('sc-1')).body).toMatchObject({ success: true });
  const idle = await waitFor('the released pod loses its annotations', async () => {
    const pods = await live('scale');
    const bare = pods.filter((p) => !(COST in p.annotations) && !(SAFE in p.annotations));
    return bare.length === 1 ? bare[0]!.name : undefined;
  });
  expect(busy).toContain(idle);
  expect((await env.store.podState(idle))?.calls).toEqual([]);
  await release('sc-2');
  await release('sc-3');
  await waitFor('all annotations gone', async () => (await live('scale')).every((p) => !(COST in p.annotations) && !(SAFE in p.annotations)));
  await removeDeployment('scale');
}, 240_000);

function preStopCommand(): string[] {
  const doc = yaml.load(readFileSync(join(packageRoot, 'examples', 'voice-agent-deployment.yaml'), 'utf8')) as {
    spec: { template: { spec: { containers: { lifecycle: { preStop: { exec: { command: string[] } } } }[] } } };
  };
  return doc.spec.template.spec.containers[0]!.lifecycle.preStop.exec.command;
}

test('a rollout restart with the preStop hook keeps every call until it is released', async () => {
  await apply(deployment('roll', 3, { hold: true }), ns());
  await kubectl(['rollout', 'status', 'deployment/roll', '--timeout=90s'], { namespace: ns() });
  const old = (await live('roll')).map((p) => p.name);
  await waitFor('3 pods serving', async () => {
    const members = await env.store.poolMembers('standard');
    return old.every((n) => members.includes(n));
  }, 60_000);
  const calls = new Map<string, string>();
  for (const sid of ['roll-1', 'roll-2', 'roll-3']) calls.set(await allocate(sid), sid);
  expect([...calls.keys()].sort()).toEqual(old);
  const reapedBefore = await metric(op, 'smart_router_calls_reaped_total');

  await kubectl(['rollout', 'restart', 'deployment/roll'], { namespace: ns() });
  // The kubelet's part: run the hook as each old pod turns Terminating, finish the pod when the hook returns.
  const [cmd, ...args] = preStopCommand();
  const hooks = new Map<string, { child: ChildProcess; exit: Promise<number | null> }>();
  const startHooks = async () => {
    for (const p of await podsOf('roll')) {
      if (!p.deleting || hooks.has(p.name)) continue;
      const child = spawn(cmd!, args, { env: { PATH: process.env.PATH, POD_NAME: p.name, SMART_ROUTER_URL: op.url, SMART_ROUTER_TOKEN: 'unused-open-api' } });
      hooks.set(p.name, { child, exit: new Promise((resolve) => child.on('exit', resolve)) });
    }
    return hooks.size;
  };
  try {
    const fresh = await waitFor('all old pods Terminating, 3 new pods serving', async () => {
      await startHooks();
      const pods = await podsOf('roll');
      const newPods = pods.filter((p) => !old.includes(p.name) && !p.deleting).map((p) => p.name);
      const members = await env.store.poolMembers('standard');
      return hooks.size === 3 && newPods.length === 3 && newPods.every((n) => members.includes(n)) ? newPods : undefined;
    }, 120_000, 250);
    // Old pods: Terminating, drained, their calls intact; new calls go to new pods only.
    for (const pod of old) expect(await env.store.podState(pod)).toMatchObject({ draining: true, calls: [calls.get(pod)] });
    for (const sid of ['roll-new-1', 'roll-new-2', 'roll-new-3']) expect(fresh).toContain(await allocate(sid));
    await new Promise((r) => setTimeout(r, 3_000));
    for (const [pod, hook] of hooks) expect({ pod, exited: hook.child.exitCode }).toEqual({ pod, exited: null });

    for (const pod of old) {
      const rel = await release(calls.get(pod)!);
      expect(rel.body).toMatchObject({ success: true, pod_name: pod, was_draining: true });
      expect(await hooks.get(pod)!.exit).toBe(0);
      await releasePod(ns(), pod); // the container stops after its hook
    }
    await waitFor('old pods gone', async () => (await podsOf('roll')).every((p) => !old.includes(p.name)), 60_000);
    await kubectl(['rollout', 'status', 'deployment/roll', '--timeout=60s'], { namespace: ns() });
    expect(await metric(op, 'smart_router_calls_reaped_total')).toBe(reapedBefore);
    for (const sid of ['roll-new-1', 'roll-new-2', 'roll-new-3']) await release(sid);
  } finally {
    for (const { child } of hooks.values()) child.kill();
    await removeDeployment('roll');
  }
}, 300_000);
