// A pool's health as cluster tooling reads it: `kubectl wait
// --for=condition=Ready` with the real kubectl, the kstatus conditions, the
// condition metric, and the Argo CD health check from docs/OPERATOR.md run
// by a real Lua interpreter (Redis's, the same Lua 5.1 Argo CD embeds).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../core/paths.js';
import { KubectlError } from '../support/cluster.js';
import { apply, condition, deployAgents, kubectl, kubectlJson, metric, operatorEnv, waitFor, waitForStatus, type OperatorEnv } from '../operator/support.js';
import type { RouterProcess } from '../../test/support/router-process.js';

let env: OperatorEnv;
let op: RouterProcess;

const pool = (replicas: number) => `apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: standard }
spec: { tier: standard, replicas: ${replicas}, selector: { matchLabels: { app: voice-agent } } }
`;

const argoHealthLua = (() => {
  const doc = readFileSync(join(packageRoot, 'docs', 'OPERATOR.md'), 'utf8');
  const block = /```lua\n(-- smart-router VoiceAgentPool health for Argo CD\n[\s\S]*?)```/.exec(doc);
  if (!block) throw new Error('docs/OPERATOR.md has no Argo CD health snippet');
  return block[1] as string;
})();

/** Argo CD's verdict on an object, computed by the documented snippet. */
async function argoHealth(obj: unknown): Promise<{ status: string; message: string }> {
  const script = `local function health(obj)\n${argoHealthLua}\nend\nreturn cjson.encode(health(cjson.decode(ARGV[1])))`;
  return JSON.parse((await env.redis.eval(script, 0, JSON.stringify(obj))) as string) as { status: string; message: string };
}

const waitReady = (timeout: string) => kubectl(['wait', '--for=condition=Ready', 'vap/standard', `--timeout=${timeout}`], { namespace: env.namespace });
const vap = () => kubectlJson<{ metadata: { generation: number }; status: Record<string, any> }>(['get', 'vap', 'standard'], env.namespace); // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  env = await operatorEnv('e2e-health');
  await deployAgents(env.namespace, 2);
  await apply(pool(2), env.namespace);
  op = await env.startOperator();
}, 120_000);
afterAll(async () => {
  await env?.teardown();
}, 60_000);

test('kubectl wait --for=condition=Ready returns once the pool serves all its pods, and the status is kstatus Current', async () => {
  expect(await waitReady('120s')).toMatch(/voiceagentpool\.smartrouter\.io\/standard condition met/);
  const obj = await vap();
  expect(obj.status.observedGeneration).toBe(obj.metadata.generation);
  expect(condition(obj.status, 'Ready')).toMatchObject({ status: 'True', observedGeneration: obj.metadata.generation });
  expect(condition(obj.status, 'Reconciling')).toMatchObject({ status: 'False' });
  expect(condition(obj.status, 'Degraded')).toMatchObject({ status: 'False' });
  expect(await argoHealth(obj)).toEqual({ status: 'Healthy', message: '2/2 pods serving and Ready' });
  // A spec the operator has not seen yet is not judged by the old status.
  expect((await argoHealth({ ...obj, metadata: { ...obj.metadata, generation: obj.metadata.generation + 1 } })).status).toBe('Progressing');
  expect((await argoHealth({ metadata: { generation: 1 } })).status).toBe('Progressing');
  await waitFor('the Ready condition as a metric', async () => (await metric(op, 'smart_router_pool_condition', { pool: 'standard', type: 'Ready' })) === 1);
});

test('a pool asking for more pods than exist is Degraded and Reconciling, kubectl wait times out, and it turns Ready when pods come', async () => {
  await apply(pool(4), env.namespace);
  const degraded = await waitForStatus(env.namespace, 'standard', 'Degraded at generation 2', (s) => s.observedGeneration === 2 && condition(s, 'Degraded')?.status === 'True');
  expect(condition(degraded, 'Ready')).toMatchObject({ status: 'False', observedGeneration: 2 });
  expect(condition(degraded, 'Reconciling')).toMatchObject({ status: 'True', reason: 'NotEnoughEligiblePods', observedGeneration: 2 });
  expect(await argoHealth(await vap())).toEqual({ status: 'Degraded', message: '2 of 4 pods missing: not enough pods match the selector and are free' });
  const timedOut = await waitReady('3s').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(timedOut).toBeInstanceOf(KubectlError);
  expect((timedOut as KubectlError).stderr).toMatch(/timed out waiting for the condition/);
  await waitFor('the Degraded condition as a metric', async () => (await metric(op, 'smart_router_pool_condition', { pool: 'standard', type: 'Degraded' })) === 1);

  await kubectl(['scale', 'statefulset/voice-agent', '--replicas=4'], { namespace: env.namespace });
  expect(await waitReady('120s')).toMatch(/condition met/);
  const obj = await vap();
  expect(obj.status.observedGeneration).toBe(2);
  expect(condition(obj.status, 'Reconciling')).toMatchObject({ status: 'False' });
  expect((await argoHealth(obj)).status).toBe('Healthy');
});
