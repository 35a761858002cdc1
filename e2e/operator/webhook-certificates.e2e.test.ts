// smart-router's own webhook certificates on the local control plane: two
// replicas share one Secret, and a rotation of the serving certificate and
// of the CA (lifetimes of seconds here) never fails an eviction review.
import { X509Certificate } from 'node:crypto';
import { api, apply, kubectl, kubectlJson, listPods, operatorEnv, waitFor, type OperatorEnv } from './support.js';
import { createOwnNode, deleteNode, evict, pinnedWorkload } from './eviction-support.js';

let env: OperatorEnv;
let node = '';
const ns = () => env.namespace;

beforeAll(async () => {
  env = await operatorEnv('webhook-certs');
  node = `${ns()}-certs`;
  await createOwnNode(node);
});

afterAll(async () => {
  await kubectl(['delete', 'validatingwebhookconfiguration', `smart-router-${ns()}`, '--ignore-not-found']).catch(() => undefined);
  await deleteNode(node);
  await env?.teardown();
});

interface SecretView {
  ca: string;
  serving: string;
  bundle: number;
}

async function secret(): Promise<SecretView | undefined> {
  const s = await kubectlJson<{ data: Record<string, string> }>(['get', 'secret', 'smart-router-webhook-tls'], ns()).catch(() => undefined);
  if (!s) return undefined;
  const pem = (k: string) => Buffer.from(s.data[k] ?? '', 'base64').toString('utf8');
  return {
    ca: new X509Certificate(pem('ca.crt')).fingerprint256,
    serving: new X509Certificate(pem('tls.crt')).fingerprint256,
    bundle: (pem('ca-bundle.crt').match(/BEGIN CERTIFICATE/g) ?? []).length,
  };
}

test('serving certificate and CA rotate under load without one failed eviction review', async () => {
  // CA lives 60 s (a new one joins its bundle after 40 s), serving certificates 18 s (renewed after 12 s).
  const fast = { WEBHOOK_PORT: '0', WEBHOOK_CA_LIFETIME_SECONDS: '60', WEBHOOK_CERT_LIFETIME_SECONDS: '18', WEBHOOK_CA_OVERLAP_SECONDS: '3', WEBHOOK_CERT_CHECK_SECONDS: '1' };
  const [first] = await Promise.all([env.startOperator(fast), env.startOperator(fast)]);
  await apply(`apiVersion: smartrouter.io/v1alpha1
kind: VoiceAgentPool
metadata: { name: standard }
spec: { tier: standard, exclusive: true, replicas: 1, selector: { matchLabels: { app: voice-agent } } }
`, ns());
  await apply(pinnedWorkload('StatefulSet', 'agent', 1, node, { app: 'voice-agent' }), ns());
  const pod = await waitFor('pod in the pool', async () => {
    const p = (await listPods(ns())).find((x) => x.ready && x.labels['smartrouter.io/pool'] === 'standard');
    return p && (await env.store.podState(p.name))?.pool === 'standard' ? p.name : undefined;
  });
  expect((await api(first!, '/api/v1/allocate', { call_sid: 'held-call' })).body.pod_name).toBe(pod);

  // A dry-run eviction of the busy pod answers 429 only when the webhook was reached over TLS:
  // with failurePolicy Ignore a failed call would let it through silently, so every answer must be a denial.
  const seenCas = new Set<string>();
  const seenServing = new Set<string>();
  let reviews = 0;
  const failures: string[] = [];
  const until = Date.now() + 80_000;
  while (Date.now() < until) {
    const answer = await evict(ns(), pod, { dryRun: true });
    reviews++;
    if (!/TooManyRequests|has 1 active call/.test(answer)) failures.push(answer || 'allowed');
    const s = await secret();
    if (s) {
      seenCas.add(s.ca);
      seenServing.add(s.serving);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(`${reviews} eviction reviews across ${seenServing.size} serving certificates and ${seenCas.size} CAs; failures: ${failures.length}`);
  expect(failures).toEqual([]);
  expect(seenCas.size).toBeGreaterThanOrEqual(2);
  expect(seenServing.size).toBeGreaterThanOrEqual(3);
  // The old CA left the bundle once it expired; both replicas are still healthy.
  await waitFor('bundle pruned to live CAs', async () => ((await secret())?.bundle ?? 9) <= 2);
  for (const op of env.operators) expect(op.child.exitCode).toBeNull();
}, 180_000);
