// The chart's pod-addressed WebSocket ingress, for real: Debian's nginx runs
// the config the chart renders, with the pod upstream pointed at local echo
// servers instead of pod DNS.
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { packageRoot } from '../../core/paths.js';
import { freePort } from '../../tools/local-redis.js';
import { CLUSTER_DIR, waitFor } from '../../tools/kubectl.js';
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

let agents: EchoServer[];
let api: Server;
let nginx: ChildProcess;
let port: number;
let dir: string;

beforeAll(async () => {
  if (!NGINX) throw new Error('nginx is not installed: make test installs it (hack/install-packages.sh)');
  agents = await Promise.all([echoServer('agent-0'), echoServer('agent-1')]);
  api = createServer((req, res) => res.setHeader('content-type', 'application/json').end(JSON.stringify({ via: 'router', path: req.url, host: req.headers['x-forwarded-host'] })));
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'smart-router-nginx-'));
  const values = [
    'redis.url=redis://127.0.0.1:6379',
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
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, configMap.data!['nginx.conf']!);
  execFileSync(NGINX, ['-t', '-e', join(dir, 'error.log'), '-p', dir, '-c', conf], { stdio: 'pipe' });
  nginx = spawn(NGINX, ['-e', join(dir, 'error.log'), '-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
  await waitFor('nginx listening', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 10_000, 100);
}, 60_000);

afterAll(async () => {
  nginx?.kill('SIGQUIT');
  await Promise.all(agents?.map((a) => a.close()) ?? []);
  api?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

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

test('/api/v1/ goes to smart-router', async () => {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/status`);
  expect(await res.json()).toEqual({ via: 'router', path: '/api/v1/status', host: `127.0.0.1:${port}` });
});
