// The chart's pod-addressed WebSocket ingress, for real: Debian's nginx runs
// the config the chart renders, with the pod upstream pointed at local echo
// servers instead of pod DNS, and the router upstream at the real router app
// over a real Redis. A second nginx in front terminates TLS, as a cloud load
// balancer would, so provider signatures over https:// URLs are checked as
// they arrive in production.
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { loadAll } from 'js-yaml';
import { Credentials } from '../../api/credentials.js';
import { silentLogger } from '../../core/logger.js';
import { packageRoot } from '../../core/paths.js';
import { routingKeys } from '../../lua/keys.js';
import { WebhookNonces } from '../../lua/webhook-nonces.js';
import { freePort } from '../../tools/local-redis.js';
import { CLUSTER_DIR, waitFor } from '../../tools/kubectl.js';
import { plivoRequest, twilioRequest, type SignedRequest } from '../../test/support/provider-signing.js';
import { exampleFleet, isolatedStore, loadFleet, routerApp, sharedTestRedis } from '../../test/support/routing.js';
import { echoServer, webSocketRoundTrip, type EchoServer } from '../../test/support/websocket.js';

const HELM = join(CLUSTER_DIR, 'bin', 'helm');
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => {
  try {
    execFileSync(p, ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});
const PUBLIC_HOST = 'router.example.test';
const TWILIO_TOKEN = 'twilio-ingress-token';
const PLIVO_TOKEN = 'plivo-ingress-token';
const ADMIN = 'ingress-admin-token-0123456789';
const ROUTING = 'ingress-routing-token-012345678';

const redis = sharedTestRedis();
let agents: EchoServer[];
let api: Server;
/** Paths as they reached the router: what the ingress let through, spelled as it sent them. */
const reached: string[] = [];
let nginx: ChildProcess[] = [];
let port: number;
let tlsPort: number;
let dir: string;
let cert: string;

async function startNginx(conf: string): Promise<void> {
  const file = join(dir, `${randomUUID()}.conf`);
  writeFileSync(file, conf);
  execFileSync(NGINX!, ['-t', '-e', join(dir, 'error.log'), '-p', dir, '-c', file], { stdio: 'pipe' });
  nginx.push(spawn(NGINX!, ['-e', join(dir, 'error.log'), '-p', dir, '-c', file, '-g', 'daemon off;'], { stdio: 'ignore' }));
}

beforeAll(async () => {
  if (!NGINX) throw new Error('nginx is not installed: make test installs it (hack/install-packages.sh)');
  agents = await Promise.all([echoServer('agent-0'), echoServer('agent-1')]);
  dir = mkdtempSync(join(tmpdir(), 'smart-router-nginx-'));

  // The real router: tokens, provider secrets, PUBLIC_URL as the chart requires it, nonces in Redis.
  writeFileSync(join(dir, 'admin'), `${ADMIN}\n`);
  writeFileSync(join(dir, 'routing'), `${ROUTING}\n`);
  const credentials = Credentials.open({ tokensDir: dir, reloadMs: 60_000 }, silentLogger());
  const store = isolatedStore(redis);
  await loadFleet(store, exampleFleet());
  const { app } = routerApp(store, {
    credentials,
    telephony: {
      publicUrl: `https://${PUBLIC_HOST}`,
      verifySignatures: true,
      twilioAuthToken: TWILIO_TOKEN,
      plivoAuthToken: PLIVO_TOKEN,
      failureMessage: 'busy',
      plivoNonceTtlSeconds: 900,
      credentials,
      nonces: new WebhookNonces(redis, routingKeys(`t-nonce-${randomUUID().slice(0, 8)}`)),
    },
  });
  api = createServer((req, res) => {
    reached.push(req.url ?? '');
    app(req, res);
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));

  port = await freePort();
  const values = [
    'redis.url=redis://127.0.0.1:6379',
    'auth.existingSecret=tokens',
    `wsIngress.containerPort=${port}`,
    `wsIngress.tempDir=${dir}`,
    `wsIngress.errorLog=${dir}/error.log`,
    `wsIngress.accessLog=${dir}/access.log`,
    'wsIngress.resolver=127.0.0.1',
    'wsIngress.podUpstream=127.0.0.1:$pod_port',
    `wsIngress.apiUpstream=127.0.0.1:${(api.address() as AddressInfo).port}`,
  ];
  const map = `map $pod $pod_port { voice-agent-0 ${agents[0]!.port}; voice-agent-1 ${agents[1]!.port}; default 9; }`;
  const rendered = execFileSync(HELM, ['template', 'r', join(packageRoot, 'charts/smart-router'), '--kube-version', '1.36.3', '--show-only', 'templates/ws-ingress.yaml', ...values.flatMap((v) => ['--set', v]), '--set-string', `wsIngress.extraHttpConfig=${map}`], { encoding: 'utf8' });
  const configMap = (loadAll(rendered) as { kind: string; data?: Record<string, string> }[]).find((d) => d?.kind === 'ConfigMap')!;
  await startNginx(configMap.data!['nginx.conf']!);

  // A TLS-terminating load balancer in front of the chart's nginx: a certificate made here, for the public name.
  tlsPort = await freePort();
  cert = join(dir, 'tls.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'tls.key'), '-out', cert, '-days', '1', '-subj', `/CN=${PUBLIC_HOST}`, '-addext', `subjectAltName=DNS:${PUBLIC_HOST}`], { stdio: 'pipe' });
  await startNginx(`
    pid ${dir}/lb.pid;
    events { worker_connections 64; }
    http {
      access_log off;
      client_body_temp_path ${dir}/lb_body; proxy_temp_path ${dir}/lb_proxy; fastcgi_temp_path ${dir}/lb_fcgi; uwsgi_temp_path ${dir}/lb_uwsgi; scgi_temp_path ${dir}/lb_scgi;
      server {
        listen 127.0.0.1:${tlsPort} ssl;
        ssl_certificate ${cert};
        ssl_certificate_key ${dir}/tls.key;
        location / {
          proxy_pass http://127.0.0.1:${port};
          proxy_set_header Host $host;
          proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
      }
    }`);
  await waitFor('nginx listening', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 10_000, 100);
  await waitFor('TLS front listening', async () => (await viaTls('GET', '/healthz')).status === 200, 10_000, 100);
}, 60_000);

afterAll(async () => {
  for (const n of nginx) n.kill('SIGQUIT');
  await Promise.all(agents?.map((a) => a.close()) ?? []);
  api?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: string;
}

/** A request as written, path and all: no client-side normalization of ../ or %2F. */
function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { ...headers, ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Through the TLS front, as a provider calls https://router.example.test/... */
function viaTls(method: string, path: string, signed?: SignedRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { host: PUBLIC_HOST, ...(signed?.headers ?? {}), ...(signed ? { 'content-length': String(Buffer.byteLength(signed.body)) } : {}) };
    const req = httpsRequest({ host: '127.0.0.1', port: tlsPort, servername: PUBLIC_HOST, ca: execFileSync('cat', [cert]), method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(signed?.body);
  });
}

test('a WebSocket to /ws/pod/<pod>/<call> reaches that pod, upgraded, both ways', async () => {
  const one = await webSocketRoundTrip(port, '/ws/pod/voice-agent-1/CA123', 'hello');
  expect(one).toEqual({ status: '101', reply: 'agent-1 /ws/pod/voice-agent-1/CA123 hello' });
  const zero = await webSocketRoundTrip(port, '/ws/pod/voice-agent-0/CA456?codec=mulaw', 'audio');
  expect(zero).toEqual({ status: '101', reply: 'agent-0 /ws/pod/voice-agent-0/CA456?codec=mulaw audio' });
  expect(agents[1]!.paths).toEqual(['/ws/pod/voice-agent-1/CA123']);
});

test('a pod that does not answer is a 502, never another pod', async () => {
  const before = agents.map((a) => a.paths.length);
  const res = await webSocketRoundTrip(port, '/ws/pod/voice-agent-9/CA789', 'x');
  expect(res.status).toMatch(/^HTTP\/1\.1 502/);
  expect(agents.map((a) => a.paths.length)).toEqual(before);
});

test('unknown paths and names no pod can have are refused', async () => {
  for (const path of ['/ws/pod/Voice_Agent/CA1', '/ws/pod/voice-agent-1/', '/ws/pod/../etc/passwd', '/ws/other/x', '/', '/admin']) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    expect([path, res.status]).toEqual([path, 404]);
  }
});

test('the admin and call API never leaves the cluster: refused at the ingress even with valid tokens, however the path is spelled', async () => {
  const before = reached.length;
  const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  const routing = { authorization: `Bearer ${ROUTING}`, 'content-type': 'application/json' };
  const attempts: [string, string, Record<string, string>, string?][] = [
    ['POST', '/api/v1/drain', admin, '{"pod_name":"voice-agent-1"}'],
    ['POST', '/api/v1/undrain', admin, '{"pod_name":"voice-agent-1"}'],
    ['GET', '/api/v1/status', admin],
    ['GET', '/api/v1/pod/voice-agent-1', admin],
    ['POST', '/api/v1/allocate', routing, '{"call_sid":"from-outside"}'],
    ['POST', '/api/v1/release', routing, '{"call_sid":"from-outside"}'],
    ['GET', '/api/v1/openapi.json', {}],
    ['GET', '/metrics', {}],
    ['GET', '/health', {}],
    ['GET', '/ready', {}],
    ['POST', '/api/v1/twilio/../drain', admin, '{"pod_name":"voice-agent-1"}'],
    ['POST', '/api/v1/twilio/allocate/../../drain', admin, '{"pod_name":"voice-agent-1"}'],
    ['POST', '/api/v1/twilio/allocate%2F..%2F..%2Fdrain', admin, '{"pod_name":"voice-agent-1"}'],
    ['POST', '/api/v1//drain', admin, '{"pod_name":"voice-agent-1"}'],
    ['POST', '/api/v1/Twilio/allocate', {}],
    ['POST', '/api/v1/twilio/allocate/x', {}],
    ['GET', '/api/v1/pod/voice-agent-1?x=/api/v1/twilio/allocate', admin],
  ];
  for (const [method, path, headers, body] of attempts) {
    const res = await raw(method, path, headers, body);
    expect([method, path, res.status, res.body]).toEqual([method, path, 404, '{"error":"not found"}']);
  }
  expect(reached.slice(before)).toEqual([]);
  expect((await viaTls('GET', '/api/v1/status')).status).toBe(404);
});

test('the provider webhooks reach the router by their normalized path only', async () => {
  const before = reached.length;
  const res = await raw('POST', '/api/v1/twilio/./allocate?tier=basic', { 'content-type': 'application/x-www-form-urlencoded' }, 'CallSid=CAunsigned');
  expect(res.status).toBe(403); // reached the router, which wants a signature
  expect(reached.slice(before)).toEqual(['/api/v1/twilio/allocate?tier=basic']);
});

test('behind a load balancer that terminates TLS, a Twilio request signed over its https:// URL is verified and streams to a pod', async () => {
  const path = '/api/v1/twilio/allocate';
  const signed = twilioRequest(TWILIO_TOKEN, `https://${PUBLIC_HOST}${path}`, { CallSid: 'CAtls-1' });
  const res = await viaTls('POST', path, signed);
  expect(res.status).toBe(200);
  expect(res.body).toMatch(/<Connect><Stream url="wss:\/\/voice\.example\.test\/ws\/pod\/voice-agent-\d\/CAtls-1">/);
  // Signed over http:// (what the router itself sees), it is refused: the router checks the URL the provider called.
  const wrongScheme = twilioRequest(TWILIO_TOKEN, `http://${PUBLIC_HOST}${path}`, { CallSid: 'CAtls-2' });
  expect((await viaTls('POST', path, wrongScheme)).status).toBe(403);
});

test('a replayed Plivo webhook is refused through the ingress', async () => {
  const path = '/api/v1/plivo/allocate';
  const signed = plivoRequest(PLIVO_TOKEN, `https://${PUBLIC_HOST}${path}`, { CallUUID: 'p-tls-replay' });
  const first = await viaTls('POST', path, signed);
  expect(first.status).toBe(200);
  expect(first.body).toContain('<Stream');
  const again = await viaTls('POST', path, signed);
  expect(again).toEqual({ status: 403, body: JSON.stringify({ error: 'replayed request' }) });
});
