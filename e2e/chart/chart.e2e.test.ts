// The Helm chart against the real API server: lint, schema-checked values,
// server-side dry run, a real apply, and its RBAC proven enough and no more by
// running the operator with the chart's own ServiceAccount token.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadAll } from 'js-yaml';
import { packageRoot } from '../../core/paths.js';
import { CLUSTER_DIR, KubectlError } from '../../tools/kubectl.js';
import { startRouterProcess } from '../../test/support/router-process.js';
import { api, countBy, deployAgents, kubectl, kubectlJson, operatorEnv, waitFor, waitForLabels, type OperatorEnv } from '../operator/support.js';

const run = promisify(execFile);
const HELM = join(CLUSTER_DIR, 'bin', 'helm');
const CHART = join(packageRoot, 'charts', 'smart-router');
const helm = async (args: string[]) => (await run(HELM, args, { maxBuffer: 16 * 1024 * 1024 })).stdout;
const template = (ns: string, sets: string[]) => helm(['template', 'r', CHART, '--namespace', ns, '--kube-version', '1.36.3', ...sets.flatMap((s) => ['--set', s])]);

/** Every install names its token Secret, or says out loud that it runs without one. */
const AUTH = 'auth.existingSecret=smart-router-tokens';

const POOLS = [
  'pools[0].name=standard', 'pools[0].spec.tier=standard', 'pools[0].spec.exclusive=true', 'pools[0].spec.replicas=3',
  'pools[0].spec.selector.matchLabels.app=voice-agent', 'pools[0].spec.fallback[0]=basic',
  'pools[1].name=basic', 'pools[1].spec.tier=basic', 'pools[1].spec.capacity=3', 'pools[1].spec.replicas=1',
  'pools[1].spec.selector.matchLabels.app=voice-agent',
];

let env: OperatorEnv;
beforeAll(async () => {
  env = await operatorEnv('e2e-chart');
}, 60_000);
afterAll(async () => {
  // Cluster-scoped objects of the release outlive its namespace.
  if (env) await kubectl(['delete', 'validatingwebhookconfiguration,clusterrole,clusterrolebinding', `r-smart-router-${env.namespace}`, '--ignore-not-found']).catch(() => undefined);
  await env?.teardown();
}, 60_000);

test('helm lint passes, and the chart CRD is the published one', async () => {
  const out = await helm(['lint', CHART, '--kube-version', '1.36.3', '--set', 'redis.url=redis://redis:6379', '--set', AUTH]);
  expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  const [published, packaged] = await Promise.all([run('cat', [join(packageRoot, 'crds/voiceagentpool.yaml')]), run('cat', [join(CHART, 'crds/voiceagentpool.yaml')])]);
  expect(packaged.stdout).toBe(published.stdout);
});

test.each([
  [['redis.url=redis://r:6379', AUTH, 'replicaCount=0'], /replicaCount.*minimum/],
  [['redis.url=redis://r:6379', AUTH, 'config.logLevel=loud'], /logLevel/],
  [['redis.url=redis://r:6379', AUTH, 'config.logLevell=info'], /additional properties 'logLevell' not allowed/],
  [['redis.url=localhost:6379', AUTH], /redis\/url/],
  [[AUTH], /set redis\.url, redis\.existingSecret, redis\.sentinel\.hosts \(with redis\.sentinel\.masterName\), redis\.cluster\.nodes, or redis\.bundled\.enabled=true/],
  [['redis.url=redis://r:6379', AUTH, 'redis.cluster.nodes={c:6379}'], /redis\.url and redis\.cluster\.nodes exclude each other/],
  [[AUTH, 'redis.sentinel.hosts={s:26379}'], /redis\.sentinel\.hosts needs redis\.sentinel\.masterName/],
  [['redis.url=redis://r:6379', AUTH, 'redis.tls.enabled=true'], /redis\.tls\.enabled is for redis\.sentinel and redis\.cluster/],
  [[AUTH, 'redis.sentinel.hosts={s}', 'redis.sentinel.masterName=m'], /redis\/sentinel\/hosts\/0/],
  [['redis.url=redis://r:6379'], /auth: set auth\.existingSecret .*or, to install with the API open to anyone who reaches it, auth\.insecureNoToken=true/],
  [['redis.url=redis://r:6379', 'auth.insecureNoToken=false'], /auth: set auth\.existingSecret/],
  [['redis.url=redis://r:6379', AUTH, 'telephony.existingSecret=tel'], /telephony\.publicUrl is required while telephony\.verifySignatures is true/],
  [['redis.url=redis://r:6379', AUTH, 'telephony.existingSecret=tel', 'telephony.publicUrl=router.example.com'], /publicUrl/],
  [['redis.url=redis://r:6379', AUTH, 'config.trustProxy=any host'], /trustProxy/],
  [['redis.url=redis://r:6379', AUTH, 'redis.tls.existingSecret=rtls'], /redis\.tls\.existingSecret needs a rediss:\/\/ redis\.url/],
  [['redis.bundled.enabled=true', AUTH, 'redis.tls.existingSecret=rtls'], /the bundled trial Redis has a password but no TLS/],
  [['redis.url=redis://r:6379', AUTH, 'streamToken.existingSecret=st'], /streamToken\.existingSecret and \{token\} in config\.wsUrlTemplate go together/],
  [['redis.url=redis://r:6379', AUTH, 'config.wsUrlTemplate=wss://h/ws/pod/{pod}/{call_sid}?token={token}'], /streamToken\.existingSecret and \{token\}/],
])('wrong values %j are refused with a clear message', async (sets, message) => {
  const err = await template('x', sets).then(
    () => undefined,
    (e: { stderr: string }) => e.stderr,
  );
  expect(err).toMatch(message);
});

test('the router gets its tokens as a mounted Secret it re-reads, or no credential only when the values say so out loud', async () => {
  const router = (docs: string) => (loadAll(docs) as { kind?: string; metadata?: { name: string }; spec?: any }[]).find((d) => d?.kind === 'Deployment' && d.metadata?.name === 'r-smart-router')!.spec.template.spec; // eslint-disable-line @typescript-eslint/no-explicit-any
  const scoped = router(await template('x', ['redis.url=redis://r:6379', AUTH, 'auth.reloadSeconds=2']));
  const env = Object.fromEntries(scoped.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]));
  expect(env).toMatchObject({ AUTH_TOKENS_DIR: '/etc/smart-router/tokens', AUTH_TOKENS_RELOAD_SECONDS: '2', TRUST_PROXY: '1' });
  expect(env).not.toHaveProperty('API_TOKEN');
  expect(scoped.containers[0].volumeMounts).toEqual([{ name: 'tokens', mountPath: '/etc/smart-router/tokens', readOnly: true }]);
  expect(scoped.volumes).toEqual([{ name: 'tokens', secret: { secretName: 'smart-router-tokens', defaultMode: 0o440 } }]);
  expect(scoped.securityContext.fsGroup).toBe(10001);

  const open = await template('x', ['redis.url=redis://r:6379', 'auth.insecureNoToken=true']);
  const openSpec = router(open);
  expect(openSpec.containers[0].env.map((e: { name: string }) => e.name)).not.toContain('AUTH_TOKENS_DIR');
  expect(openSpec.volumes).toBeUndefined();

  const legacy = router(await template('x', ['redis.url=redis://r:6379', 'apiToken.existingSecret=tok']));
  expect(legacy.containers[0].env.find((e: { name: string }) => e.name === 'API_TOKEN').valueFrom).toEqual({ secretKeyRef: { name: 'tok', key: 'api-token' } });
});

test('the bundled trial Redis gets a random password, and a NetworkPolicy that admits only the router', async () => {
  type Doc = { kind?: string; metadata?: { name: string }; spec?: any; stringData?: Record<string, string> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  const docs = loadAll(await template('x', ['redis.bundled.enabled=true', AUTH])) as Doc[];
  const secret = docs.find((d) => d?.kind === 'Secret' && d.metadata?.name === 'r-smart-router-redis')!;
  expect(secret.stringData!.password).toMatch(/^[A-Za-z0-9]{40}$/);
  expect(secret.stringData!.url).toBe(`redis://:${secret.stringData!.password}@r-smart-router-redis:6379`);
  const again = (loadAll(await template('x', ['redis.bundled.enabled=true', AUTH])) as Doc[]).find((d) => d?.kind === 'Secret' && d.metadata?.name === 'r-smart-router-redis')!;
  expect(again.stringData!.password).not.toBe(secret.stringData!.password); // made per install, never a default
  const redis = docs.find((d) => d?.kind === 'StatefulSet')!.spec.template.spec.containers[0];
  expect(redis.args.slice(-2)).toEqual(['--requirepass', '$(REDIS_PASSWORD)']);
  expect(redis.env.map((e: { name: string }) => e.name)).toEqual(['REDIS_PASSWORD', 'REDISCLI_AUTH']);
  const policy = docs.find((d) => d?.kind === 'NetworkPolicy' && d.metadata?.name === 'r-smart-router-redis')!;
  expect(policy.spec).toEqual({
    podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'r', 'app.kubernetes.io/component': 'redis' } },
    policyTypes: ['Ingress'],
    ingress: [{ ports: [{ port: 'redis' }], from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'smart-router', 'app.kubernetes.io/instance': 'r', 'app.kubernetes.io/component': 'router' } } }] }],
  });
});

test('redis.tls mounts the CA and the client certificate and points the router at them', async () => {
  const docs = loadAll(await template('x', ['redis.url=rediss://redis.internal:6380', AUTH, 'redis.tls.existingSecret=rtls', 'redis.tls.caKey=my-ca.pem', 'redis.tls.servername=redis.internal'])) as { kind?: string; metadata?: { name: string }; spec?: any }[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  const pod = docs.find((d) => d?.kind === 'Deployment' && d.metadata?.name === 'r-smart-router')!.spec.template.spec;
  const env = Object.fromEntries(pod.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]));
  expect(env).toMatchObject({
    REDIS_TLS_CA_FILE: '/etc/smart-router/redis-tls/ca.crt',
    REDIS_TLS_CERT_FILE: '/etc/smart-router/redis-tls/tls.crt',
    REDIS_TLS_KEY_FILE: '/etc/smart-router/redis-tls/tls.key',
    REDIS_TLS_SERVERNAME: 'redis.internal',
  });
  expect(pod.volumes.find((v: { name: string }) => v.name === 'redis-tls').secret).toEqual({
    secretName: 'rtls',
    defaultMode: 288,
    items: [{ key: 'my-ca.pem', path: 'ca.crt' }, { key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }],
  });
});

test('every rendered object passes the API server (dry run), with every option on', async () => {
  const rendered = await template(env.namespace, [
    'redis.bundled.enabled=true', 'networkPolicy.enabled=true', AUTH, 'apiToken.existingSecret=tok', 'telephony.existingSecret=tel', 'telephony.publicUrl=https://router.example.com', ...POOLS,
  ]);
  const out = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: rendered, namespace: env.namespace });
  for (const kind of ['deployment.apps/r-smart-router', 'statefulset.apps/r-smart-router-redis', 'role.rbac.authorization.k8s.io/r-smart-router', 'poddisruptionbudget.policy/r-smart-router', 'networkpolicy.networking.k8s.io/r-smart-router', 'voiceagentpool.smartrouter.io/standard', 'deployment.apps/r-smart-router-ws', 'configmap/r-smart-router-ws', `validatingwebhookconfiguration.admissionregistration.k8s.io/r-smart-router-${env.namespace}`, 'secret/r-smart-router-webhook-tls', `clusterrole.rbac.authorization.k8s.io/r-smart-router-${env.namespace}`, `clusterrolebinding.rbac.authorization.k8s.io/r-smart-router-${env.namespace}`]) {
    expect(out).toContain(`${kind} created (server dry run)`);
  }
});

test("applied for real, the ServiceAccount can do what the operator needs and nothing more, and the operator works with its token", async () => {
  const rendered = await template(env.namespace, [`redis.url=${process.env.SMART_ROUTER_TEST_REDIS_URL}`, AUTH, ...POOLS]);
  await kubectl(['apply', '-f', '-'], { input: rendered, namespace: env.namespace });
  const sa = `system:serviceaccount:${env.namespace}:r-smart-router`;

  const list = await kubectl(['auth', 'can-i', '--list', `--as=${sa}`], { namespace: env.namespace });
  const rows = list.split('\n').slice(1).filter((l) => l.trim()).map((l) => l.trim().split(/\s{2,}/));
  const resources = Object.fromEntries(rows.filter((r) => r[0] && !r[0].startsWith('[') && !r[0].includes('authorization.k8s.io') && !r[0].includes('authentication.k8s.io')).map((r) => [r[0], r[r.length - 1]]));
  expect(resources).toEqual({
    pods: '[get list watch patch]',
    events: '[create patch]',
    'voiceagentpools.smartrouter.io': '[get list watch]',
    'voiceagentpools.smartrouter.io/status': '[get patch update]',
    'leases.coordination.k8s.io': '[get create update]',
    // The built-in autoscaler's rules.
    'voiceagentpools.smartrouter.io/scale': '[get patch update]',
    'deployments.apps': '[get]',
    'deployments.apps/scale': '[get patch update]',
    'statefulsets.apps': '[get]',
    'statefulsets.apps/scale': '[get patch update]',
    secrets: '[get update]',
    'validatingwebhookconfigurations.admissionregistration.k8s.io': '[get patch]',
  });
  // Both only on the release's own objects.
  const names = Object.fromEntries(rows.filter((r) => r.length === 4).map((r) => [r[0], r[2]]));
  expect(names).toMatchObject({ secrets: '[r-smart-router-webhook-tls]', 'validatingwebhookconfigurations.admissionregistration.k8s.io': `[r-smart-router-${env.namespace}]` });
  for (const forbidden of [['delete', 'pods'], ['get', 'secrets'], ['create', 'secrets'], ['get', 'secrets/other'], ['patch', 'validatingwebhookconfigurations'], ['update', 'voiceagentpools'], ['list', 'nodes'], ['list', 'pods', '--all-namespaces']]) {
    // can-i answers "no" with exit code 1.
    const code = await kubectl(['auth', 'can-i', ...forbidden, `--as=${sa}`], { namespace: env.namespace }).then(
      () => 0,
      (e: KubectlError) => e.code,
    );
    expect([forbidden.join(' '), code]).toEqual([forbidden.join(' '), 1]);
  }

  // A kubeconfig holding only the ServiceAccount's token.
  const admin = await kubectlJson<{ clusters: { cluster: Record<string, string> }[] }>(['config', 'view', '--raw', '--minify']);
  const token = (await kubectl(['create', 'token', 'r-smart-router', '--duration=1h'], { namespace: env.namespace })).trim();
  const cluster = admin.clusters[0]!.cluster;
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'smart-router-sa-')), 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster }],
      users: [{ name: 'sa', user: { token } }],
      contexts: [{ name: 'sa', context: { cluster: 'c', user: 'sa', namespace: env.namespace } }],
      'current-context': 'sa',
    }),
  );
  await deployAgents(env.namespace, 4);
  const saOp = await startRouterProcess(['operator', '--kubeconfig', kubeconfig, '--namespace', env.namespace], {
    REDIS_URL: process.env.SMART_ROUTER_TEST_REDIS_URL!,
    KEY_PREFIX: env.prefix,
    LEASE_NAME: 'r-smart-router-leader',
    // The eviction guard as the chart runs it: certificates in the chart's Secret, caBundle into the chart's webhook configuration.
    WEBHOOK_PORT: '0',
    WEBHOOK_REGISTRATION: 'ca-bundle',
    WEBHOOK_CONFIGURATION_NAME: `r-smart-router-${env.namespace}`,
    WEBHOOK_SERVICE_NAME: 'r-smart-router',
    WEBHOOK_SECRET_NAME: 'r-smart-router-webhook-tls',
  });
  env.operators.push(saOp);
  await waitForLabels(env.namespace, 'pools assigned with the SA token', (l) => countBy(l).standard === 3 && countBy(l).basic === 1);
  await waitFor('status written', async () => {
    const pool = await kubectlJson<{ status?: { readyPods?: number } }>(['get', 'vap', 'standard'], env.namespace);
    return pool.status?.readyPods === 3;
  });
  const call = await api(saOp, '/api/v1/allocate', { call_sid: 'sa-call' });
  expect(call.body).toMatchObject({ success: true, source_pool: 'pool:standard' });
  expect((await api(saOp, '/api/v1/drain', { pod_name: call.body.pod_name })).body).toMatchObject({ draining: true });
  const events = await kubectlJson<{ items: { reason: string }[] }>(['get', 'events'], env.namespace);
  expect(events.items.map((e) => e.reason)).toContain('PodAssigned');
  const lease = await kubectlJson<{ spec: { holderIdentity: string } }>(['get', 'lease', 'r-smart-router-leader'], env.namespace);
  expect(lease.spec.holderIdentity).toBeTruthy();
  const webhook = await kubectlJson<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(['get', 'validatingwebhookconfiguration', `r-smart-router-${env.namespace}`]);
  expect(Buffer.from(webhook.webhooks[0]!.clientConfig.caBundle ?? '', 'base64').toString()).toMatch(/BEGIN CERTIFICATE/);
  const secret = await kubectlJson<{ data: Record<string, string> }>(['get', 'secret', 'r-smart-router-webhook-tls'], env.namespace);
  expect(Buffer.from(secret.data['tls.crt']!, 'base64').toString()).toMatch(/BEGIN CERTIFICATE/);
  expect(saOp.output()).not.toMatch(/forbidden/i);
}, 120_000);
