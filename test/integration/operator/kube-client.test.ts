// The Kubernetes API client's transport against a local TLS endpoint that
// counts connections: requests share keep-alive connections instead of paying
// a TLS handshake each.
import { KubeConfig } from '@kubernetes/client-node';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { issueCa, issueServing } from '../../../operator/eviction-guard/certificates.js';
import { kubeClients } from '../../../operator/kube-client.js';
import { OperatorMetrics } from '../../../operator/operator-metrics.js';

let server: Server;
let connections = 0;
let kc: KubeConfig;

beforeAll(async () => {
  const now = new Date();
  const ca = await issueCa('test-ca', now, 3_600_000);
  const serving = await issueServing(ca, ['localhost'], ['127.0.0.1'], now, 3_600_000);
  server = createServer({ cert: serving.cert, key: serving.key }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'agent-0', namespace: 'voice', resourceVersion: '1' } }));
    });
  });
  server.on('secureConnection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caData: Buffer.from(ca.cert).toString('base64') }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('API requests share keep-alive connections: no TLS handshake per request', async () => {
  const clients = kubeClients(kc, new OperatorMetrics(new Registry()), 5_000);
  for (let i = 0; i < 5; i++) await clients.core.readNamespacedPod({ name: 'agent-0', namespace: 'voice' });
  // Eight at once, as a converge's label patches go: at most eight connections, kept for what follows.
  await Promise.all(Array.from({ length: 8 }, () => clients.core.patchNamespacedPod({ name: 'agent-0', namespace: 'voice', body: { metadata: { labels: { a: 'b' } } } })));
  const afterBurst = connections;
  for (let i = 0; i < 5; i++) await clients.core.readNamespacedPod({ name: 'agent-0', namespace: 'voice' });
  expect(afterBurst).toBeLessThanOrEqual(8);
  expect(connections).toBe(afterBurst);
});
