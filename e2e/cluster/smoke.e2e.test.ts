// The local control plane behaves like a cluster: CRDs establish, a
// StatefulSet's pods become Ready with no container runtime, kubectl drain
// evicts and the pods come back elsewhere, and pods can be made not Ready or
// restarted on demand.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../core/paths.js';
import { apply, createNamespace, deleteNamespace, kubectl, kubectlJson, listPods, requireCluster, simulatePod, voiceAgentStatefulSet, waitFor } from '../support/cluster.js';

let ns: string;
beforeAll(async () => {
  requireCluster();
  ns = await createNamespace('smoke');
}, 30_000);
afterAll(async () => {
  if (ns) await deleteNamespace(ns);
  await kubectl(['uncordon', '--all']).catch(() => undefined);
}, 30_000);

const readyPods = async () => (await listPods(ns, 'app=voice-agent')).filter((p) => p.ready && !p.deleting);

test('the API server is a real one: versioned, with authorization on', async () => {
  const version = await kubectlJson<{ serverVersion: { gitVersion: string } }>(['version']);
  expect(version.serverVersion.gitVersion).toMatch(/^v1\.\d+\.\d+/);
  const denied = await kubectl(['auth', 'can-i', 'list', 'pods', '--as=system:serviceaccount:default:nobody']).catch((e: Error) => e.message);
  expect(denied).toMatch(/no/);
  expect((await kubectl(['auth', 'can-i', 'list', 'pods'])).trim()).toBe('yes');
});

test('the CRDs in crds/ apply and become Established', async () => {
  const files = readdirSync(join(packageRoot, 'crds')).filter((f) => f.endsWith('.yaml'));
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) await kubectl(['apply', '-f', join(packageRoot, 'crds', file)]);
  await kubectl(['wait', '--for=condition=Established', 'crd/voiceagentpools.smartrouter.io', '--timeout=60s']);
  await apply('apiVersion: smartrouter.io/v1alpha1\nkind: VoiceAgentPool\nmetadata: { name: standard }\nspec: { tier: standard, exclusive: true, replicas: 3 }\n', ns);
  const table = await kubectl(['get', 'vap', 'standard'], { namespace: ns });
  expect(table).toMatch(/^NAME\s+TIER\s+EXCLUSIVE\s+CAPACITY\s+DESIRED\s+CURRENT\s+READY\s+DRAINING\s+ACTIVE\s+FREE\s+AGE/);
  expect(table).toMatch(/standard\s+standard\s+true\s+1\s+3/);
  await kubectl(['delete', 'vap', 'standard'], { namespace: ns });
}, 90_000);

test('a StatefulSet of 5 pods becomes Ready; kubectl drain evicts them and they come back on other nodes', async () => {
  await apply(voiceAgentStatefulSet('voice-agent', 5), ns);
  await waitFor('5 Ready pods', async () => (await readyPods()).length === 5, 90_000);

  const before = await readyPods();
  const node = before[0]!.node;
  const onNode = before.filter((p) => p.node === node).map((p) => p.name);
  await kubectl(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=90s']);
  const after = await waitFor(
    'the drained pods back on other nodes',
    async () => {
      const pods = await readyPods();
      return pods.length === 5 && pods.every((p) => p.node !== node) ? pods : undefined;
    },
    90_000,
  );
  for (const name of onNode) {
    const old = before.find((p) => p.name === name)!;
    const now = after.find((p) => p.name === name)!;
    expect(now.uid).not.toBe(old.uid);
  }
  await kubectl(['uncordon', node]);
}, 240_000);

test('a pod can be made not Ready and Ready again, and restarted, and it sticks', async () => {
  await waitFor('Ready pods', async () => (await readyPods()).length === 5, 90_000);
  const pod = 'voice-agent-0';
  await simulatePod('notready', pod, ns);
  await new Promise((r) => setTimeout(r, 2000));
  let state = (await listPods(ns)).find((p) => p.name === pod)!;
  expect(state.ready).toBe(false);
  await simulatePod('ready', pod, ns);
  await waitFor('ready again', async () => (await listPods(ns)).find((p) => p.name === pod)?.ready);
  const restarts = (await listPods(ns)).find((p) => p.name === pod)!.restarts;
  await simulatePod('restart', pod, ns);
  await new Promise((r) => setTimeout(r, 1000));
  state = (await listPods(ns)).find((p) => p.name === pod)!;
  expect(state.restarts).toBe(restarts + 1);
  expect(state.ready).toBe(true);
}, 120_000);
