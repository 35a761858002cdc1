// The preStop hook of examples/voice-agent-deployment.yaml, run as the
// kubelet would run it (its exact command, with the pod's environment),
// against a real router: it returns only once the pod's calls are released,
// and gives up at once on a wrong token. It needs only an agent token, the
// scope that can do nothing but this. Kubernetes itself is not involved
// here; the e2e suite shows the pod side on the local control plane.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { Credentials } from '../../../api/credentials.js';
import { silentLogger } from '../../../core/logger.js';
import { packageRoot } from '../../../core/paths.js';
import { serve, type TestServer } from '../../support/http.js';
import { isolatedStore, pool, routerApp, sharedTestRedis, type TestRouter } from '../../support/routing.js';

const AGENT = 'agent-token-0123456789abcdef';
const ROUTING = 'routing-token-0123456789abcdef';
const redis = sharedTestRedis();
let dir: string;
let credentials: Credentials;
let router: TestRouter;
let http: TestServer;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smart-router-tokens-'));
  writeFileSync(join(dir, 'agent'), `${AGENT}\n`);
  writeFileSync(join(dir, 'routing'), `${ROUTING}\n`);
  credentials = Credentials.open({ tokensDir: dir, reloadMs: 60_000 }, silentLogger());
  router = routerApp(isolatedStore(redis), { credentials });
  await router.store.syncPool(pool('standard', { capacity: 2, replicas: 1 }), [{ pod: 'voice-agent-1', ready: true, draining: false, incarnation: 'u:0' }]);
  http = await serve(router.app);
});
afterEach(async () => {
  await http.close();
  credentials.close();
  rmSync(dir, { recursive: true, force: true });
});

function preStopCommand(): string[] {
  const doc = yaml.load(readFileSync(join(packageRoot, 'examples', 'voice-agent-deployment.yaml'), 'utf8')) as {
    spec: { template: { spec: { containers: { lifecycle: { preStop: { exec: { command: string[] } } } }[] } } };
  };
  return doc.spec.template.spec.containers[0]!.lifecycle.preStop.exec.command;
}

function runHook(token: string): { done: Promise<{ code: number | null; stderr: string }>; exited: () => boolean } {
  const [cmd, ...args] = preStopCommand();
  const child = spawn(cmd!, args, { env: { PATH: process.env.PATH, POD_NAME: 'voice-agent-1', SMART_ROUTER_URL: http.url, SMART_ROUTER_TOKEN: token } });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let exited = false;
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('exit', (code) => {
      exited = true;
      resolve({ code, stderr });
    }),
  );
  return { done, exited: () => exited };
}

const allocate = (sid: string) => http.post('/api/v1/allocate', { call_sid: sid }, { authorization: `Bearer ${ROUTING}` });
const release = (sid: string) => http.post('/api/v1/release', { call_sid: sid }, { authorization: `Bearer ${ROUTING}` });

test('the hook holds the pod while it has calls, drains it from the first request, and returns 0 once the last call is released', async () => {
  await allocate('call-1');
  await allocate('call-2');
  const hook = runHook(AGENT);
  for (let i = 0; i < 100 && !(await router.store.podState('voice-agent-1'))?.draining; i++) await new Promise((r) => setTimeout(r, 20));
  expect((await allocate('call-3')).status).toBe(503); // the only pod is draining
  await release('call-1');
  await new Promise((r) => setTimeout(r, 1000));
  expect(hook.exited()).toBe(false);
  await release('call-2');
  expect(await hook.done).toEqual({ code: 0, stderr: '' });
});

test('a wrong token ends the hook at once with the status it got, instead of holding the pod for its grace period', async () => {
  await allocate('call-1');
  const { code, stderr } = await runHook('wrong-token-0123456789abcdef').done;
  expect(code).toBe(1);
  expect(stderr).toContain('smart-router wait-idle answered 401');
});

test('a token of another scope ends the hook at once with 403, and leaves the pod taking calls', async () => {
  await allocate('call-1');
  const { code, stderr } = await runHook(ROUTING).done;
  expect(code).toBe(1);
  expect(stderr).toContain('smart-router wait-idle answered 403');
  expect((await router.store.podState('voice-agent-1'))?.draining).toBe(false);
});
